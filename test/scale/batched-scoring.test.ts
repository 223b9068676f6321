// The score job in two passes (rank everything keeping only unit, category and exact total; then build,
// store and drop rows and explanations batch by batch) gives exactly what the one-pass scorePeriod gives:
// in the pure core for any batch size, and in the stored rows of a generated province of 2 000 units.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { scaleReturns, scaleUnits, scaleWorkbook } from '../../bench/scale.ts';
import { AppError } from '../../server/domain/errors.ts';
import { rankPeriod, scoreBatch, scorePeriod, type UnitInput } from '../../server/domain/scoring/score.ts';
import { ResultRow } from '../../server/models/result.ts';
import { Unit } from '../../server/models/unit.ts';
import { computeAndStore, loadInputs, rankInputs, scoreInputs, scoredBatches } from '../../server/results/compute.ts';
import { unpackExplanation } from '../../server/results/explanation-store.ts';
import { readPointer, readRows } from '../../server/results/store.ts';
import { currentScheme } from '../../server/services/scheme.ts';
import { uploadAndCommit } from '../../server/services/uploads.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at } from '../results/fixtures.ts';

const PREV = '2026Q2'; // deadline 2026-07-15
const P = '2026Q3'; // deadline 2026-10-15
const N = 2000;
const admin = { username: 'scale-admin', role: 'admin' as const };

// What storing an object gives back (BSON: undefined → null), as the explanation view reads it.
const asStored = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (v === undefined ? null : v)));

