// Results through the real HTTP API: snapshots, lateness, missing / pending, visibility,
// explanation, publication freezing, reopening.
import { expect } from 'chai';
import { AuditLog } from '../../server/models/audit-log.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, byUnit, PERFECT, putUnit, results, runJob, submit, uniform } from './fixtures.ts';

const P = '2026Q3'; // deadline 2026-10-15 23:59:59 Asia/Shanghai

describe('results: scoring, publication and visibility', function () {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let office: string;
  let repD2: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    office = await t.tokenFor('office');
    repD2 = await t.tokenFor('reporter', 'D002');
    const a = t.api(admin);
    for (const c of ['D001', 'D002', 'D003', 'D004']) await putUnit(a, c, 'department');
    for (const c of ['C01', 'C02']) await putUnit(a, c, 'city');
    at('2026-10-10T02:00:00Z');
    await submit(a, P, 'D001', PERFECT); // 100
    await submit(a, P, 'D002', uniform(17, 20)); // 85
    await submit(a, P, 'C01', uniform(3, 4)); // 75
    await submit(a, P, 'C02', uniform(1, 2)); // 50
  });
  after(() => t.stop());

  it('before the deadline: units without a return are pending, not scored, not ranked', async () => {
    const r = await results(t.api(office), P);
    expect(r).to.include({ period: P, status: 'provisional', schemeVersion: 1 });
    const u = byUnit(r.results);
    expect(u.D003).to.include({ total: null, grade: null, rank: null });
    expect(u.D003!.flags).to.deep.equal(['pending']);
    // Two ranked departments: the 优秀 quota is floor(0.3 × 2) = 0, so 100 points earn 良好.
    expect(u.D001).to.include({ total: 100, rank: 1, grade: '良好' });
    expect(u.D002).to.include({ total: 85, rank: 2, grade: '良好' });
    expect(u.D001!.indicators.I1).to.deep.equal({ value: 1, score: 25, applicable: true });
  });

  it('after the deadline: late returns lose 2 points, missing ones score 0 / 不合格, the job records its run', async () => {
    at('2026-10-16T03:00:00Z'); // 11:00 on the 16th in Shanghai: past the deadline
    await submit(t.api(admin), P, 'D003', uniform(9, 10)); // 90 − 2 late
    const run = await runJob(t, admin, 'score', P);
    expect(run).to.include({ job: 'score', trigger: 'manual', period: P, outcome: 'success' });
    expect(run.counts).to.include({ periods: 1, recomputed: 1, published: 0 });
    const r = await results(t.api(office), P);
    const u = byUnit(r.results);
    expect(u.D003).to.include({ base: 90, deductions: 2, total: 88, grade: '良好', rank: 2 });
    expect(u.D003!.flags).to.deep.equal(['late']);
    expect(u.D004).to.include({ total: 0, grade: '不合格', rank: 4 });
    expect(u.D004!.flags).to.deep.equal(['missing']);
    expect(u.D002).to.include({ total: 85, rank: 3 });
    expect(u.D001).to.include({ total: 100, rank: 1, grade: '优秀' }); // 4 ranked: quota 1
    expect(u.C01).to.include({ total: 75, rank: 1, grade: '合格' });
    expect(u.C02).to.include({ total: 50, rank: 2, grade: '不合格' });
  });

  it('reporters see only their own row before publication; explanations of other units are refused', async () => {
    const r = await results(t.api(repD2), P);
    expect(r.results.map((x) => x.unit)).to.deep.equal(['D002']);
    const own = await t.api(repD2).get(`/api/v1/results/${P}/units/D002/explain`);
    expect(own.status, own.text).to.equal(200);
    expect(own.body.indicators).to.have.length(6);
    expect(own.body.indicators[0]).to.include({ id: 'I1', applicable: true, weight: 25 });
    expect(own.body.total).to.equal(85);
    const other = await t.api(repD2).get(`/api/v1/results/${P}/units/D001/explain`);
    expect(other.status).to.equal(403);
    expect(other.body.error.code).to.be.a('string');
  });

  it('only reviewers and admins publish; publishing freezes the results', async () => {
    expect((await t.api(office).post(`/api/v1/results/${P}/publish`)).status).to.equal(403);
    expect((await t.api(repD2).post(`/api/v1/results/${P}/publish`)).status).to.equal(403);
    expect((await t.api().post(`/api/v1/results/${P}/publish`)).status).to.equal(401);
    const pub = await t.api(reviewer).post(`/api/v1/results/${P}/publish`);
    expect(pub.status, pub.text).to.equal(200);
    expect(pub.body.status).to.equal('final');
    const frozen = await results(t.api(office), P);

    // Later changes: a new revision is refused (published means frozen), a new unit changes nothing;
    // the nightly job and a manual run touch nothing.
    at('2026-10-20T03:00:00Z');
    const late = await t.api(admin).put(`/api/v1/returns/${P}/D004`, { values: PERFECT });
    expect(late.status, late.text).to.equal(409);
    expect(late.body.error.code).to.equal('period_published');
    await putUnit(t.api(admin), 'D005', 'department');
    const run = await runJob(t, admin, 'score', P);
    expect(run.counts).to.include({ frozen: 1, recomputed: 0 });
    const again = await results(t.api(office), P);
    expect(again).to.deep.equal(frozen);

    const twice = await t.api(reviewer).post(`/api/v1/results/${P}/publish`);
    expect(twice.status).to.equal(409);
    expect(twice.body.error.code).to.equal('already_published');
  });

  it('reporters see the whole published ranking', async () => {
    const r = await results(t.api(repD2), P);
    expect(r.status).to.equal('final');
    expect(r.results.map((x) => x.unit)).to.include.members(['D001', 'D002', 'D003', 'D004', 'C01', 'C02']);
  });

  it('cannot publish before the deadline', async () => {
    const r = await t.api(reviewer).post('/api/v1/results/2026Q4/publish');
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('deadline_not_passed');
    expect(r.body.error.message).to.match(/截止/);
  });

  it('reopening is an admin act with a reason, audited; the nightly job then leaves it to a person', async () => {
    expect((await t.api(reviewer).post(`/api/v1/results/${P}/reopen`, { reason: 'x' })).status).to.equal(403);
    const noReason = await t.api(admin).post(`/api/v1/results/${P}/reopen`, { reason: '  ' });
    expect(noReason.status).to.equal(400);
    expect(noReason.body.error.code).to.equal('reason_required');
    const r = await t.api(admin).post(`/api/v1/results/${P}/reopen`, { reason: 'D004 报表系统故障，补录后重新评分' });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.status).to.equal('provisional');
    const entry = await AuditLog.findOne({ action: 'results.reopen', entityId: P }).lean();
    expect(entry?.after).to.deep.equal({ status: 'provisional', reason: 'D004 报表系统故障，补录后重新评分' });
    // Reopened: returns are accepted again (D004's is late).
    await submit(t.api(admin), P, 'D004', PERFECT);

    // Past deadline + 7 days: the score job recomputes but does not publish a reopened period.
    at('2026-10-30T03:00:00Z');
    const run = await runJob(t, admin, 'score', P);
    expect(run.counts).to.include({ recomputed: 1, published: 0 });
    const now = await results(t.api(office), P);
    expect(now.status).to.equal('provisional');
    expect(byUnit(now.results).D004).to.include({ total: 98 }); // late: 100 − 2
    expect(byUnit(now.results).D005!.flags).to.deep.equal(['missing']);

    const pub = await t.api(admin).post(`/api/v1/results/${P}/publish`);
    expect(pub.status).to.equal(200);
    expect(pub.body.status).to.equal('final');
  });

  it('rejects a bad period with a clear message', async () => {
    const r = await t.api(office).get('/api/v1/results/2026Q5');
    expect(r.status).to.equal(400);
    expect(r.body.error.code).to.equal('invalid_period');
  });
});
