// A submission or review that passed its "period not published" check but has not written yet when
// the publication starts must either be in the final results or be refused — never land in a
// published period after its final results were computed without it. The in-flight write is held
// at the model call (in this process) so that the interleaving is certain, not a matter of luck.
import { expect } from 'chai';
import { Period } from '../../server/models/period.ts';
import { UploadBatch } from '../../server/models/upload-batch.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { INTAKE_STALE_MS } from '../../server/services/periods.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { buildWorkbook } from '../intake/helpers.ts';
import { at, byUnit, PERFECT, putUnit, results, submit, uniform } from './fixtures.ts';

const P = '2026Q1';

/**
 * Holds the next call of `target[method]` that `which` accepts until released; `reached` resolves
 * when it is held. Other calls go through.
 */
function holdNext(target: object, method: string, which: (args: unknown[]) => boolean = () => true) {
  const obj = target as Record<string, (...a: unknown[]) => unknown>;
  const original = obj[method]!;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const hit = new Promise<void>((r) => (reached = r));
  obj[method] = function (this: unknown, ...args: unknown[]) {
    if (!which(args)) return original.apply(this, args);
    obj[method] = original;
    reached();
    return released.then(() => original.apply(this, args));
  };
  return { reached: hit, release, restore: () => (obj[method] = original) };
}

async function untilPublishedMarked(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const p = await Period.findOne({ period: P }).lean();
    if (p?.publishedAt) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the publication never recorded its freeze');
}

describe('intake fence: writes in flight when a period is published', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: string;
  let reviewer: string;

  beforeEach(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    const a = t.api(admin);
    for (const c of ['D1', 'D2']) await putUnit(a, c, 'department');
    at('2026-04-10T02:00:00Z');
    await submit(a, P, 'D1', PERFECT);
    await submit(a, P, 'D2', uniform(11, 20));
  });
  afterEach(() => t.stop());

  it('a submission held between its check and its write is in the final results (the publication waits for it)', async () => {
    at('2026-04-20T02:00:00Z');
    const hold = holdNext(ReturnRevision, 'create');
    try {
      const put = t.api(admin).put(`/api/v1/returns/${P}/D1`, { values: uniform(11, 20) });
      const sent = put.then((r) => r);
      await hold.reached;
      const pub = t.api(reviewer).post(`/api/v1/results/${P}/publish`).then((r) => r);
      await untilPublishedMarked();
      // A new submission is refused at once: the freeze is recorded.
      const late = await t.api(admin).put(`/api/v1/returns/${P}/D2`, { values: PERFECT });
      expect(late.status, late.text).to.equal(409);
      expect(late.body.error.code).to.equal('period_published');
      await new Promise((r) => setTimeout(r, 300));
      hold.release();
      const [s, p] = await Promise.all([sent, pub]);
      expect(p.status, p.text).to.equal(200);
      const rows = byUnit((await results(t.api(admin), P)).results);
      if (s.status === 200) {
        // D1's latest revision (same values as D2) is what the final results scored.
        expect(rows.D1!.total).to.equal(rows.D2!.total);
      } else {
        expect(s.status, s.text).to.equal(409);
        expect(await ReturnRevision.countDocuments({ period: P, unit: 'D1' })).to.equal(1);
      }
    } finally {
      hold.restore();
    }
  });

  it('a review held between its check and its write is in the final results', async () => {
    at('2026-04-20T02:00:00Z');
    const hold = holdNext(ReturnRevision, 'updateOne');
    try {
      const review = t.api(reviewer).post(`/api/v1/returns/${P}/D1/review`, { decision: 'reject', reason: '数据有误' }).then((r) => r);
      await hold.reached;
      const pub = t.api(reviewer).post(`/api/v1/results/${P}/publish`).then((r) => r);
      await untilPublishedMarked();
      await new Promise((r) => setTimeout(r, 300));
      hold.release();
      const [rv, p] = await Promise.all([review, pub]);
      expect(p.status, p.text).to.equal(200);
      const rows = byUnit((await results(t.api(admin), P)).results);
      if (rv.status === 200) {
        // A rejected return is scored as not reported: D1 can no longer score as the perfect return.
        expect(rows.D1!.total).to.not.equal(100);
      } else {
        expect(rv.status, rv.text).to.equal(409);
        expect(rows.D1!.total).to.equal(100);
      }
    } finally {
      hold.restore();
    }
  });

  it("an upload held just before its commit record is in the final results, or refused whole", async () => {
    at('2026-04-20T02:00:00Z');
    const hold = holdNext(UploadBatch.collection, 'updateOne', (args) => (args[1] as { $set?: { status?: string } }).$set?.status === 'committed');
    try {
      const file = await buildWorkbook([{ code: 'D1', values: uniform(11, 20) }]);
      const up = t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', file, 'd1.xlsx').then((r) => r);
      await hold.reached;
      const pub = t.api(reviewer).post(`/api/v1/results/${P}/publish`).then((r) => r);
      await untilPublishedMarked();
      await new Promise((r) => setTimeout(r, 300));
      hold.release();
      const [u, p] = await Promise.all([up, pub]);
      expect(p.status, p.text).to.equal(200);
      const rows = byUnit((await results(t.api(admin), P)).results);
      if (u.status === 200) expect(rows.D1!.total).to.equal(rows.D2!.total);
      else {
        expect(u.status, u.text).to.equal(409);
        expect(rows.D1!.total).to.equal(100);
      }
    } finally {
      hold.restore();
    }
  });

  it('an entry left by a writer that died does not hold the publication for longer than the stale limit', async () => {
    at('2026-04-20T02:00:00Z');
    const old = new Date(Date.now() - INTAKE_STALE_MS - 1000);
    await Period.collection.updateOne({ period: P }, { $push: { intake: { ticket: 'dead-writer', at: old } } as never });
    const p = await t.api(reviewer).post(`/api/v1/results/${P}/publish`);
    expect(p.status, p.text).to.equal(200);
  });
});
