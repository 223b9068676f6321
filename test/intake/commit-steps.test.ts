// The commit protocol step by step (issue 19 item 4: each revision written once, made visible by the
// batch's commit record alone). A 1 100-row API upload makes a dozen writes or more: the original
// (GridFS), the batch, the revisions (2 commands), THE commit record, the audit entries (2 commands),
// `finalized`. Two properties, at every one of those steps:
// - readers — every reader of revisions (the period's list, one unit's history, the score job's
//   cursor, the period workbook's cursor, the plausibility history) — see the batch whole or not at all;
// - a process that dies there (from that write on nothing more is written: what SIGKILL leaves) is
//   recovered at the next start-up to the batch whole (commit record written) or absent, numbering
//   gapless, every visible revision audited once.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { scaleReturns, scaleUnits, scaleWorkbook } from '../../bench/scale.ts';
import { AuditLog } from '../../server/models/audit-log.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { UploadBatch } from '../../server/models/upload-batch.ts';
import { Unit } from '../../server/models/unit.ts';
import { latestReturnFacts, latestReturns, latestUsableValues, recoverInterruptedBatches, revisionsOf, streamPeriodReturns } from '../../server/services/returns.ts';
import { uploadAndCommit } from '../../server/services/uploads.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at } from '../results/fixtures.ts';

const P = '2026Q3';
const N = 1100;
const WRITES = ['insertOne', 'insertMany', 'updateOne', 'updateMany', 'deleteOne', 'deleteMany', 'bulkWrite', 'findOneAndUpdate', 'replaceOne'] as const;
type Proto = Record<string, (...a: unknown[]) => unknown>;
const proto = mongoose.mongo.Collection.prototype as unknown as Proto;

/**
 * Calls `each(name, collection)` before every write any collection is asked for (not again for the
 * writes it makes itself: insertMany → bulkWrite); restores on `off()`.
 */
function onWrites(each: (name: string, coll: string) => Promise<void> | void): () => void {
  const originals = WRITES.map((w) => [w, proto[w]!] as const);
  let depth = 0;
  for (const [w, orig] of originals) {
    proto[w] = async function (this: { collectionName: string }, ...args: unknown[]) {
      if (depth > 0) return orig.apply(this, args);
      await each(w, this.collectionName);
      depth++;
      try {
        return await orig.apply(this, args);
      } finally {
        depth--;
      }
    };
  }
  return () => {
    for (const [w, orig] of originals) proto[w] = orig;
  };
}

