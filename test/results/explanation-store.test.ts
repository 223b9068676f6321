// A result row keeps its explanation packed (server/services/explanation-store.ts): the unit's
// explanation API must answer exactly what the scoring domain produced, and exactly what a row written
// before packing (the explanation stored as a plain object) answers.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { ResultRow, ResultSet } from '../../server/models/result.ts';
import { currentScheme } from '../../server/services/scheme.ts';
import { loadInputs, scoreInputs } from '../../server/results/compute.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, PERFECT, putUnit, ratios, runJob, submit, uniform, ZERO } from './fixtures.ts';

describe('results: packed explanations', function () {
  let t: TestApp;
  let admin: string;
  const P = '2026Q1';

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    const a = t.api(admin);
    for (const c of ['D1', 'D2', 'D3', 'D4', 'D5']) await putUnit(a, c, 'department');
    at('2026-04-10T02:00:00Z');
    await submit(a, P, 'D1', PERFECT);
    await submit(a, P, 'D2', uniform(17, 20));
    // Not-applicable indicators (zero denominators), networks_private = 0 (I3 counts as 1).
    await submit(a, P, 'D3', ratios({ i1: [3, 7], i4: [0, 0] }));
    await submit(a, P, 'D4', ZERO);
    at('2026-04-17T02:00:00Z'); // after the deadline: D5 is missing
    await runJob(t, admin, 'score', P);
  });
  after(() => t.stop());

  const explain = async (unit: string) => {
    const r = await t.api(admin).get(`/api/v1/results/${P}/units/${unit}/explain`);
    expect(r.status, r.text).to.equal(200);
    return r.body as Record<string, unknown>;
  };

  it('stores one Binary per row: the BSON bytes of the explanation', async () => {
    const set = await ResultSet.findOne({ period: P }).lean();
    const rows = await mongoose.connection.db!.collection('result_rows').find({ period: P, computeId: set!.computeId }).toArray();
    expect(rows).to.have.length(5);
    for (const row of rows) {
      expect(row.explain?._bsontype, row.unit).to.equal('Binary');
      const packed = (row.explain as mongoose.mongo.BSON.Binary).length();
      const { period, resultStatus, schemeVersion, revision, name, category, ...object } = await explain(row.unit);
      void period, resultStatus, schemeVersion, revision, name, category;
      expect(packed, row.unit).to.equal(mongoose.mongo.BSON.calculateObjectSize(object));
    }
  });

  it('answers the same explanation as a row that stores it as a plain object', async () => {
    const set = await ResultSet.findOne({ period: P }).lean();
    const before: Record<string, unknown> = {};
    for (const u of ['D1', 'D2', 'D3', 'D4', 'D5']) before[u] = await explain(u);
    expect(before.D3).to.have.nested.property('status');
    // Rewrite every row the way rows were written before packing (the domain object itself).
    for (const u of Object.keys(before)) {
      const { period, resultStatus, schemeVersion, revision, name, category, ...object } = before[u] as Record<string, unknown>;
      void period, resultStatus, schemeVersion, revision, name, category;
      const res = await ResultRow.collection.updateOne({ period: P, computeId: set!.computeId, unit: u }, { $set: { explain: object } });
      expect(res.modifiedCount, u).to.equal(1);
    }
    // The results cache does not hold explanations: the next reads come from the rewritten rows.
    for (const u of Object.keys(before)) expect(await explain(u), u).to.deep.equal(before[u]);
    const legacy = await mongoose.connection.db!.collection('result_rows').findOne({ period: P, computeId: set!.computeId, unit: 'D1' });
    expect(legacy?.explain?._bsontype).to.equal(undefined);
  });

  it("answers the scoring domain's explanation, field for field, for every unit (re-scored, packed again)", async () => {
    await runJob(t, admin, 'score', P);
    const scoring = scoreInputs((await currentScheme()).scheme, await loadInputs(P));
    expect(scoring.results.map((r) => r.unit)).to.have.members(['D1', 'D2', 'D3', 'D4', 'D5']);
    // What storing the object gave: BSON turns undefined into null, then JSON carries it.
    const asStored = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v) => (v === undefined ? null : v)));
    for (let i = 0; i < scoring.results.length; i++) {
      const unit = scoring.results[i]!.unit;
      const { period, resultStatus, schemeVersion, revision, name, category, ...got } = await explain(unit);
      void period, resultStatus, schemeVersion, revision, name, category;
      expect(got, unit).to.deep.equal(asStored(scoring.explanations[i]));
    }
    const d3 = await explain('D3');
    const inds = d3.indicators as { id: string; applicable: boolean }[];
    expect(inds.filter((x) => !x.applicable).map((x) => x.id)).to.include.members(['I2', 'I4']);
    expect((await explain('D5')).status).to.equal('missing');
  });
});
