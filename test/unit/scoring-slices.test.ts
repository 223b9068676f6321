// The scoring core in slices (server/steps.ts): the score job's ranking pass and the annual results
// give the event loop back while they run, and give exactly what the synchronous forms give.
import { expect } from 'chai';
import fc from 'fast-check';
import { UNIT_CATEGORIES, type UnitCategory } from '../../server/domain/fields.ts';
import { scoreYear, scoreYearSteps, type QuarterRow } from '../../server/domain/scoring/annual.ts';
import { rankAndGrade, rankAndGradeSteps } from '../../server/domain/scoring/ranking.ts';
import { Rational } from '../../server/domain/scoring/rational.ts';
import { DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';
import { rankPeriod, rankPeriodSteps, type UnitInput } from '../../server/domain/scoring/score.ts';
import { runInSlices, type Steps } from '../../server/steps.ts';
import { worth } from '../domain/helpers.ts';

/** Runs `g` in the smallest slices; counts the event loop's turns (setImmediate callbacks) meanwhile. */
async function withTurns<T>(g: Steps<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = () => {
    turns++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  const value = await runInSlices(g, { sliceMs: 0 });
  on = false;
  return { value, turns };
}

const CATS = UNIT_CATEGORIES as readonly UnitCategory[];
const code = (i: number) => `U${String(i).padStart(5, '0')}`;

describe('scoring in slices', () => {
  it('ranks by the exact totals: 1 + the units of the category with a strictly higher total, for any totals', () => {
    // Ties across different-looking fractions, totals far beyond the safe integers, negative ones.
    const total = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 8 })).map(([n, d]) => Rational.of(n, d)),
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => Rational.of(n, 7n)),
      fc.integer({ min: 0, max: 4 }).map((k) => Rational.of(10n ** 20n + BigInt(k), 3n)), // equal as doubles, not as fractions
      fc.integer({ min: 0, max: 10000 }).map((n) => Rational.of(n, 100)),
    );
    const items = fc.array(fc.tuple(fc.constantFrom(...CATS), fc.option(total, { freq: 8 })), { maxLength: 60 });
    fc.assert(
      fc.property(items, (list) => {
        const input = list.map(([category, t], i) => ({ unit: code(i), category, total: t }));
        const placements = rankAndGrade(DEFAULT_SCHEME, input);
        for (const it of input) {
          const p = placements.get(it.unit)!;
          if (it.total === null) {
            expect(p.rank).to.equal(null);
            continue;
          }
          const higher = input.filter((o) => o.category === it.category && o.total !== null && o.total.cmp(it.total!) > 0).length;
          expect(p.rank, it.unit).to.equal(1 + higher);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the annual results let the event loop run while computed, and are the synchronous results', async () => {
    const units = Array.from({ length: 3000 }, (_, i) => ({ unit: code(i), name: `单位${i}`, category: CATS[i % CATS.length]! }));
    const quarters: Record<string, QuarterRow[]> = {};
    for (const [k, q] of ['2026Q1', '2026Q2', '2026Q3', '2026Q4'].entries()) {
      quarters[q] = units.filter((_, i) => (i + k) % 17 !== 0).map((u, i) => ({ unit: u.unit, total: ((i * 7919 + k * 13) % 10001) / 100, grade: i % 9 === 0 ? '不合格' : '良好' }));
    }
    const cases = units.filter((_, i) => i % 5 === 0).map((u) => ({ unit: u.unit, period: '2026Q2', rule: 'A1' as const, status: 'open' as const, dueAt: new Date('2026-08-01'), resolvedAt: null }));
    const input = { year: 2026, units, quarters, cases, now: new Date('2026-12-01') };
    const { value, turns } = await withTurns(scoreYearSteps(DEFAULT_SCHEME, input));
    expect(turns).to.be.greaterThan(10);
    expect(value).to.deep.equal(scoreYear(DEFAULT_SCHEME, input));
    expect(value.length).to.equal(3000);
  });

  it('the score job’s ranking pass lets the event loop run while computed, and is the synchronous ranking', async () => {
    const units: UnitInput[] = Array.from({ length: 3000 }, (_, i) => ({ unit: code(i), name: `单位${i}`, category: CATS[i % CATS.length]!, values: i % 23 === 0 ? null : worth(i % 2 ? 95 : (i * 37) % 101) }));
    const ctx = { deadlinePassed: true, previous: units.filter((_, i) => i % 3 === 0).map((u, i) => ({ unit: u.unit, category: u.category, rank: i + 1 })) };
    const { value, turns } = await withTurns(rankPeriodSteps(DEFAULT_SCHEME, units, ctx));
    expect(turns).to.be.greaterThan(10);
    const sync = rankPeriod(DEFAULT_SCHEME, units, ctx);
    expect(value.order).to.deep.equal(sync.order);
    expect([...value.placements]).to.deep.equal([...sync.placements]);
    expect([...value.placements.values()].some((p) => p.capped)).to.equal(true); // the quota took part
    const totals = units.map((u, i) => ({ unit: u.unit, category: u.category, total: i % 23 === 0 ? null : Rational.of((i * 37) % 101) }));
    const { value: alone, turns: alsoTurns } = await withTurns(rankAndGradeSteps(DEFAULT_SCHEME, totals));
    expect(alsoTurns).to.be.greaterThan(3);
    expect([...alone]).to.deep.equal([...rankAndGrade(DEFAULT_SCHEME, totals)]);
  });
});
