// The read side's caches (server/services/scoring.ts: serialised result bodies per snapshot;
// server/routes/web/ranking.ts: the ranking table's rows per snapshot, category, sort and viewer)
// never serve stale data: after a score run, a publication, a reopen, a scheme change, a unit rename
// or deactivation, a new period, or a change made by another instance straight in the database, the
// next request shows the new state. Credentials are never cached: a revoked token, a deactivated
// user or a logged-out session is refused at once. Real HTTP against the real app.
import { expect } from 'chai';
import { ResultRow, ResultSet } from '../../server/models/result.ts';
import { startTestApp, type TestApp, type TestUser, type WebClient } from '../helpers/app.ts';
import { at, byUnit, PERFECT, putUnit, results, runJob, submit, uniform } from './fixtures.ts';

const P = '2026Q3'; // deadline 2026-10-15 23:59:59 Asia/Shanghai

/** The table rows of a ranking page: unit codes in order, the own-row units, the linked units. */
function table(html: string) {
  const tbody = html.slice(html.indexOf('<tbody>'), html.indexOf('</tbody>'));
  return {
    units: [...tbody.matchAll(/<tr class="[^"]*" data-unit="([^"]+)">/g)].map((m) => m[1]!),
    own: [...tbody.matchAll(/<tr class="own-row[^"]*" data-unit="([^"]+)">/g)].map((m) => m[1]!),
    linked: [...tbody.matchAll(/<a href="\/units\/([^?"]+)\?period=([^"]+)">/g)].map((m) => `${m[1]}@${m[2]}`),
    totals: [...tbody.matchAll(/<td class="num total">([^<]*)<\/td>/g)].map((m) => m[1]!),
  };
}

// A revalidation as a browser's HTTP cache sends it. (fetch adds `Cache-Control: no-cache` to a request
// carrying If-None-Match unless the request names its own Cache-Control, and no-cache asks for the
// whole body.)
const revalidate = (etag: string) => ({ 'if-none-match': etag, 'cache-control': 'max-age=0' });

describe('results caches: never stale, credentials never cached', function () {
  let t: TestApp;
  let admin: string;
  let office: string;
  let repD2: TestUser;
  let repC1: TestUser;
  let officeUser: TestUser;
  let officeWeb: WebClient;
  let d2Web: WebClient;
  let c1Web: WebClient;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    officeUser = await t.userFor('office');
    office = officeUser.token;
    const a = t.api(admin);
    for (const c of ['D001', 'D002', 'D003']) await putUnit(a, c, 'department');
    for (const c of ['C01', 'C02']) await putUnit(a, c, 'city');
    repD2 = await t.userFor('reporter', 'D002');
    repC1 = await t.userFor('reporter', 'C01');
    at('2026-10-10T02:00:00Z');
    await submit(a, P, 'D001', PERFECT); // 100
    await submit(a, P, 'D002', uniform(17, 20)); // 85
    await submit(a, P, 'D003', uniform(9, 10)); // 90
    await submit(a, P, 'C01', uniform(3, 4)); // 75
    await submit(a, P, 'C02', uniform(1, 2)); // 50
    officeWeb = t.web();
    await officeWeb.login(officeUser.username, officeUser.password);
    d2Web = t.web();
    await d2Web.login(repD2.username, repD2.password);
    c1Web = t.web();
    await c1Web.login(repC1.username, repC1.password);
  });
  after(() => t.stop());

  it('API: an unchanged snapshot gives the same bytes and strong ETag; If-None-Match → 304; private, no-cache', async () => {
    const r1 = await t.api(office).get(`/api/v1/results/${P}`);
    const r2 = await t.api(office).get(`/api/v1/results/${P}`);
    expect(r1.status, r1.text).to.equal(200);
    expect(r1.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    expect(r1.headers.get('cache-control')).to.equal('private, no-cache');
    const etag = r1.headers.get('etag')!;
    expect(etag).to.match(/^"[^"]+"$/); // strong
    expect(r2.headers.get('etag')).to.equal(etag);
    expect(r2.text).to.equal(r1.text);
    expect(Object.keys(r1.body)).to.deep.equal(['period', 'status', 'schemeVersion', 'computedAt', 'publishedAt', 'deadline', 'results']);
    expect(byUnit(r1.body.results).D002).to.include({ total: 85, rank: 3, name: '单位D002' });

    const r304 = await t.api(office).get(`/api/v1/results/${P}`, revalidate(etag));
    expect(r304.status).to.equal(304);
    expect(r304.buffer.length).to.equal(0);
    expect(r304.headers.get('etag')).to.equal(etag);
    const other = await t.api(office).get(`/api/v1/results/${P}`, revalidate('"not-it"'));
    expect(other.status).to.equal(200);
    expect(other.text).to.equal(r1.text);

    // gzip for clients that ask for it: the same JSON, its own ETag, Vary: Accept-Encoding.
    const plain = await t.api(office).get(`/api/v1/results/${P}`, { 'accept-encoding': 'identity' });
    const gz = await t.api(office).get(`/api/v1/results/${P}`, { 'accept-encoding': 'gzip' });
    expect(plain.headers.get('content-encoding')).to.equal(null);
    expect(gz.headers.get('content-encoding')).to.equal('gzip');
    expect(gz.text).to.equal(plain.text);
    expect(plain.text).to.equal(r1.text);
    expect(gz.headers.get('vary')).to.match(/accept-encoding/i);
    expect(plain.headers.get('vary')).to.match(/accept-encoding/i);
    expect(gz.headers.get('etag')).to.not.equal(plain.headers.get('etag'));
    expect((await t.api(office).get(`/api/v1/results/${P}`, { 'accept-encoding': 'gzip', ...revalidate(gz.headers.get('etag')!) })).status).to.equal(304);
    expect((await t.api(office).get(`/api/v1/results/${P}`, { 'accept-encoding': 'identity', ...revalidate(plain.headers.get('etag')!) })).status).to.equal(304);
    const crossed = await t.api(office).get(`/api/v1/results/${P}`, { 'accept-encoding': 'identity', ...revalidate(gz.headers.get('etag')!) });
    expect(crossed.status).to.equal(200);
    expect(crossed.text).to.equal(plain.text);

    // A reporter before publication: its own row only, with its own ETag (never the whole body's).
    const rep = await t.api(repD2.token).get(`/api/v1/results/${P}`, revalidate(etag));
    expect(rep.status).to.equal(200);
    expect(rep.body.results.map((x: { unit: string }) => x.unit)).to.deep.equal(['D002']);
    expect(rep.headers.get('etag')).to.not.equal(etag);
    const rep304 = await t.api(repD2.token).get(`/api/v1/results/${P}`, revalidate(rep.headers.get('etag')!));
    expect(rep304.status).to.equal(304);
  });

  it('a new score run shows at once in the API and on the page (the old ETag no longer matches)', async () => {
    const before = await t.api(office).get(`/api/v1/results/${P}`);
    const page0 = await officeWeb.get(`/ranking?period=${P}&category=department&sort=total`);
    expect(table(page0.text).units).to.deep.equal(['D001', 'D003', 'D002']);
    expect(table(page0.text).totals).to.deep.equal(['100.00', '90.00', '85.00']);

    await submit(t.api(admin), P, 'D002', uniform(19, 20)); // 95
    await runJob(t, admin, 'score', P);

    const after = await t.api(office).get(`/api/v1/results/${P}`, revalidate(before.headers.get('etag')!));
    expect(after.status).to.equal(200);
    expect(after.headers.get('etag')).to.not.equal(before.headers.get('etag'));
    expect(byUnit(after.body.results).D002).to.include({ total: 95, rank: 2 });
    const page1 = await officeWeb.get(`/ranking?period=${P}&category=department&sort=total`);
    expect(table(page1.text).units).to.deep.equal(['D001', 'D002', 'D003']);
    expect(table(page1.text).totals).to.deep.equal(['100.00', '95.00', '90.00']);
    // The other sort of the same category, never asked before the run, shows the new snapshot too.
    const byRank = await officeWeb.get(`/ranking?period=${P}&category=department`);
    expect(table(byRank.text).units).to.deep.equal(['D001', 'D002', 'D003']);
  });

  it('a change made by another instance, straight in the database, is followed by the next request', async () => {
    const before = await t.api(office).get(`/api/v1/results/${P}`);
    // Another instance's work reaches this one only through MongoDB: no hook runs here.
    const stamp = new Date('2026-10-11T01:02:03Z');
    await ResultSet.updateOne({ period: P }, { $set: { computedAt: stamp } });
    const after = await t.api(office).get(`/api/v1/results/${P}`, revalidate(before.headers.get('etag')!));
    expect(after.status).to.equal(200);
    expect(after.body.computedAt).to.equal(stamp.toISOString());
    expect(after.text).to.equal(before.text.replace(before.body.computedAt, stamp.toISOString()));
    const page = await officeWeb.get(`/ranking?period=${P}`);
    expect(page.text).to.contain('计算于 2026/10/11 09:02');
  });

  it('scheme change: provisional results are recomputed with the new version; the page names its indicators', async () => {
    const cur = (await t.api(admin).get('/api/v1/scheme')).body.scheme;
    const oldName = cur.indicators[0].name as string;
    const page0 = await officeWeb.get(`/ranking?period=${P}`);
    expect(page0.text).to.contain('考核方案第 1 版');
    expect(page0.text).to.contain(`<span class="ind-name">${oldName}</span>`);
    cur.indicators[0].name = '系统外网接入率（新）';
    const saved = await t.api(admin).put('/api/v1/scheme', { scheme: cur, baseVersion: 1, note: 'rename I1' });
    expect(saved.status, saved.text).to.equal(201);
    // No job run: the change itself leads to a recomputation (the client waits for it to settle).
    expect((await results(t.api(office), P)).schemeVersion).to.equal(2);
    const page2 = await officeWeb.get(`/ranking?period=${P}`);
    expect(page2.text).to.contain('考核方案第 2 版');
    expect(page2.text).to.contain('<span class="ind-name">系统外网接入率（新）</span>');
    expect(page2.text).to.not.contain(`<span class="ind-name">${oldName}</span>`);
  });

  it('unit rename and deactivation show after the score run that takes them in', async () => {
    await putUnit(t.api(admin), 'D001', 'department', '省大数据局（更名）');
    const r = await t.api(admin).put('/api/v1/units/D003', { name: '单位D003', category: 'department', active: false });
    expect(r.status, r.text).to.equal(200);
    await runJob(t, admin, 'score', P);
    const api = await results(t.api(office), P);
    const snapshotUnits = api.results.map((x) => x.unit);
    expect(byUnit(api.results).D001!.name).to.equal('省大数据局（更名）');
    const page = await officeWeb.get(`/ranking?period=${P}&category=department&sort=total`);
    expect(page.text).to.contain('>省大数据局（更名）</a>');
    expect(table(page.text).units).to.deep.equal(api.results.filter((x) => x.category === 'department').sort((a, b) => b.total! - a.total!).map((x) => x.unit));
    if (!snapshotUnits.includes('D003')) expect(table(page.text).units).to.not.include('D003');
  });

  it('publication: reporters see the whole ranking at once, each with its own row marked; the next period is listed', async () => {
    at('2026-10-16T03:00:00Z');
    // Reporter views before publication: own row only (API), no page.
    expect((await results(t.api(repD2.token), P)).results.map((x) => x.unit)).to.deep.equal(['D002']);
    expect((await d2Web.get(`/ranking?period=${P}`)).status).to.equal(403);

    const pub = await t.api(admin).post(`/api/v1/results/${P}/publish`);
    expect(pub.status, pub.text).to.equal(200);

    const all = await results(t.api(office), P);
    expect(all.status).to.equal('final');
    const rep = await t.api(repD2.token).get(`/api/v1/results/${P}`);
    expect(rep.body.status).to.equal('final');
    expect(rep.body.publishedAt).to.be.a('string');
    expect(rep.text).to.equal((await t.api(office).get(`/api/v1/results/${P}`)).text);

    // Office first, then the two reporters, on the same table: each sees its own marks only.
    const o = table((await officeWeb.get(`/ranking?period=${P}&category=department`)).text);
    const d2 = table((await d2Web.get(`/ranking?period=${P}&category=department`)).text);
    const c1d = table((await c1Web.get(`/ranking?period=${P}&category=department`)).text);
    expect(o.own).to.deep.equal([]);
    expect(o.linked).to.deep.equal(o.units.map((u) => `${u}@${P}`));
    expect(d2.units).to.deep.equal(o.units);
    expect(d2.own).to.deep.equal(['D002']);
    expect(d2.linked).to.deep.equal([`D002@${P}`]);
    expect(c1d.units).to.deep.equal(o.units);
    expect(c1d.own).to.deep.equal([]);
    expect(c1d.linked).to.deep.equal([]);
    const c1c = table((await c1Web.get(`/ranking?period=${P}&category=city`)).text);
    expect(c1c.own).to.deep.equal(['C01']);
    expect((await officeWeb.get(`/ranking?period=${P}`)).text).to.contain('<strong>正式结果</strong>');

    // The other opened periods stay listed with their own status.
    expect((await officeWeb.get('/ranking')).text).to.contain('<option value="2026Q4">2026Q4（暂定）</option>');
    expect((await officeWeb.get(`/ranking?period=${P}`)).text).to.contain(`<option value="${P}" selected>${P}（已发布）</option>`);
  });

  it('reopen: provisional again at once; reporters back to their own row, no page', async () => {
    const before = await t.api(repD2.token).get(`/api/v1/results/${P}`);
    const r = await t.api(admin).post(`/api/v1/results/${P}/reopen`, { reason: '数据复核' });
    expect(r.status, r.text).to.equal(200);
    const office1 = await results(t.api(office), P);
    expect(office1.status).to.equal('provisional');
    const rep = await t.api(repD2.token).get(`/api/v1/results/${P}`, revalidate(before.headers.get('etag')!));
    expect(rep.status).to.equal(200);
    expect(rep.body).to.include({ status: 'provisional', publishedAt: null });
    expect(rep.body.results.map((x: { unit: string }) => x.unit)).to.deep.equal(['D002']);
    expect((await d2Web.get(`/ranking?period=${P}`)).status).to.equal(403);
    const page = await officeWeb.get(`/ranking?period=${P}`);
    expect(page.text).to.contain('<strong>暂定结果</strong>');
    expect(page.text).to.contain(`<option value="${P}" selected>${P}（暂定）</option>`);
  });

  it('concurrent requests for a period never opened all answer 404 and store nothing', async () => {
    const Q = '2025Q2';
    const api = await Promise.all(Array.from({ length: 6 }, () => t.api(office).get(`/api/v1/results/${Q}`, { 'accept-encoding': 'identity' })));
    const pages = await Promise.all(Array.from({ length: 3 }, () => officeWeb.get(`/ranking?period=${Q}&category=city`)));
    for (const r of api) {
      expect(r.status, r.text).to.equal(404);
      expect(r.body.error.code).to.equal('period_not_open');
    }
    for (const p of pages) expect(p.status).to.equal(404);
    expect(await ResultSet.exists({ period: Q })).to.equal(null);
    expect(await ResultRow.countDocuments({ period: Q })).to.equal(0);
  });

  it('credentials are checked on every request: a revoked token, a deactivated user, a logout', async () => {
    const u = await t.userFor('office');
    expect((await t.api(u.token).get(`/api/v1/results/${P}`)).status).to.equal(200);
    expect((await t.api(u.token).delete('/api/v1/auth/token')).status).to.be.oneOf([200, 204]);
    expect((await t.api(u.token).get(`/api/v1/results/${P}`)).status).to.equal(401);

    const v = await t.userFor('office');
    const w = t.web();
    await w.login(v.username, v.password);
    expect((await t.api(v.token).get(`/api/v1/results/${P}`)).status).to.equal(200);
    expect((await w.get(`/ranking?period=${P}`)).status).to.equal(200);
    const off = await t.api(admin).patch(`/api/v1/users/${v.id}`, { active: false });
    expect(off.status, off.text).to.equal(200);
    expect((await t.api(v.token).get(`/api/v1/results/${P}`)).status).to.equal(401);
    const page = await w.get(`/ranking?period=${P}`);
    expect(page.status).to.be.within(300, 399);
    expect(page.location).to.match(/\/login/);

    const x = await t.userFor('office');
    const wx = t.web();
    await wx.login(x.username, x.password);
    expect((await wx.get(`/ranking?period=${P}`)).status).to.equal(200);
    expect((await wx.postForm('/logout', {})).status).to.be.within(300, 399);
    const out = await wx.get(`/ranking?period=${P}`);
    expect(out.status).to.be.within(300, 399);
    expect(out.location).to.match(/\/login/);
  });
});