describe('commit protocol, step by step: readers see a batch whole or not at all; a death at any step recovers', function () {
  this.timeout(300_000);
  let t: TestApp;
  const units = scaleUnits(N + 50);
  const admin = { username: 'steps-admin', role: 'admin' as const };
  let round = 0;
  const fileFor = (k: number) => scaleWorkbook(scaleReturns(units, { seed: 10 + k, missingRate: 0 }).slice(0, N));

  before(async () => {
    t = await startTestApp({ periods: [P] });
    await Unit.insertMany(units.map((u) => ({ ...u, active: true })), { lean: true });
    at('2026-10-10T02:00:00Z');
  });
  after(() => t.stop());

  /** What every reader shows of the period: unit → the revision numbers visible, per reader. */
  async function seen(codes: readonly string[]): Promise<Record<string, Map<string, number>>> {
    const list = new Map([...(await latestReturns(P))].map(([u, r]) => [u, r.latest.revision]));
    const facts = new Map<string, number>();
    for await (const f of latestReturnFacts(P)) facts.set(f.unit, f.revision);
    const stream = new Map<string, number>();
    for await (const r of streamPeriodReturns(P)) stream.set(r.unit, r.latest.revision);
    const some = new Map([...(await latestReturns(P, codes))].map(([u, r]) => [u, r.latest.revision]));
    const history = new Map<string, number>();
    for (const u of [codes[0]!, codes[codes.length - 1]!]) {
      const h = await revisionsOf(P, u);
      if (h.length) history.set(u, h[h.length - 1]!.revision);
    }
    const usable = new Map([...(await latestUsableValues(P))].map(([u]) => [u, list.get(u)!]));
    return { list, facts, stream, some, history, usable };
  }

  /** Each reader shows all of the batch's units at `revision`, or none of them. */
  function wholeOrNone(views: Record<string, Map<string, number>>, codes: readonly string[], revision: number): 'whole' | 'none' {
    const states = new Set<string>();
    for (const [reader, m] of Object.entries(views)) {
      const scope = reader === 'history' ? [codes[0]!, codes[codes.length - 1]!] : codes;
      const at = scope.filter((u) => m.get(u) === revision).length;
      const below = scope.filter((u) => (m.get(u) ?? 0) === revision - 1).length;
      expect(at + below, `${reader}: every unit at revision ${revision} or ${revision - 1}`).to.equal(scope.length);
      expect(at === 0 || at === scope.length, `${reader}: ${at} of ${scope.length} units at revision ${revision}`).to.equal(true);
      states.add(at ? 'whole' : 'none');
    }
    expect(states.size, 'all readers agree').to.equal(1);
    return [...states][0] as 'whole' | 'none';
  }

  it('readers before and after each write of a commit: nothing of the batch before its commit record, all of it from then on', async () => {
    const file = await fileFor(round++);
    const codes = scaleReturns(units, { seed: 10, missingRate: 0 }).slice(0, N).map((r) => r.code);
    const steps: string[] = [];
    let checking = false;
    const off = onWrites(async (name, coll) => {
      if (checking || !['returns', 'upload_batches', 'audit_log'].includes(coll)) return;
      checking = true;
      try {
        steps.push(`${coll}.${name}:${wholeOrNone(await seen(codes), codes, 1)}`);
      } finally {
        checking = false;
      }
    });
    let res;
    try {
      res = await uploadAndCommit(admin, P, file, 'steps.xlsx');
    } finally {
      off();
    }
    expect(res.accepted).to.have.length(N);
    expect(wholeOrNone(await seen(codes), codes, 1)).to.equal('whole');
    // Before each write (the view it checked): none until the commit record has been written, whole after.
    const commitAt = steps.findIndex((s) => s.startsWith('upload_batches.updateOne'));
    expect(commitAt, steps.join(' ')).to.be.greaterThan(0);
    expect(steps.slice(0, commitAt + 1).every((s) => s.endsWith(':none')), steps.join(' ')).to.equal(true);
    expect(steps.slice(commitAt + 1).every((s) => s.endsWith(':whole')), steps.join(' ')).to.equal(true);
    // Each revision written once: the batch's revisions were inserted, never updated.
    expect(steps.filter((s) => s.startsWith('returns.') && !s.startsWith('returns.insertMany')), steps.join(' ')).to.deep.equal([]);
    expect(steps.filter((s) => s.startsWith('returns.insertMany'))).to.have.length(2);
  });

  it('a process dying at each write of a commit: recovery leaves the batch whole or absent, numbered without gaps, audited once', async () => {
    // How many writes a commit makes (all collections, GridFS included).
    let writes = 0;
    let off = onWrites(() => void writes++);
    try {
      await uploadAndCommit(admin, P, await fileFor(round++), 'count.xlsx');
    } finally {
      off();
    }
    expect(writes).to.be.greaterThan(10);
    const codes = scaleReturns(units, { seed: 10, missingRate: 0 }).slice(0, N).map((r) => r.code);
    let expected = 2; // revisions 1 and 2 so far (test above, the count)
    for (let dieAt = 1; dieAt <= writes; dieAt++) {
      let n = 0;
      off = onWrites(() => {
        if (++n >= dieAt) throw new Error('process gone');
      });
      let acknowledged = false;
      try {
        await uploadAndCommit(admin, P, await fileFor(round++), `die-${dieAt}.xlsx`);
        acknowledged = true;
      } catch (e) {
        expect((e as Error).message).to.equal('process gone');
      } finally {
        off();
      }
      // The next life of the process: the dead owner's lease has run out; start-up recovery runs.
      await UploadBatch.updateMany({ status: 'pending' }, { $set: { leaseAt: new Date(Date.now() - 3600_000) } });
      await recoverInterruptedBatches();
      expect(await UploadBatch.countDocuments({ status: 'pending' })).to.equal(0);
      expect(await UploadBatch.countDocuments({ status: 'committed', finalized: { $ne: true } })).to.equal(0);
      const state = wholeOrNone(await seen(codes), codes, expected + 1);
      // (Emulated, the code goes on after its writes fail, and may answer: only after its commit record.)
      if (acknowledged) expect(state, `died at write ${dieAt} of ${writes}, acknowledged`).to.equal('whole');
      if (state === 'whole') expected++;
      // Gapless: every unit's revisions are 1..expected; what is not visible is gone.
      const live = (await UploadBatch.find({ status: 'committed' }, { _id: 1 }).lean()).map((b) => b._id);
      expect(await ReturnRevision.countDocuments({ period: P, committed: false, batch: { $nin: live } }), `died at write ${dieAt}`).to.equal(0);
      const perUnit = await ReturnRevision.aggregate([{ $match: { period: P } }, { $group: { _id: '$unit', n: { $sum: 1 }, max: { $max: '$revision' } } }]);
      for (const u of perUnit) expect([u.n, u.max], u._id).to.deep.equal([expected, expected]);
      // Audited once per visible revision.
      expect(await AuditLog.countDocuments({ action: 'return.submit' })).to.equal(expected * N);
    }
    // A commit record was reached in some of the deaths, not in others.
    expect(expected).to.be.greaterThan(2);
    expect(expected).to.be.lessThan(2 + writes);
  });
});
