// A many-unit upload commits in commands of at most 1 000 documents (the tops read, the revisions'
// insert, the audit entries), so that no command holds the database for long (issue 19); each
// revision is written once (the batch's commit record makes it visible: no second write to flip a
// flag); the result: every row one visible revision, one audit entry per unit.
import { expect } from 'chai';
import { scaleReturns, scaleUnits, scaleWorkbook } from '../../bench/scale.ts';
import { AuditLog } from '../../server/models/audit-log.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { Unit } from '../../server/models/unit.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at } from '../results/fixtures.ts';

const P = '2026Q3';

describe('scale: a 2 500-row upload commits in commands of ≤ 1 000 documents', function () {
  this.timeout(120_000);
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ periods: [P] });
  });
  after(() => t.stop());

  it('stores every row once, visible, audited once, with no command over 1 000 documents', async () => {
    const units = scaleUnits(2600);
    await Unit.insertMany(units.map((u) => ({ ...u, active: true })), { lean: true });
    const rows = scaleReturns(units, { seed: 4 }).slice(0, 2500);
    const file = await scaleWorkbook(rows);
    at('2026-10-10T02:00:00Z');
    const admin = await t.tokenFor('admin');
    // Every insert / update / find the commit sends to these collections, with its size.
    const sizes: { name: string; coll: string; n: number }[] = [];
    const restore: (() => void)[] = [];
    for (const [coll, c] of [['returns', ReturnRevision.collection], ['audit_log', AuditLog.collection]] as const) {
      const target = c as unknown as Record<string, (...a: any[]) => any>;
      for (const name of ['insertMany', 'updateMany', 'updateOne', 'bulkWrite', 'find'] as const) {
        const orig = target[name]!;
        target[name] = function (this: unknown, ...args: any[]) {
          const n = name === 'insertMany' || name === 'bulkWrite' ? args[0].length : (args[0]?.unit?.$in?.length ?? 0);
          sizes.push({ name, coll, n });
          return orig.apply(this, args);
        };
        restore.push(() => {
          target[name] = orig;
        });
      }
    }
    let res;
    try {
      res = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', file, 'many.xlsx');
    } finally {
      for (const r of restore) r();
    }
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    expect(res.body.accepted.length).to.equal(2500);
    const mine = sizes.filter((s) => s.coll === 'returns' || s.coll === 'audit_log');
    // The commit really went through several commands, each within the bound.
    expect(mine.filter((s) => s.coll === 'returns' && s.name === 'insertMany').length).to.equal(3);
    expect(mine.filter((s) => s.coll === 'audit_log' && s.name === 'insertMany').length).to.equal(3);
    // Written once: nothing updates a revision after its insert.
    expect(mine.filter((s) => s.coll === 'returns' && s.name !== 'insertMany' && s.name !== 'find')).to.deep.equal([]);
    for (const s of mine) expect(s.n, `${s.name} ${s.coll}`).to.be.at.most(1000);
    const revs = await ReturnRevision.find({ period: P }, { unit: 1, revision: 1, committed: 1 }).lean();
    expect(revs.length).to.equal(2500);
    expect(revs.every((r) => r.committed === false && r.revision === 1)).to.equal(true);
    // …and visible, through the batch's commit record.
    const listed = await t.api(admin).get(`/api/v1/returns?period=${P}`);
    expect(listed.status).to.equal(200);
    expect((listed.body as { revision: number }[]).filter((r) => r.revision === 1).length).to.equal(2500);
    expect(await AuditLog.countDocuments({ action: 'return.submit', key: { $regex: `^batch:${res.body.batch}:` } })).to.equal(2500);
  });
});
