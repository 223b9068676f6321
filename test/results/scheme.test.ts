// The scheme as data: versions, what-if preview, saving, results recording their scheme version;
// and the admin pages (scheme editor, jobs) through a real browser session.
import { expect } from 'chai';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { at, byUnit, putUnit, results, runJob, submit, ratios } from './fixtures.ts';

const P = '2026Q3';

describe('scheme: versions, what-if preview, admin pages', function () {
  let t: TestApp;
  let admin: TestUser;
  let office: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.userFor('admin');
    office = await t.tokenFor('office');
    const a = t.api(admin.token);
    for (const c of ['D1', 'D2', 'D3']) await putUnit(a, c, 'department');
    at('2026-10-20T02:00:00Z'); // after the deadline: late but scored
    // D1: I1 = 1, everything else 0.5 → base = 25 + 10 + 10 + 7.5 + 5 + 5 = 62.5; late: total 60.5
    await submit(a, P, 'D1', ratios({ i1: [4, 4], i2: [1, 2], i3: [1, 2], i4: [1, 2], i5cloud: 2, i6: [1, 2] }));
    await submit(a, P, 'D2', ratios({ i1: [1, 4], i2: [2, 2], i3: [2, 2], i4: [2, 2], i5cloud: 4, i6: [2, 2] }));
  });
  after(() => t.stop());

  it('v1 is seeded from the SPEC default and results record it', async () => {
    const s = await t.api(office).get('/api/v1/scheme');
    expect(s.status).to.equal(200);
    expect(s.body.version).to.equal(1);
    expect(s.body.scheme.indicators.map((i: { weight: number }) => i.weight)).to.deep.equal([25, 20, 20, 15, 10, 10]);
    await runJob(t, admin.token, 'score', P);
    const r = await results(t.api(office), P);
    expect(r.schemeVersion).to.equal(1);
    expect(byUnit(r.results).D1).to.include({ base: 62.5, total: 60.5 });
  });

  it('previews a draft without saving it', async () => {
    const cur = (await t.api(admin.token).get('/api/v1/scheme')).body.scheme;
    cur.indicators[0].weight = 50; // I1 doubled
    const p = await t.api(admin.token).post('/api/v1/scheme/preview', { scheme: cur });
    expect(p.status, p.text).to.equal(200);
    expect(p.body.period).to.equal(P);
    const d1 = p.body.diff.rows.find((r: { unit: string }) => r.unit === 'D1');
    // base = (50 + 10 + 10 + 7.5 + 5 + 5) × 100 / 125 = 70; total 68
    expect(d1.before.total).to.equal(60.5);
    expect(d1.after.total).to.equal(68);
    expect(d1.totalDelta).to.equal(7.5);
    expect((await t.api(admin.token).get('/api/v1/scheme')).body.version).to.equal(1);
    expect((await t.api(office).post('/api/v1/scheme/preview', { scheme: cur })).status).to.equal(403);
  });

  it('refuses an invalid draft with every problem listed', async () => {
    const cur = (await t.api(admin.token).get('/api/v1/scheme')).body.scheme;
    cur.indicators[1].weight = -1;
    cur.excellentQuota = 2;
    const r = await t.api(admin.token).put('/api/v1/scheme', { scheme: cur, baseVersion: 1 });
    expect(r.status).to.equal(422);
    expect(r.body.error.code).to.equal('invalid_scheme');
    expect(r.body.error.message).to.match(/权重/).and.match(/优秀比例/);
  });

  it('saving makes a new version; a stale editor gets 409; later results use the new version', async () => {
    const cur = (await t.api(admin.token).get('/api/v1/scheme')).body.scheme;
    cur.indicators[0].weight = 50;
    const r = await t.api(admin.token).put('/api/v1/scheme', { scheme: cur, baseVersion: 1, note: 'I1 权重加倍' });
    expect(r.status, r.text).to.equal(201);
    expect(r.body.version).to.equal(2);
    const stale = await t.api(admin.token).put('/api/v1/scheme', { scheme: cur, baseVersion: 1 });
    expect(stale.status).to.equal(409);
    expect(stale.body.error.code).to.equal('scheme_changed');
    const v1 = await t.api(office).get('/api/v1/scheme/versions/1');
    expect(v1.body.scheme.indicators[0].weight).to.equal(25);
    await runJob(t, admin.token, 'score', P);
    const res = await results(t.api(office), P);
    expect(res.schemeVersion).to.equal(2);
    expect(byUnit(res.results).D1).to.include({ total: 68 });
  });

  it('admin pages: scheme editor with preview and save, jobs page with run now and reopen', async () => {
    const w = t.web();
    await w.login(admin.username, admin.password);
    const page = await w.get('/scheme');
    expect(page.status).to.equal(200);
    expect(page.text).to.include('现行版本').and.include('第 2 版');
    const form: Record<string, string> = {
      baseVersion: '2', excellentQuota: '0.3', lateDeduction: '2', a1Enabled: 'on', a1DueDays: '30', a2Enabled: 'on', a3Enabled: 'on', a3MinRanked: '3', a3Consecutive: '2',
      'grades[0][min]': '90', 'grades[1][min]': '80', 'grades[2][min]': '60', 'grades[3][min]': '0',
    };
    [25, 20, 20, 15, 10, 10].forEach((wt, i) => Object.assign(form, { [`indicators[${i}][weight]`]: String(wt), [`indicators[${i}][floor]`]: '0', [`indicators[${i}][target]`]: '1' }));
    const preview = await w.postForm('/scheme', { ...form, action: 'preview' });
    expect(preview.status, preview.text.slice(0, 500)).to.equal(200);
    expect(preview.text).to.include('预览').and.include('68.00').and.include('60.50');
    const bad = await w.postForm('/scheme', { ...form, 'indicators[0][weight]': 'abc', action: 'save' });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.include('权重必须是数字');
    const saved = await w.postForm('/scheme', { ...form, action: 'save', note: '恢复默认权重' });
    expect(saved.status).to.equal(303);
    expect((await t.api(office).get('/api/v1/scheme')).body.version).to.equal(3);

    const jobs = await w.get('/jobs');
    expect(jobs.status).to.equal(200);
    expect(jobs.text).to.include('评分与发布').and.include('运行记录');
    const run = await w.postForm('/jobs/score/run', { period: P });
    expect(run.status).to.equal(303);
    expect((await w.get('/jobs')).text).to.include('已运行完成');
    const pub = await w.postForm(`/jobs/results/${P}/publish`, {});
    expect(pub.status).to.equal(303);
    expect((await results(t.api(office), P)).status).to.equal('final');
    await w.postForm(`/jobs/results/${P}/reopen`, { reason: '数据更正' });
    expect((await results(t.api(office), P)).status).to.equal('provisional');

    const rep = t.web();
    const u = await t.userFor('reporter', 'D1');
    await rep.login(u.username, u.password);
    expect((await rep.get('/scheme')).status).to.equal(403);
    expect((await rep.get('/jobs')).status).to.equal(403);
  });
});

