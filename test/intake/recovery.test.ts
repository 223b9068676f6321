// Start-up recovery and visibility, on states a crash leaves behind (built directly in the database):
// a batch whose commit record was written is visible whole and rolled forward; a batch that never
// committed is invisible and discarded (its numbers freed); a live foreign batch is left alone.
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.ts';
import { createUnits, startWithAdmin, vals } from './helpers.ts';

describe('batch recovery (recoverInterruptedBatches)', () => {
  let t: TestApp;
  let admin: string;
  let models: {
    ReturnRevision: typeof import('../../server/models/return-revision.ts').ReturnRevision;
    UploadBatch: typeof import('../../server/models/upload-batch.ts').UploadBatch;
    AuditLog: typeof import('../../server/models/audit-log.ts').AuditLog;
  };
  let recover: typeof import('../../server/services/returns.ts').recoverInterruptedBatches;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    models = {
      ReturnRevision: (await import('../../server/models/return-revision.ts')).ReturnRevision,
      UploadBatch: (await import('../../server/models/upload-batch.ts')).UploadBatch,
      AuditLog: (await import('../../server/models/audit-log.ts')).AuditLog,
    };
    recover = (await import('../../server/services/returns.ts')).recoverInterruptedBatches;
  });
  after(async () => {
    await t?.stop();
  });

  const P = '2026Q4';
  const rev = (unit: string, revision: number, batch: unknown, committed: boolean, i: number) => ({
    unit, period: P, revision, values: vals(i), source: 'excel', submittedBy: 'crashed', submittedAt: new Date(), batch, committed,
  });
  const batch = (status: string, owner: Record<string, unknown>, leaseAt: Date, accepted: { unit: string; revision: number }[] = []) => ({
    period: P, status, source: 'excel', createdBy: 'crashed', createdAt: new Date(), rows: accepted.map((a, i) => ({ unit: a.unit, row: i + 3, values: vals(i) })), owner, leaseAt, accepted,
  });

  it('rolls forward a committed batch, discards a dead one, leaves a live one; numbering stays gapless', async () => {
    const { ReturnRevision, UploadBatch, AuditLog } = models;
    // 1. Commit record written, roll-forward not done (revisions still committed:false).
    const [committed] = (await UploadBatch.create([batch('committed', { host: 'elsewhere', pid: 1 }, new Date(), [{ unit: 'D001', revision: 1 }, { unit: 'D002', revision: 1 }])] as never[])) as unknown as { _id: import("mongoose").Types.ObjectId }[];
    await ReturnRevision.create([rev('D001', 1, committed!._id, false, 1), rev('D002', 1, committed!._id, false, 2)] as never[]);
    // 2. Never committed, its owner's lease long expired.
    const [dead] = (await UploadBatch.create([batch('pending', { host: 'elsewhere', pid: 1, instance: 'x' }, new Date(Date.now() - 3600_000))] as never[])) as unknown as { _id: import("mongoose").Types.ObjectId }[];
    await ReturnRevision.create([rev('D001', 2, dead!._id, false, 3), rev('D003', 1, dead!._id, false, 4)] as never[]);
    // 3. Never committed, owned by a live process elsewhere (fresh lease).
    const [live] = (await UploadBatch.create([batch('pending', { host: 'elsewhere', pid: 1, instance: 'y' }, new Date())] as never[])) as unknown as { _id: import("mongoose").Types.ObjectId }[];
    await ReturnRevision.create([rev('C0571', 1, live!._id, false, 5)] as never[]);

    // Readers already see exactly the committed batch, whole.
    const seen = async () => ((await t.api(admin).get(`/api/v1/returns?period=${P}`)).body as { unit: string; revision: number }[]).map((r) => `${r.unit}#${r.revision}`).sort();
    expect(await seen()).to.deep.equal(['D001#1', 'D002#1']);

    const r = await recover();
    expect(r).to.deep.equal({ rolledForward: 1, discarded: 1 });
    expect(await seen()).to.deep.equal(['D001#1', 'D002#1']);
    // The roll-forward writes the audit entries only: the revisions were written once, and the commit
    // record alone made them visible.
    expect(await ReturnRevision.countDocuments({ batch: committed!._id, committed: false })).to.equal(2);
    expect((await UploadBatch.findById(committed!._id).lean())!.finalized).to.equal(true);
    expect(await AuditLog.countDocuments({ key: new RegExp(`^batch:${String(committed!._id)}:`) })).to.equal(2);
    expect((await UploadBatch.findById(dead!._id).lean())!.status).to.equal('discarded');
    expect(await ReturnRevision.countDocuments({ batch: dead!._id })).to.equal(0);
    expect((await UploadBatch.findById(dead!._id).lean())!.finalized).to.equal(true);
    expect((await UploadBatch.findById(live!._id).lean())!.status).to.equal('pending');
    expect(await ReturnRevision.countDocuments({ batch: live!._id })).to.equal(1);

    // Idempotent.
    expect(await recover()).to.deep.equal({ rolledForward: 0, discarded: 0 });
    expect(await AuditLog.countDocuments({ key: new RegExp(`^batch:${String(committed!._id)}:`) })).to.equal(2);

    // The freed numbers are reused: no gap.
    expect((await t.api(admin).put(`/api/v1/returns/${P}/D001`, { values: vals(9) })).body.revision).to.equal(2);
    expect((await t.api(admin).put(`/api/v1/returns/${P}/D003`, { values: vals(9) })).body.revision).to.equal(1);

    // When the live owner's lease runs out, the next writer for that unit discards it and goes on.
    await UploadBatch.updateOne({ _id: live!._id }, { $set: { leaseAt: new Date(Date.now() - 3600_000) } });
    expect((await t.api(admin).put(`/api/v1/returns/${P}/C0571`, { values: vals(9) })).body.revision).to.equal(1);
    expect((await UploadBatch.findById(live!._id).lean())!.status).to.equal('discarded');
  });

  it('a discard cut short (revisions left behind) is cleaned up; a batch committed under the old flip stays visible', async () => {
    const { ReturnRevision, UploadBatch } = models;
    const Q = '2026Q4';
    // Discarded, its revisions not yet deleted (killed between the two writes of discardBatch).
    const [gone] = (await UploadBatch.create([{ ...batch('discarded', { host: 'elsewhere', pid: 1 }, new Date()), discardedReason: 'x' }] as never[])) as unknown as { _id: import('mongoose').Types.ObjectId }[];
    await ReturnRevision.create([rev('X330102', 1, gone!._id, false, 6)] as never[]);
    // Committed and finalized before this protocol: its revisions carry committed:true.
    const [old] = (await UploadBatch.create([{ ...batch('committed', { host: 'elsewhere', pid: 1 }, new Date(), [{ unit: 'D002', revision: 2 }]), finalized: true }] as never[])) as unknown as { _id: import('mongoose').Types.ObjectId }[];
    await ReturnRevision.create([rev('D002', 2, old!._id, true, 7)] as never[]);
    const seen = async () => ((await t.api(admin).get(`/api/v1/returns?period=${Q}`)).body as { unit: string; revision: number }[]).map((r) => `${r.unit}#${r.revision}`);
    expect(await seen()).to.include('D002#2').and.not.include('X330102#1');
    expect(await recover()).to.deep.equal({ rolledForward: 0, discarded: 0 });
    expect(await ReturnRevision.countDocuments({ batch: gone!._id })).to.equal(0);
    expect((await UploadBatch.findById(gone!._id).lean())!.finalized).to.equal(true);
    expect(await seen()).to.include('D002#2').and.not.include('X330102#1');
    expect((await t.api(admin).get(`/api/v1/returns/${Q}/D002/revisions`)).body.map((r: { revision: number }) => r.revision)).to.deep.equal([1, 2]);
  });

  it('rolls forward a direct commit whose record holds no values: the audit entries take them from the revisions', async () => {
    const { ReturnRevision, UploadBatch, AuditLog } = models;
    const Q = '2026Q4';
    const accepted = [{ unit: 'D003', revision: 2 }, { unit: 'C0571', revision: 2 }];
    const [b] = (await UploadBatch.create([{ ...batch('committed', { host: 'elsewhere', pid: 1 }, new Date(), accepted), rows: accepted.map((a, i) => ({ unit: a.unit, row: i + 3 })), committedAt: new Date('2026-11-02T01:00:00Z') }] as never[])) as unknown as { _id: import('mongoose').Types.ObjectId }[];
    await ReturnRevision.create([rev('D003', 2, b!._id, false, 11), rev('C0571', 2, b!._id, false, 12)] as never[]);
    expect((await UploadBatch.collection.findOne({ _id: b!._id }))!.rows).to.deep.equal([{ unit: 'D003', row: 3 }, { unit: 'C0571', row: 4 }]);
    expect(await recover()).to.deep.equal({ rolledForward: 1, discarded: 0 });
    const entries = await AuditLog.find({ key: new RegExp(`^batch:${String(b!._id)}:`) }).sort({ entityId: 1 }).lean();
    expect(entries.map((e) => [e.entityId, e.after])).to.deep.equal([
      [`${Q}/C0571`, { revision: 2, values: vals(12), source: 'excel', batch: String(b!._id) }],
      [`${Q}/D003`, { revision: 2, values: vals(11), source: 'excel', batch: String(b!._id) }],
    ]);
    expect((await UploadBatch.findById(b!._id).lean())!.finalized).to.equal(true);
  });
});