describe('scale: batched scoring equals scorePeriod', function () {
  this.timeout(120_000);

  describe('pure core', () => {
    const scheme = async () => (await currentScheme()).scheme;
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ periods: [] });
    });
    after(() => t.stop());

    function inputs(n: number): UnitInput[] {
      const units = scaleUnits(n);
      const rets = new Map(scaleReturns(units, { seed: 3, missingRate: 0.1 }).map((r) => [r.code, r.values]));
      return units.map((u, i) => ({
        unit: u.code,
        name: u.name,
        category: u.category,
        active: i % 37 !== 5,
        values: rets.get(u.code) ?? null,
        rejected: i % 23 === 4,
        late: i % 11 === 2,
      }));
    }

    it('rankPeriod + scoreBatch over the order gives scorePeriod’s results and explanations, for any batch size', async () => {
      const s = await scheme();
      const units = inputs(600).reverse(); // input order never matters
      const previous = units.filter((_, i) => i % 3 !== 0).map((u, i) => ({ unit: u.unit, category: i % 29 === 0 ? ('city' as const) : u.category, rank: (i % 40) + 1 }));
      for (const deadlinePassed of [false, true]) {
        const ctx = { deadlinePassed, previous };
        const whole = scorePeriod(s, units, ctx);
        const ranking = rankPeriod(s, units, ctx);
        expect(ranking.order).to.deep.equal(whole.results.map((r) => r.unit));
        const byUnit = new Map(units.map((u) => [u.unit, u]));
        for (const size of [1, 7, 250, 5000]) {
          const results = [];
          const explanations = [];
          for (let i = 0; i < ranking.order.length; i += size) {
            const b = scoreBatch(s, ranking, ranking.order.slice(i, i + size).map((u) => byUnit.get(u)!), ctx);
            results.push(...b.results);
            explanations.push(...b.explanations);
          }
          expect(JSON.stringify(results), `size ${size}`).to.equal(JSON.stringify(whole.results));
          expect(JSON.stringify(explanations), `size ${size}`).to.equal(JSON.stringify(whole.explanations));
        }
        const rowsOnly = scoreBatch(s, ranking, units.filter((u) => u.active !== false), ctx, { explain: false });
        expect(rowsOnly.explanations).to.deep.equal([]);
        expect(rowsOnly.results.length).to.equal(whole.results.length);
      }
    });

    it('rankPeriod rejects what scorePeriod rejects; scoreBatch refuses units it did not rank', async () => {
      const s = await scheme();
      const units = inputs(20);
      const ctx = { deadlinePassed: true };
      const code = (fn: () => unknown) => {
        try {
          fn();
        } catch (err) {
          return (err as AppError).code;
        }
        return null;
      };
      const dup = [...units, { ...units[3]! }];
      expect(code(() => rankPeriod(s, dup, ctx))).to.equal('duplicate_unit').and.equal(code(() => scorePeriod(s, dup, ctx)));
      const bad = [...units, { ...units[0]!, unit: 'Z1', category: 'province' as never }];
      expect(code(() => rankPeriod(s, bad, ctx))).to.equal('invalid_category').and.equal(code(() => scorePeriod(s, bad, ctx)));
      const ranking = rankPeriod(s, units, ctx);
      const inactive = units.find((u) => u.active === false)!;
      expect(code(() => scoreBatch(s, ranking, [{ ...units[0]!, unit: 'NOPE' }], ctx))).to.equal('unit_not_ranked');
      expect(code(() => scoreBatch(s, ranking, [inactive], ctx))).to.equal('unit_not_ranked');
    });
  });

  describe(`stored rows of a generated province (${N} units)`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ periods: [PREV, P] });
      const units = scaleUnits(N);
      await Unit.insertMany(units.map((u, i) => ({ ...u, active: i % 97 !== 13 })), { lean: true });
      const inactive = new Set(units.filter((_, i) => i % 97 === 13).map((u) => u.code));
      const returnsOf = (seed: number, missingRate?: number) => scaleReturns(units, { seed, missingRate }).filter((r) => !inactive.has(r.code));
      // The previous quarter (for rank change), then this one: most returns on time, some late.
      at('2026-07-10T02:00:00Z');
      await uploadAndCommit(admin, PREV, await scaleWorkbook(returnsOf(5)), 'prev.xlsx');
      const rows = returnsOf(9, 0.05);
      at('2026-10-10T02:00:00Z');
      await uploadAndCommit(admin, P, await scaleWorkbook(rows.filter((_, i) => i % 9 !== 0)), 'on-time.xlsx');
      at('2026-10-20T02:00:00Z');
      await uploadAndCommit(admin, P, await scaleWorkbook(rows.filter((_, i) => i % 9 === 0)), 'late.xlsx');
      await t.settle();
      await computeAndStore(PREV);
    });
    after(() => t.stop());

    it('every stored row and explanation is what scorePeriod gives for the same inputs, in the same order', async () => {
      const w = await computeAndStore(P);
      expect(w.written).to.equal(true);
      const scheme = (await currentScheme()).scheme;
      const inputs = await loadInputs(P);
      const old = scoreInputs(scheme, inputs);
      expect(old.results.length).to.be.greaterThan(N * 0.95);
      // The inputs are varied: every flag, ranked and unranked rows, rank changes, several grades.
      const flags = new Set(old.results.flatMap((r) => r.flags));
      expect([...flags].sort()).to.deep.equal(['late', 'missing']);
      expect(old.results.some((r) => r.rankChange !== null && r.rankChange !== 0)).to.equal(true);
      expect(new Set(old.results.map((r) => r.grade)).size).to.be.at.least(3);

      const pointer = await readPointer(P);
      expect(String(pointer!.computeId)).to.equal(String(w.computeId));
      const rows = await readRows(P, w.computeId);
      expect(w.rows).to.equal(old.results.length);
      expect(JSON.stringify(rows.map(({ revision, ...r }) => (void revision, r)))).to.equal(JSON.stringify(old.results));
      for (const r of rows) expect(r.revision, r.unit).to.equal(inputs.revisions.get(r.unit) ?? null);

      const stored = await ResultRow.find({ period: P, computeId: w.computeId }, { _id: 0, order: 1, explain: 1 }).sort({ order: 1 }).lean();
      expect(stored.map((s) => s.order)).to.deep.equal(old.results.map((_, i) => i));
      expect(stored.map((s) => unpackExplanation(s.explain))).to.deep.equal(asStored(old.explanations));
      expect(await mongoose.connection.db!.collection('result_rows').countDocuments({ period: P })).to.equal(old.results.length);
    });

    it('the batches are built lazily: only the batch being stored is in memory', async () => {
      const scheme = (await currentScheme()).scheme;
      const inputs = await loadInputs(P);
      const ranking = await rankInputs(scheme, inputs);
      const gen = scoredBatches(scheme, inputs, ranking, { size: 500 });
      const sizes: number[] = [];
      for await (const b of gen) {
        sizes.push(b.results.length);
        expect(b.explanations.length).to.equal(b.results.length);
      }
      expect(sizes.slice(0, -1).every((s) => s === 500)).to.equal(true);
      expect(sizes.reduce((a, b) => a + b, 0)).to.equal(ranking.order.length);
    });
  });
});