describe('scheme: v1 is stored at start-up, never by a read', function () {
  let t: TestApp;
  after(() => t?.stop());

  it('start-up stores v1; on a database without it, reads answer the default and store nothing; a save stores v1 first', async () => {
    t = await startTestApp();
    const { SchemeVersion } = await import('../../server/models/scheme.ts');
    expect(await SchemeVersion.countDocuments({ version: 1 })).to.equal(1);
    await SchemeVersion.deleteMany({});
    const admin = await t.userFor('admin');
    const office = await t.tokenFor('office');
    for (const path of ['/api/v1/scheme', '/api/v1/scheme/versions', '/api/v1/scheme/versions/1']) {
      const r = await t.api(office).get(path);
      expect(r.status, `${path} ${r.text}`).to.equal(200);
    }
    expect((await t.api(office).get('/api/v1/scheme')).body.version).to.equal(1);
    const web = t.web();
    await web.login(admin.username, admin.password);
    for (const path of ['/scheme', '/returns']) {
      const r = await web.get(path);
      expect(r.status, path).to.equal(200);
    }
    expect(await SchemeVersion.countDocuments({})).to.equal(0);
    const current = (await t.api(admin.token).get('/api/v1/scheme')).body.scheme;
    const saved = await t.api(admin.token).put('/api/v1/scheme', { scheme: current, baseVersion: 1, note: '同默认方案' });
    expect(saved.status, saved.text).to.equal(201);
    expect((await SchemeVersion.find({}).sort({ version: 1 }).lean()).map((d) => d.version)).to.deep.equal([1, 2]);
  });
});
