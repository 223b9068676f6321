// A publication cut short after its snapshot became final (the process killed between the flip and
// the period / audit records) is completed by the next accountability run: the period's publishedAt
// and exactly one `results.publish` audit entry — the same records an uninterrupted publication writes.
import { expect } from 'chai';
import { AuditLog } from '../../server/models/audit-log.ts';
import { Period } from '../../server/models/period.ts';
import { ResultSet } from '../../server/models/result.ts';
import { computeAndStore } from '../../server/results/compute.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, PERFECT, putUnit, runJob, submit, uniform } from './fixtures.ts';

describe('publication: records completed after an interrupted publication', function () {
  let t: TestApp;
  let admin: string;
  let reviewer: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    const a = t.api(admin);
    for (const c of ['D1', 'D2', 'D3']) await putUnit(a, c, 'department');
    at('2026-04-10T02:00:00Z');
    for (const P of ['2026Q1', '2025Q4']) {
      await submit(a, P, 'D1', PERFECT);
      await submit(a, P, 'D2', uniform(17, 20));
    }
  });
  after(() => t.stop());

  const publishAudits = (period: string) => AuditLog.find({ action: 'results.publish', entityId: period }).lean();

  it('an uninterrupted publication writes publishedAt and one audit entry; the accountability job adds none', async () => {
    at('2026-04-20T02:00:00Z');
    const pub = await t.api(reviewer).post('/api/v1/results/2026Q1/publish');
    expect(pub.status, pub.text).to.equal(200);
    const set = await ResultSet.findOne({ period: '2026Q1' }).lean();
    expect((await Period.findOne({ period: '2026Q1' }).lean())?.publishedAt?.toISOString()).to.equal(set!.publishedAt!.toISOString());
    await runJob(t, admin, 'accountability');
    const audits = await publishAudits('2026Q1');
    expect(audits).to.have.length(1);
    expect(audits[0]!.actorRole).to.equal('reviewer');
    expect((audits[0]!.after as { computeId: string }).computeId).to.equal(String(set!.computeId));
  });

  it('a final snapshot without its records (killed after the flip) gets them from the next accountability run, once', async () => {
    at('2026-04-21T02:00:00Z');
    // What publish() had done when the kill landed: the snapshot is final, nothing else.
    const w = await computeAndStore('2025Q4', { final: true, by: 'reviewer-x' });
    expect(w.written).to.equal(true);
    expect((await Period.findOne({ period: '2025Q4' }).lean())?.publishedAt ?? null).to.equal(null);
    expect(await publishAudits('2025Q4')).to.have.length(0);

    at('2026-04-22T02:00:00Z');
    await runJob(t, admin, 'accountability');
    await runJob(t, admin, 'accountability');
    const set = await ResultSet.findOne({ period: '2025Q4' }).lean();
    expect((await Period.findOne({ period: '2025Q4' }).lean())?.publishedAt?.toISOString()).to.equal(set!.publishedAt!.toISOString());
    const audits = await publishAudits('2025Q4');
    expect(audits).to.have.length(1);
    expect(audits[0]!.actor).to.equal('reviewer-x');
    expect(audits[0]!.at.toISOString()).to.equal(set!.publishedAt!.toISOString());
    // The API shows the period as published.
    const r = await t.api(admin).get('/api/v1/results/2025Q4');
    expect(r.body.status).to.equal('final');
  });
});
