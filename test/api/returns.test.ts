// Returns through the HTTP contract of SPEC §7: PUT / GET, revisions, validation, late flag, review, scope.
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.ts';
import { createUnits, harness, vals } from '../intake/helpers.ts';

describe('returns API (PUT / GET / review)', () => {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let office: string;
  let repD001: string;
  let repD002: string;

  let clock: Awaited<ReturnType<typeof harness>>['clock'];

  before(async () => {
    const h = await harness();
    clock = h.clock;
    t = await h.startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    office = await t.tokenFor('office');
    repD001 = await t.tokenFor('reporter', 'D001');
    repD002 = await t.tokenFor('reporter', 'D002');
    await createUnits(t, admin);
  });
  after(async () => {
    clock?.set(null);
    await t?.stop();
  });
  afterEach(() => clock?.set(null));

  it('numbers revisions 1, 2, 3 and GET answers the latest with the SPEC fields', async () => {
    const api = t.api(repD001);
    expect((await api.get('/api/v1/returns/2026Q4/D001')).status).to.equal(404);
    const r1 = await api.put('/api/v1/returns/2026Q4/D001', { values: vals(1) });
    expect(r1.status, r1.text).to.equal(200);
    expect(r1.body.revision).to.equal(1);
    const r2 = await api.put('/api/v1/returns/2026Q4/D001', { values: vals(2) });
    expect(r2.body.revision).to.equal(2);
    const r3 = await api.put('/api/v1/returns/2026Q4/D001', { values: { ...vals(3), systems_total: '1,234' } });
    expect(r3.body.revision).to.equal(3);
    const g = await api.get('/api/v1/returns/2026Q4/D001');
    expect(g.status).to.equal(200);
    expect(g.body).to.include({ unit: 'D001', period: '2026Q4', revision: 3, status: 'submitted', late: false, source: 'api' });
    expect(g.body.values).to.deep.equal({ ...vals(3), systems_total: 1234 });
    expect(g.body.submittedBy).to.match(/^reporter-D001/);
    expect(new Date(g.body.submittedAt).getTime()).to.be.greaterThan(0);
    const hist = await api.get('/api/v1/returns/2026Q4/D001/revisions');
    expect(hist.body.map((x: { revision: number }) => x.revision)).to.deep.equal([1, 2, 3]);
    expect(hist.body[0].values).to.deep.equal(vals(1));
  });

  it('refuses bad values with 422 and field errors in Chinese, storing nothing', async () => {
    const api = t.api(repD002);
    const bad = await api.put('/api/v1/returns/2026Q1/D002', { values: vals(0, { systems_extranet: 12, systems_total: 10, duties_total: -1, catalogue_items: 2.5 }) });
    expect(bad.status).to.equal(422);
    expect(bad.body.error.code).to.equal('invalid_values');
    const errs = bad.body.error.details.errors as { field: string; message: string }[];
    expect(errs.map((e) => e.field)).to.include.members(['systems_extranet', 'duties_total', 'catalogue_items']);
    expect(errs.find((e) => e.field === 'systems_extranet')!.message).to.equal('「已接入电子政务外网的系统数」12 大于「信息系统总数」10');
    expect(errs.find((e) => e.field === 'duties_total')!.message).to.contain('负数');
    const missing = await api.put('/api/v1/returns/2026Q1/D002', { values: { systems_total: 1 } });
    expect(missing.status).to.equal(422);
    expect(missing.body.error.details.errors).to.have.length(10);
    const unknown = await api.put('/api/v1/returns/2026Q1/D002', { values: { ...vals(0), foo: 1 } });
    expect(unknown.status).to.equal(422);
    expect((await api.put('/api/v1/returns/2026Q1/D002', {})).status).to.equal(400);
    expect((await api.put('/api/v1/returns/2026Q9/D002', { values: vals(0) })).status).to.equal(400);
    expect((await api.get('/api/v1/returns/2026Q1/D002')).status).to.equal(404);
  });

  it('scopes reporters to their unit; office is read-only; unknown units are 404', async () => {
    expect((await t.api(repD001).put('/api/v1/returns/2026Q1/D001', { values: vals(0) })).status).to.equal(200);
    expect((await t.api(repD001).put('/api/v1/returns/2026Q1/D002', { values: vals(0) })).status).to.equal(403);
    expect((await t.api(repD001).get('/api/v1/returns/2026Q1/D002')).status).to.equal(403);
    expect((await t.api(office).put('/api/v1/returns/2026Q1/D001', { values: vals(0) })).status).to.equal(403);
    expect((await t.api(office).get('/api/v1/returns/2026Q1/D001')).status).to.equal(200);
    expect((await t.api(office).post('/api/v1/returns/2026Q1/D001/review', { decision: 'approve' })).status).to.equal(403);
    expect((await t.api(repD001).post('/api/v1/returns/2026Q1/D001/review', { decision: 'approve' })).status).to.equal(403);
    expect((await t.api().get('/api/v1/returns/2026Q1/D001')).status).to.equal(401);
    expect((await t.api(admin).put('/api/v1/returns/2026Q1/NOPE', { values: vals(0) })).status).to.equal(404);
    const list = await t.api(repD001).get('/api/v1/returns?period=2026Q1');
    expect(list.body.every((r: { unit: string }) => r.unit === 'D001')).to.equal(true);
  });

  it('flags a return late when its first revision came after the deadline', async () => {
    const set = await t.api(admin).put('/api/v1/periods/2026Q2', { deadline: '2026-07-15T23:59:59+08:00' });
    expect(set.status).to.be.oneOf([200, 201]);
    clock.set(() => new Date('2026-07-15T15:59:58Z')); // one second before the deadline
    expect((await t.api(admin).put('/api/v1/returns/2026Q2/D001', { values: vals(1) })).status).to.equal(200);
    clock.set(() => new Date('2026-07-16T01:00:00Z'));
    expect((await t.api(admin).put('/api/v1/returns/2026Q2/D001', { values: vals(2) })).body.revision).to.equal(2);
    expect((await t.api(admin).put('/api/v1/returns/2026Q2/D002', { values: vals(2) })).body.revision).to.equal(1);
    const d1 = await t.api(admin).get('/api/v1/returns/2026Q2/D001');
    const d2 = await t.api(admin).get('/api/v1/returns/2026Q2/D002');
    expect(d1.body.late).to.equal(false); // first revision was on time
    expect(d2.body.late).to.equal(true);
    // Moving the deadline later makes it on time.
    await t.api(admin).put('/api/v1/periods/2026Q2', { deadline: '2026-07-20T23:59:59+08:00' });
    expect((await t.api(admin).get('/api/v1/returns/2026Q2/D002')).body.late).to.equal(false);
  });

  it('review: reject needs a reason and notifies the unit; approve; a new revision resets the status', async () => {
    await t.api(repD002).put('/api/v1/returns/2026Q3/D002', { values: vals(5) });
    const noReason = await t.api(reviewer).post('/api/v1/returns/2026Q3/D002/review', { decision: 'reject' });
    expect(noReason.status).to.equal(422);
    expect(noReason.body.error.code).to.equal('reason_required');
    expect((await t.api(reviewer).post('/api/v1/returns/2026Q3/D002/review', { decision: 'maybe' })).status).to.equal(400);
    expect((await t.api(reviewer).post('/api/v1/returns/2026Q3/D003/review', { decision: 'approve' })).status).to.equal(404);
    const rej = await t.api(reviewer).post('/api/v1/returns/2026Q3/D002/review', { decision: 'reject', reason: '系统总数与上季度差异过大，请核实' });
    expect(rej.status, rej.text).to.equal(200);
    expect(rej.body.status).to.equal('rejected');
    const g = await t.api(repD002).get('/api/v1/returns/2026Q3/D002');
    expect(g.body.status).to.equal('rejected');
    expect(g.body.review.reason).to.equal('系统总数与上季度差异过大，请核实');
    const notices = await t.api(repD002).get('/api/v1/notices');
    expect(notices.status).to.equal(200);
    expect(notices.body[0].kind).to.equal('return.rejected');
    expect(notices.body[0].body).to.contain('系统总数与上季度差异过大');
    const again = await t.api(repD002).put('/api/v1/returns/2026Q3/D002', { values: vals(6) });
    expect(again.body.revision).to.equal(2);
    expect((await t.api(repD002).get('/api/v1/returns/2026Q3/D002')).body.status).to.equal('submitted');
    const stale = await t.api(reviewer).post('/api/v1/returns/2026Q3/D002/review', { decision: 'approve', revision: 1 });
    expect(stale.status).to.equal(409);
    const ok = await t.api(reviewer).post('/api/v1/returns/2026Q3/D002/review', { decision: 'approve' });
    expect(ok.body.status).to.equal('approved');
    expect(ok.body.revision).to.equal(2);
  });

  it('keeps an append-only audit trail of submissions and reviews (who, what, before, after, when)', async () => {
    const trail = await t.api(reviewer).get('/api/v1/returns/2026Q3/D002/audit');
    expect(trail.status).to.equal(200);
    const actions = trail.body.map((e: { action: string }) => e.action);
    expect(actions).to.deep.equal(['return.submit', 'return.review', 'return.submit', 'return.review']);
    const reject = trail.body[1];
    expect(reject.actor).to.match(/^reviewer/);
    expect(reject.before).to.deep.equal({ revision: 1, review: null });
    expect(reject.after.review).to.include({ decision: 'reject', reason: '系统总数与上季度差异过大，请核实' });
    expect(trail.body[2].after).to.deep.include({ revision: 2, values: vals(6), source: 'api' });
    for (const e of trail.body) expect(Date.parse(e.at)).to.be.greaterThan(0);
    expect((await t.api(repD002).get('/api/v1/returns/2026Q3/D002/audit')).status).to.equal(403);
  });

  it('refuses submissions to a closed period with 409', async () => {
    expect((await t.api(admin).put('/api/v1/periods/2025Q4', { closed: true })).status).to.be.oneOf([200, 201]);
    const r = await t.api(repD001).put('/api/v1/returns/2025Q4/D001', { values: vals(0) });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('period_closed');
  });
});
