// GET /api/v1/results/:period with ?category= and cursor paging (?limit=&after=): the same rows as the
// whole-period body, in the same order and shape, page by page; bad parameters are a 400 with a code.
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, putUnit, runJob, submit, uniform } from './fixtures.ts';

const P = '2026Q3';

describe('results API: category filter and cursor paging', function () {
  let t: TestApp;
  let admin: string;
  let office: string;
  let repD2: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    office = await t.tokenFor('office');
    repD2 = await t.tokenFor('reporter', 'D02');
    const a = t.api(admin);
    const depts = ['D01', 'D02', 'D03', 'D04', 'D05', 'D06', 'D07'];
    for (const c of depts) await putUnit(a, c, 'department');
    for (const c of ['C01', 'C02', 'C03']) await putUnit(a, c, 'city');
    for (const c of ['X01', 'X02']) await putUnit(a, c, 'county');
    at('2026-10-10T02:00:00Z');
    // Distinct totals, and a tie (D03, D04), so result order is not code order.
    const scores: Record<string, [number, number]> = { D01: [1, 2], D02: [9, 10], D03: [3, 4], D04: [3, 4], D05: [1, 1], C02: [1, 1], C01: [1, 4], X02: [2, 3] };
    for (const [u, [n, d]] of Object.entries(scores)) await submit(a, P, u, uniform(n, d));
    await runJob(t, admin, 'score', P);
  });
  after(() => t.stop());

  async function whole(token: string, query = '') {
    const r = await t.api(token).get(`/api/v1/results/${P}${query}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  }

  it('pages walk every row once, in result order, with the same rows as the whole body', async () => {
    const all = await whole(office);
    expect(all).to.not.have.property('next');
    expect(all.results.map((r: { unit: string }) => r.unit).slice(0, 7)).to.deep.equal(['D05', 'D02', 'D03', 'D04', 'D01', 'D06', 'D07']);
    for (const limit of [1, 3, 5, 12, 100]) {
      const seen: unknown[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const body: { results: unknown[]; next: string | null; period: string; status: string; schemeVersion: number; computedAt: string } = await whole(office, `?limit=${limit}${after ? `&after=${after}` : ''}`);
        expect(body).to.include({ period: all.period, status: all.status, schemeVersion: all.schemeVersion, computedAt: all.computedAt });
        expect(body.results.length).to.be.at.most(limit);
        seen.push(...body.results);
        after = body.next;
        pages++;
        expect(pages).to.be.at.most(20);
      } while (after !== null);
      expect(seen, `limit ${limit}`).to.deep.equal(all.results);
      expect(pages).to.equal(Math.max(1, Math.ceil(all.results.length / limit)));
    }
  });

  it('the last page says next: null; after= alone gives every row after that unit', async () => {
    const all = await whole(office);
    const last = await whole(office, `?limit=2&after=${all.results[all.results.length - 3].unit}`);
    expect(last.results).to.deep.equal(all.results.slice(-2));
    expect(last.next).to.equal(null);
    const rest = await whole(office, '?after=D04');
    const i = all.results.findIndex((r: { unit: string }) => r.unit === 'D04');
    expect(rest.results).to.deep.equal(all.results.slice(i + 1));
    expect(rest).to.not.have.property('next');
  });

  it('?category= keeps that category only, and pages within it', async () => {
    const all = await whole(office);
    for (const c of ['department', 'city', 'county']) {
      const body = await whole(office, `?category=${c}`);
      expect(body.results).to.deep.equal(all.results.filter((r: { category: string }) => r.category === c));
      expect(body.results.length).to.be.greaterThan(0);
    }
    const p1 = await whole(office, '?category=city&limit=2');
    expect(p1.results.map((r: { unit: string }) => r.unit)).to.deep.equal(['C02', 'C01']);
    expect(p1.next).to.equal('C01');
    const p2 = await whole(office, `?category=city&limit=2&after=${p1.next}`);
    expect(p2.results.map((r: { unit: string }) => r.unit)).to.deep.equal(['C03']);
    expect(p2.next).to.equal(null);
    // A cursor from another category is not in this one.
    const wrong = await t.api(office).get(`/api/v1/results/${P}?category=city&after=D01`);
    expect(wrong.status).to.equal(400);
    expect(wrong.body.error.code).to.equal('invalid_cursor');
  });

  it('a reporter before publication pages its own row only and cannot probe other units by cursor', async () => {
    const own = await whole(repD2, '?limit=5');
    expect(own.results.map((r: { unit: string }) => r.unit)).to.deep.equal(['D02']);
    expect(own.next).to.equal(null);
    expect((await whole(repD2, '?category=city')).results).to.deep.equal([]);
    const probe = await t.api(repD2).get(`/api/v1/results/${P}?after=D01`);
    const none = await t.api(repD2).get(`/api/v1/results/${P}?after=NOPE`);
    expect([probe.status, probe.body.error.code]).to.deep.equal([400, 'invalid_cursor']);
    expect([none.status, none.body.error.code]).to.deep.equal([400, 'invalid_cursor']);
    expect(probe.body.error.message.replace('D01', 'NOPE')).to.equal(none.body.error.message);
  });

  it('bad parameters are a 400 with a stable code and a Chinese message', async () => {
    const cases: [string, string][] = [
      ['?category=province', 'invalid_category'],
      ['?category=city&category=county', 'invalid_category'],
      ['?limit=0', 'invalid_limit'],
      ['?limit=-1', 'invalid_limit'],
      ['?limit=2.5', 'invalid_limit'],
      ['?limit=abc', 'invalid_limit'],
      ['?limit=5001', 'invalid_limit'],
      ['?limit=1&limit=2', 'invalid_limit'],
      ['?after=', 'invalid_cursor'],
      ['?after=ZZZ', 'invalid_cursor'],
      ['?after=D01&after=D02', 'invalid_cursor'],
    ];
    for (const [q, code] of cases) {
      const r = await t.api(office).get(`/api/v1/results/${P}${q}`);
      expect(r.status, q).to.equal(400);
      expect(r.body.error.code, q).to.equal(code);
      expect(r.body.error.message, q).to.match(/[\u4e00-\u9fff]/);
    }
  });

  it('a page read again after a recomputation shows the new snapshot (pages are kept per snapshot)', async () => {
    const before = await whole(office, '?category=department&limit=3');
    expect(before.results.map((r: { unit: string }) => r.unit)).to.not.include('D06');
    await submit(t.api(admin), P, 'D06', uniform(1, 1));
    const after = await whole(office, '?category=department&limit=3');
    expect(after.results.map((r: { unit: string }) => r.unit)).to.deep.equal(['D05', 'D06', 'D02']);
  });

  it('a page has its own ETag and revalidates to 304', async () => {
    const a = await t.api(office).get(`/api/v1/results/${P}?limit=3`);
    const b = await t.api(office).get(`/api/v1/results/${P}?limit=3&after=${a.body.next}`);
    expect(a.headers.get('etag')).to.be.a('string');
    expect(a.headers.get('etag')).to.not.equal(b.headers.get('etag'));
    const again = await t.api(office).get(`/api/v1/results/${P}?limit=3`, { 'if-none-match': a.headers.get('etag')!, 'cache-control': 'max-age=0' });
    expect(again.status).to.equal(304);
  });
});
