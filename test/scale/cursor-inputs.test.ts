// The score job reads the period's returns by cursor into compact columns (results/compute.ts
// loadInputs → services/returns.ts latestReturnFacts). Whatever the state of a unit — several
// revisions, the latest rejected, late, never submitted, hidden behind a batch still in flight, in a
// committed batch not yet rolled forward, inactive, a return of a unit that is not listed — its input
// must be exactly what the previous whole-period read (periodReturns) gave, and so must the stored rows.
import { expect } from 'chai';
import type { Types } from 'mongoose';
import { FIELD_KEYS, type ReturnValues } from '../../server/domain/fields.ts';
import type { UnitInput } from '../../server/domain/scoring/score.ts';
import type { TestApp } from '../helpers/app.ts';
import { createUnits, startWithAdmin, UNITS, vals } from '../intake/helpers.ts';

describe('scale: score job inputs read by cursor', () => {
  let t: TestApp;
  let admin: string;
  const P = '2026Q4';

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin, [...UNITS, { code: 'D004', name: '省财政厅', category: 'department' }, { code: 'D005', name: '省民政厅', category: 'department' }]);
  });
  after(async () => {
    const { clock } = await import('../../server/clock.ts');
    clock.set(null);
    await t?.stop();
  });

  /** The previous loadInputs: every revision of the period read at once (periodReturns), then per listed unit. */
  async function wholePeriodInputs(period: string) {
    const { periodReturns } = await import('../../server/services/returns.ts');
    const { listUnitInputs } = await import('../../server/services/units.ts');
    const returns = await periodReturns(period);
    const units: UnitInput[] = [];
    const revisions = new Map<string, number | null>();
    for (const u of await listUnitInputs()) {
      const r = returns.get(u.code)?.latest;
      const rejected = r?.status === 'rejected';
      const values = r ? (Object.fromEntries(FIELD_KEYS.map((k) => [k, Number((r.values as Record<string, unknown>)[k])])) as ReturnValues) : null;
      units.push({ unit: u.code, name: u.name, category: u.category, active: u.active, values, rejected, late: r?.late ?? false });
      revisions.set(u.code, r && !rejected ? r.revision : null);
    }
    units.sort((a, b) => (a.unit < b.unit ? -1 : 1));
    return { units, revisions };
  }

  it('gives every unit the input the whole-period read gave, in every state, and the same stored rows', async () => {
    const { clock } = await import('../../server/clock.ts');
    const { ReturnRevision } = await import('../../server/models/return-revision.ts');
    const { UploadBatch } = await import('../../server/models/upload-batch.ts');
    const { Unit } = await import('../../server/models/unit.ts');
    const returns = await import('../../server/services/returns.ts');
    const { computeAndStore, loadInputs, scoreInputs } = await import('../../server/results/compute.ts');
    const { readPointer, readRows } = await import('../../server/results/store.ts');
    const { currentScheme } = await import('../../server/services/scheme.ts');
    const reviewer = await t.tokenFor('reviewer');
    const put = async (unit: string, i: number) => {
      const r = await t.api(admin).put(`/api/v1/returns/${P}/${unit}`, { values: vals(i) });
      expect(r.status, r.text).to.equal(200);
    };
    const review = async (unit: string, decision: string) => {
      const r = await t.api(reviewer).post(`/api/v1/returns/${P}/${unit}/review`, { decision, reason: decision === 'reject' ? '数据有误' : undefined });
      expect(r.status, r.text).to.equal(200);
    };
    // D001: two revisions, the latest rejected. D002: first submitted after the deadline (late), approved.
    await put('D001', 1);
    await put('D001', 2);
    await review('D001', 'reject');
    clock.set(() => new Date('2027-01-20T02:00:00Z'));
    try {
      await returns.submitValues({ username: 'late-admin', role: 'admin' }, P, 'D002', vals(3), 'api');
    } finally {
      clock.set(null);
    }
    await review('D002', 'approve');
    // D003: nothing. C0571: revision 1 only in a batch still in flight (invisible).
    const [live] = (await UploadBatch.create([{ period: P, status: 'pending', source: 'excel', createdBy: 'other', createdAt: new Date(), rows: [{ unit: 'C0571', row: 3, values: vals(4) }], owner: { host: 'elsewhere', pid: 1 }, leaseAt: new Date() }] as never[])) as unknown as { _id: Types.ObjectId }[];
    await ReturnRevision.create([{ unit: 'C0571', period: P, revision: 1, values: vals(4), source: 'excel', submittedBy: 'other', submittedAt: new Date(), batch: live!._id, committed: false }] as never[]);
    // X330102: revision 1 in a committed batch whose roll-forward has not run (visible), revision 2 in flight.
    const [done] = (await UploadBatch.create([{ period: P, status: 'committed', source: 'excel', createdBy: 'other', createdAt: new Date(), rows: [{ unit: 'X330102', row: 3, values: vals(5) }], accepted: [{ unit: 'X330102', revision: 1 }], committedAt: new Date() }] as never[])) as unknown as { _id: Types.ObjectId }[];
    await ReturnRevision.create([{ unit: 'X330102', period: P, revision: 1, values: vals(5), source: 'excel', submittedBy: 'other', submittedAt: new Date(), batch: done!._id, committed: false }] as never[]);
    await ReturnRevision.create([{ unit: 'X330102', period: P, revision: 2, values: vals(6), source: 'excel', submittedBy: 'other', submittedAt: new Date(), batch: live!._id, committed: false }] as never[]);
    // D004: a return, then the unit made inactive. D005: three revisions, approved then resubmitted.
    await put('D004', 7);
    await Unit.updateOne({ code: 'D004' }, { $set: { active: false } });
    await put('D005', 8);
    await review('D005', 'approve');
    await put('D005', 9);
    await put('D005', 10);
    // A return of a unit that is not listed (removed after it reported): never an input.
    await ReturnRevision.create([{ unit: 'D999', period: P, revision: 1, values: vals(11), source: 'api', submittedBy: 'x', submittedAt: new Date(), committed: true }] as never[]);
    await t.settle();

    clock.set(() => new Date('2027-01-25T02:00:00Z')); // after the deadline: missing units are missing
    try {
      const check = async (expectRevisions: Record<string, number | null>) => {
        const inputs = await loadInputs(P);
        const old = await wholePeriodInputs(P);
        const units = [...inputs.units()];
        expect(units).to.deep.equal(old.units);
        expect(inputs.size).to.equal(old.units.length);
        for (const u of old.units) {
          expect(inputs.unit(u.unit), u.unit).to.deep.equal(u);
          expect(inputs.revisions.get(u.unit), u.unit).to.equal(old.revisions.get(u.unit));
        }
        expect(inputs.unit('D999')).to.equal(undefined);
        expect(Object.fromEntries(old.units.map((u) => [u.unit, inputs.revisions.get(u.unit)]))).to.deep.equal(expectRevisions);
        // The states are what this test means them to be.
        const byUnit = new Map(units.map((u) => [u.unit, u]));
        expect(byUnit.get('D001')!.rejected).to.equal(true);
        expect(byUnit.get('D002')!.late).to.equal(true);
        expect(byUnit.get('D003')!.values).to.equal(null);
        expect(byUnit.get('D004')!.active).to.equal(false);
        expect(byUnit.get('D005')!.values).to.deep.equal(vals(10));
        // And the job stores what scoring these inputs gives.
        const w = await computeAndStore(P);
        expect(w.written).to.equal(true);
        const pointer = await readPointer(P);
        const rows = await readRows(P, pointer!.computeId);
        const scored = scoreInputs((await currentScheme()).scheme, inputs);
        expect(JSON.stringify(rows.map(({ revision, ...r }) => (void revision, r)))).to.equal(JSON.stringify(scored.results));
        for (const r of rows) expect(r.revision, r.unit).to.equal(old.revisions.get(r.unit));
      };
      await check({ C0571: null, D001: null, D002: 1, D003: null, D004: 1, D005: 3, X330102: 1 });
      // The batch in flight commits: C0571 and X330102 now show its revisions.
      await UploadBatch.updateOne({ _id: live!._id }, { $set: { status: 'committed', committedAt: new Date() } });
      await check({ C0571: 1, D001: null, D002: 1, D003: null, D004: 1, D005: 3, X330102: 2 });
    } finally {
      clock.set(null);
    }
  });
});
