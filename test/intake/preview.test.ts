// The upload preview reads the current state of all its units in one query (latestReturns) instead of
// one latestRevision() per row. Whatever the state of a unit — several revisions, reviewed, late,
// never submitted, hidden behind another batch still in flight, in a committed batch not yet rolled
// forward — the preview's "before" must be exactly what latestRevision() answers for that unit.
import { expect } from 'chai';
import type { Types } from 'mongoose';
import type { TestApp } from '../helpers/app.ts';
import { buildWorkbook, createUnits, harness, startWithAdmin, vals } from './helpers.ts';

describe('upload preview: current state of every unit in one read', () => {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let clock: Awaited<ReturnType<typeof harness>>['clock'];
  const P = '2026Q4';

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    clock = (await harness()).clock;
    reviewer = await t.tokenFor('reviewer');
    await createUnits(t, admin);
  });
  after(async () => {
    clock?.set(null);
    await t?.stop();
  });

  it('equals latestRevision() for each unit, in every state, and changes when the state does', async () => {
    const { ReturnRevision } = await import('../../server/models/return-revision.ts');
    const { UploadBatch } = await import('../../server/models/upload-batch.ts');
    const returns = await import('../../server/services/returns.ts');
    const uploads = await import('../../server/services/uploads.ts');
    const put = async (unit: string, i: number) => {
      const r = await t.api(admin).put(`/api/v1/returns/${P}/${unit}`, { values: vals(i) });
      expect(r.status, r.text).to.equal(200);
      return r.body.revision as number;
    };
    const review = (unit: string, decision: string) => t.api(reviewer).post(`/api/v1/returns/${P}/${unit}/review`, { decision, reason: decision === 'reject' ? '数据有误' : undefined });

    // D001: two revisions, the latest rejected. D002: first submitted after the deadline (late), approved.
    expect(await put('D001', 1)).to.equal(1);
    expect(await put('D001', 2)).to.equal(2);
    expect((await review('D001', 'reject')).status).to.equal(200);
    clock.set(() => new Date('2027-01-20T02:00:00Z'));
    try {
      expect((await returns.submitValues({ username: 'late-admin', role: 'admin' }, P, 'D002', vals(3), 'api')).revision).to.equal(1);
    } finally {
      clock.set(null);
    }
    expect((await review('D002', 'approve')).status).to.equal(200);
    // D003: nothing. C0571: revision 1 only in a batch still in flight (invisible).
    const [live] = (await UploadBatch.create([{ period: P, status: 'pending', source: 'excel', createdBy: 'other', createdAt: new Date(), rows: [{ unit: 'C0571', row: 3, values: vals(4) }], owner: { host: 'elsewhere', pid: 1 }, leaseAt: new Date() }] as never[])) as unknown as { _id: Types.ObjectId }[];
    await ReturnRevision.create([{ unit: 'C0571', period: P, revision: 1, values: vals(4), source: 'excel', submittedBy: 'other', submittedAt: new Date(), batch: live!._id, committed: false }] as never[]);
    // X330102: revision 1 in a committed batch whose roll-forward has not run (visible).
    const [done] = (await UploadBatch.create([{ period: P, status: 'committed', source: 'excel', createdBy: 'other', createdAt: new Date(), rows: [{ unit: 'X330102', row: 3, values: vals(5) }], accepted: [{ unit: 'X330102', revision: 1 }], committedAt: new Date() }] as never[])) as unknown as { _id: Types.ObjectId }[];
    await ReturnRevision.create([{ unit: 'X330102', period: P, revision: 1, values: vals(5), source: 'excel', submittedBy: 'other', submittedAt: new Date(), batch: done!._id, committed: false }] as never[]);

    const units = ['D001', 'D002', 'D003', 'C0571', 'X330102'];
    const rows = units.map((unit, i) => ({ unit, row: i + 3, values: vals(i === 0 ? 2 : 9) }));
    const check = async () => {
      const preview = await uploads.buildPreview(P, rows);
      const latest = await Promise.all(units.map((u) => returns.latestRevision(P, u)));
      expect(preview.map((x) => x.unit)).to.deep.equal(units);
      preview.forEach((x, i) => {
        const cur = latest[i]!;
        expect(x.currentRevision, x.unit).to.equal(cur?.revision ?? null);
        expect(x.currentStatus, x.unit).to.equal(cur?.status ?? null);
        expect(x.fields.map((f) => f.before), x.unit).to.deep.equal(x.fields.map((f) => (cur ? cur.values[f.key] : null)));
      });
      // And periodReturns (scoring's input) agrees with latestReturns for these units.
      const all = await returns.periodReturns(P);
      const some = await returns.latestReturns(P, [...units, 'D001']);
      expect([...some.keys()].sort()).to.deep.equal(units.filter((u) => all.has(u)).sort());
      for (const [u, r] of some) expect(r, u).to.deep.equal(all.get(u));
      units.forEach((u, i) => {
        expect(all.get(u)?.latest ?? null, u).to.deep.equal(latest[i]);
        if (latest[i]) expect(all.get(u)!.revisions, u).to.equal(latest[i]!.revision);
      });
      return preview;
    };

    const p1 = await check();
    expect(p1.map((x) => [x.currentRevision, x.currentStatus, x.changed])).to.deep.equal([
      [2, 'rejected', false],
      [1, 'approved', true],
      [null, null, true],
      [null, null, true],
      [1, 'submitted', true],
    ]);
    expect((await returns.latestRevision(P, 'D002'))!.late).to.equal(true);
    expect((await returns.latestReturns(P, ['D002'])).get('D002')!.latest.late).to.equal(true);

    // The batch in flight commits: C0571 now has revision 1. D003 gets a revision.
    await UploadBatch.updateOne({ _id: live!._id }, { $set: { status: 'committed', committedAt: new Date(), accepted: [{ unit: 'C0571', revision: 1 }] } });
    await put('D003', 6);
    const p2 = await check();
    expect(p2.map((x) => x.currentRevision)).to.deep.equal([2, 1, 1, 1, 1]);

    // Staged through the service, the preview is the same.
    const staged = await uploads.stageUpload({ username: 'stager', role: 'admin' }, P, await buildWorkbook(rows.map((r) => ({ code: r.unit, values: r.values }))), 'p.xlsx');
    expect(staged.preview.map((x) => [x.unit, x.currentRevision, x.currentStatus])).to.deep.equal(p2.map((x) => [x.unit, x.currentRevision, x.currentStatus]));
  });
});
