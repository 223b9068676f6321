// The compact snapshot (server/results/snapshot.ts: rows in columns, read by cursor), the ranking page
// put together from row chunks (or streamed for a large category) and the results API over it serve
// exactly the bytes the simple way gives: every stored row read whole (readRows), sorted as row
// objects (sortRows), the whole table rendered in one go, JSON.stringify of SPEC §7's view. On a
// generated province (bench/scale.ts) with late rows and rows without a return, several grades and
// rank changes; the chunk size and the streaming threshold are lowered so that every path runs.
import { expect } from 'chai';
import type { Express } from 'express';
import { scaleReturns, scaleUnits } from '../../bench/scale.ts';
import { createApp } from '../../server/app.ts';
import { UNIT_CATEGORIES, type UnitCategory } from '../../server/domain/fields.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { Unit } from '../../server/models/unit.ts';
import { periodOptions } from '../../server/pages/common.ts';
import { presentRanking, sortRows } from '../../server/pages/ranking.ts';
import { computeAndStore } from '../../server/results/compute.ts';
import { readSet, viewOf } from '../../server/results/read.ts';
import { buildSnapshot, snapshotCacheStats, snapshotOf } from '../../server/results/snapshot.ts';
import { readRows, type ResultRowView } from '../../server/results/store.ts';
import { annualPageLocals, annualRowLocals, rankingBodies, rankingPageLocals, rankingRowLocals } from '../../server/routes/web/ranking.ts';
import { annualPage } from '../../server/pages/annual.ts';
import { pagerLocals, paging, tablePage } from '../../server/pages/paging.ts';
import { streaming } from '../../server/http/json-stream.ts';
import { DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';
import { listPeriods } from '../../server/services/periods.ts';
import { startTestApp, type TestApp, type TestUser, type WebClient } from '../helpers/app.ts';
import { at } from './fixtures.ts';

const PREV = '2026Q2';
const P = '2026Q3';
const N = 700;

function render(app: Express, view: string, locals: object): Promise<string> {
  return new Promise((resolve, reject) => app.render(view, locals, (err, html) => (err ? reject(err) : resolve(html!))));
}

describe('results: compact snapshot, chunked and streamed ranking page, results API — the same bytes', function () {
  this.timeout(120_000);
  let t: TestApp;
  let renderer: Express;
  let office: TestUser;
  let web: WebClient;
  let stored: ResultRowView[];

  before(async () => {
    t = await startTestApp({ periods: [PREV, P] });
    const units = scaleUnits(N);
    await Unit.insertMany(units.map((u) => ({ ...u, active: true })), { lean: true });
    const put = async (period: string, seed: number, when: string, keep: (i: number) => boolean) => {
      const rows = scaleReturns(units, { seed, missingRate: 0.04 }).filter((_, i) => keep(i));
      await ReturnRevision.insertMany(
        rows.map((r) => ({ unit: r.code, period, revision: 1, values: r.values, source: 'api', submittedBy: 't', submittedAt: new Date(when), committed: true, batch: null, file: null, review: null })),
        { lean: true },
      );
    };
    at('2026-07-20T02:00:00Z');
    await put(PREV, 3, '2026-07-10T02:00:00Z', () => true);
    await computeAndStore(PREV);
    at('2026-10-20T02:00:00Z');
    await put(P, 4, '2026-10-10T02:00:00Z', (i) => i % 7 !== 0);
    await put(P, 4, '2026-10-18T02:00:00Z', (i) => i % 7 === 0 && i % 3 !== 0); // late; the rest without a return
    await computeAndStore(P);
    const set = await readSet(P);
    stored = await readRows(P, set.computeId);
    renderer = await createApp({ config: t.config });
    office = await t.userFor('office');
    web = t.web();
    await web.login(office.username, office.password);
  });
  after(async () => {
    rankingBodies.rowsPerRender = 500;
    rankingBodies.aboveRows = 5000;
    streaming.aboveRows = 5000;
    await t.stop();
  });

  it('the generated province has what the views show: flags, grades, rank changes, all categories', () => {
    expect(stored.length).to.equal(N);
    const flags = new Set(stored.flatMap((r) => r.flags));
    expect(flags.has('late') && (flags.has('missing') || flags.has('pending'))).to.equal(true);
    expect(new Set(stored.map((r) => r.grade)).size).to.be.at.least(4);
    expect(stored.some((r) => r.rankChange !== null && r.rankChange !== 0)).to.equal(true);
    expect(stored.some((r) => Object.values(r.indicators).some((i) => !i.applicable))).to.equal(true);
    for (const c of UNIT_CATEGORIES) expect(stored.some((r) => r.category === c)).to.equal(true);
  });

  it('the snapshot gives every stored row back: the same values, keys in the same order (the same JSON)', async () => {
    const snap = await snapshotOf(await readSet(P));
    expect(snap.size).to.equal(stored.length);
    // The cache counts the snapshot's bytes (its bound), a few hundred a row.
    await new Promise((resolve) => setImmediate(resolve));
    expect(snapshotCacheStats().bytes).to.be.at.least(snap.bytes);
    expect(snap.bytes / snap.size).to.be.within(100, 1000);
    for (let i = 0; i < stored.length; i++) {
      expect(JSON.stringify(snap.row(i))).to.equal(JSON.stringify(stored[i]));
      expect(snap.row(i)).to.deep.equal(stored[i]);
      expect(snap.indexOf(stored[i]!.unit)).to.equal(i);
    }
    for (const c of UNIT_CATEGORIES) {
      expect(Array.from(snap.inCategory(c), (i) => snap.unit(i))).to.deep.equal(stored.filter((r) => r.category === c).map((r) => r.unit));
      expect(snap.counts[c]).to.equal(stored.filter((r) => r.category === c).length);
    }
  });

  it('rows the columns cannot hold exactly are kept as read (older shapes, other values), in their place', () => {
    const base = stored.slice(0, 6).map((r) => structuredClone(r));
    const odd = [
      { ...base[1]!, indicators: { ...base[1]!.indicators, I1: { score: 1, value: 0.5, applicable: true } } }, // other key order
      { ...base[2]!, total: Number.NaN }, // not a finite number
      { ...base[3]!, indicators: { I1: { value: 1, score: 2, applicable: true, note: 'x' } } }, // other fields
      { ...base[4]!, category: 'other' }, // a category the product does not know
    ] as unknown as ResultRowView[];
    const rows = [base[0]!, ...odd, base[5]!];
    const pointer = { period: P, computeId: 'x', schemeVersion: 1 } as unknown as Parameters<typeof buildSnapshot>[0];
    const snap = buildSnapshot(pointer, rows, DEFAULT_SCHEME);
    rows.forEach((r, i) => {
      expect(snap.row(i)).to.deep.equal(r);
      expect(JSON.stringify(snap.row(i))).to.equal(JSON.stringify(r));
    });
    expect(snap.total(2)).to.be.NaN;
    expect(Array.from(snap.inCategory(rows[0]!.category))).to.not.include(4);
    expect(Object.values(snap.counts).reduce((a, b) => a + b, 0)).to.equal(rows.length - 1);
    // Materialised rows are the caller's: changing one changes nothing in the snapshot.
    const first = snap.row(0);
    first.flags.push('late');
    (first.indicators.I1 as { score: number | null }).score = -1;
    expect(snap.row(0)).to.deep.equal(rows[0]);
  });

  /** The page body as the simple way renders it: stored rows sorted as objects, the whole table at once. */
  async function referenceBody(category: UnitCategory, sort?: string, dir?: string): Promise<Buffer> {
    const set = await readSet(P);
    const v = { username: office.username, role: 'office' as const };
    const r = presentRanking(v, set, await snapshotOf(set), { category, sort, dir });
    expect(r.counts).to.deep.equal(Object.fromEntries(UNIT_CATEGORIES.map((c) => [c, stored.filter((x) => x.category === c).length])));
    const rows = sortRows(stored.filter((x) => x.category === category), r.sort, r.dir).map((x) => ({ ...x, visible: true }));
    const rowsHtml = await render(renderer, 'pages/ranking/_rows', { layout: false, r: { period: P }, rows: rows.map(rankingRowLocals(v, r)) });
    const periods = await periodOptions(v, undefined, await listPeriods());
    return Buffer.from(await render(renderer, 'pages/ranking/index', rankingPageLocals(v, r, periods, rowsHtml)), 'utf8');
  }

  const views: [UnitCategory, string?, string?][] = [
    ['department'],
    ['county'],
    ['county', 'name', 'asc'],
    ['county', 'total', 'asc'],
    ['city', 'change', 'desc'],
    ['county', 'I3', 'desc'],
    ['county', 'code', 'desc'],
    ['department', 'base'],
  ];

  it('the ranking page: cached bodies put together from row chunks, and streamed bodies, are the reference bytes', async () => {
    const layouts = new Map<string, { head: string; tail: string }>();
    for (const [rowsPerRender, aboveRows] of [[500, 5000], [7, 5000], [1, 5000], [13, 20], [40, 0]] as const) {
      rankingBodies.rowsPerRender = rowsPerRender;
      rankingBodies.aboveRows = aboveRows;
      for (const [category, sort, dir] of views) {
        const query = new URLSearchParams({ period: P, category, ...(sort ? { sort } : {}), ...(dir ? { dir } : {}) });
        const page = await web.get(`/ranking?${query}`);
        expect(page.status).to.equal(200);
        const want = (await referenceBody(category, sort, dir)).toString('utf8');
        const at = page.text.indexOf(want);
        const label = `${category} ${sort} ${dir} (chunks of ${rowsPerRender}, streamed above ${aboveRows})`;
        expect(at, label).to.be.greaterThan(0);
        // What is around the body is the layout, the same on every page of this session and category (the print title).
        const around = { head: page.text.slice(0, at), tail: page.text.slice(at + want.length) };
        if (!layouts.has(category)) layouts.set(category, around);
        expect(around, label).to.deep.equal(layouts.get(category));
        const streamed = stored.filter((x) => x.category === category).length > aboveRows;
        expect(page.headers.get('content-length'), label).to.equal(streamed ? null : String(page.buffer.length));
      }
    }
  });

  it('the annual page: put together from row chunks, and streamed, is the whole table rendered in one go', async () => {
    const v = { username: office.username, role: 'office' as const };
    const layouts = new Map<string, { head: string; tail: string }>();
    for (const [rowsPerRender, aboveRows] of [[500, 5000], [1, 5000], [13, 20], [40, 0]] as const) {
      rankingBodies.rowsPerRender = rowsPerRender;
      rankingBodies.aboveRows = aboveRows;
      for (const category of UNIT_CATEGORIES) {
        const a = await annualPage(v, '2026', category);
        expect(a.rows.length, category).to.be.greaterThan(0);
        const rowsHtml = await render(renderer, 'pages/ranking/_annual_rows', { layout: false, rows: a.rows.map(annualRowLocals(v, a)) });
        const want = await render(renderer, 'pages/ranking/annual', annualPageLocals(a, rowsHtml));
        const page = await web.get(`/annual?year=2026&category=${category}`);
        expect(page.status).to.equal(200);
        const label = `${category} (chunks of ${rowsPerRender}, streamed above ${aboveRows})`;
        const at = page.text.indexOf(want);
        expect(at, label).to.be.greaterThan(0);
        const around = { head: page.text.slice(0, at), tail: page.text.slice(at + want.length) };
        if (!layouts.has(category)) layouts.set(category, around);
        expect(around, label).to.deep.equal(layouts.get(category));
        expect(around.head, label).to.contain('年度排名');
        expect(page.headers.get('content-length'), label).to.equal(a.rows.length > aboveRows ? null : String(page.buffer.length));
      }
    }
  });

  it('the results API: the whole period, a category and pages, cached or streamed, are JSON.stringify of the stored rows', async () => {
    const api = t.api(office.token);
    const set = await readSet(P);
    const cut = stored[Math.floor(N / 2)]!.unit;
    for (const above of [5000, 10]) {
      streaming.aboveRows = above;
      for (const [query, rows, extra] of [
        ['', stored, null],
        ['?category=county', stored.filter((r) => r.category === 'county'), null],
        [`?after=${cut}`, stored.slice(N / 2 + 1), null],
        [`?limit=50&after=${cut}`, stored.slice(N / 2 + 1, N / 2 + 51), { next: stored[N / 2 + 50]!.unit }],
        ['?category=city&limit=1000', stored.filter((r) => r.category === 'city'), { next: null }],
      ] as const) {
        const r = await api.get(`/api/v1/results/${P}${query}`, { 'accept-encoding': 'identity' });
        expect(r.status, query).to.equal(200);
        const view = viewOf(set, rows as ResultRowView[]);
        expect(r.text, `${query} (streamed above ${above})`).to.equal(JSON.stringify(extra ? { ...view, ...extra } : view));
      }
    }
  });

  it('annual results (from the quarters\' snapshots) are what the stored rows give', async () => {
    const { scoreYear } = await import('../../server/domain/scoring/annual.ts');
    const { currentScheme } = await import('../../server/services/scheme.ts');
    const { Case } = await import('../../server/models/case.ts');
    const { clock } = await import('../../server/clock.ts');
    const periods = [PREV, P];
    const quarters: Record<string, 'final' | 'provisional'> = {};
    const rows: Record<string, ResultRowView[]> = {};
    for (const p of periods) {
      const set = await readSet(p);
      quarters[p] = set.status;
      rows[p] = await readRows(p, set.computeId);
    }
    const units = (await Unit.find({}).lean()).map((u) => ({ unit: u.code, name: u.name, category: u.category as UnitCategory, active: u.active !== false }));
    const cases = (await Case.find({}).lean()).map((c) => ({ unit: c.unit, period: c.period, rule: c.rule as 'A1', status: c.status as 'open', dueAt: c.dueAt ?? null, resolvedAt: c.resolvedAt ?? null }));
    const scheme = (await currentScheme()).scheme;
    const results = scoreYear(scheme, { year: 2026, units, quarters: rows, opened: periods, cases, now: clock.now() });
    expect(results.length).to.equal(N);
    // In one body and, above streaming.aboveRows rows, streamed (gzip and identity): the same bytes.
    const want = JSON.stringify({ year: 2026, quarters, final: false, schemeVersion: scheme.version, results });
    try {
      for (const above of [5000, 100, 0]) {
        streaming.aboveRows = above;
        for (const encoding of ['gzip', 'identity']) {
          const r = await t.api(office.token).get('/api/v1/years/2026/results', { 'accept-encoding': encoding });
          expect(r.status).to.equal(200);
          if (above < N) expect(r.headers.get('content-length'), `${above} ${encoding}`).to.equal(null);
          if (above < N) expect(r.headers.get('content-encoding') ?? 'identity', `${above} ${encoding}`).to.equal(encoding);
          expect(r.text, `streamed above ${above}, ${encoding}`).to.equal(want);
        }
      }
    } finally {
      streaming.aboveRows = 5000;
    }
  });

  it('the ranking and annual pages a page of rows at a time: every row on one page, in the reference order, with the pager; a reporter lands on its own unit', async () => {
    rankingBodies.rowsPerRender = 500;
    rankingBodies.aboveRows = 5000;
    paging.rows = 60;
    try {
      const set = await readSet(P);
      const v = { username: office.username, role: 'office' as const };
      const periods = await periodOptions(v, undefined, await listPeriods());
      const r = presentRanking(v, set, await snapshotOf(set), { category: 'county', sort: 'total', dir: 'asc' });
      const all = sortRows(stored.filter((x) => x.category === 'county'), r.sort, r.dir).map((x) => ({ ...x, visible: true }));
      const pages = Math.ceil(all.length / 60);
      expect(pages).to.be.at.least(3);
      const seen: string[] = [];
      for (const raw of [...Array.from({ length: pages }, (_, i) => String(i + 1)), '999', 'abc', '0']) {
        const page = await web.get(`/ranking?period=${P}&category=county&sort=total&dir=asc&page=${raw}`);
        expect(page.status).to.equal(200);
        const pg = tablePage(raw, all.length);
        expect(pg.page).to.equal(raw === '999' ? pages : raw === 'abc' || raw === '0' ? 1 : Number(raw));
        const rows = all.slice(pg.start, pg.end);
        const rowsHtml = await render(renderer, 'pages/ranking/_rows', { layout: false, r: { period: P }, rows: rows.map(rankingRowLocals(v, r)) });
        const pager = pagerLocals(pg, '/ranking', { period: P, category: 'county', sort: 'total', dir: 'asc' });
        const want = await render(renderer, 'pages/ranking/index', rankingPageLocals(v, r, periods, rowsHtml, pager));
        expect(page.text.indexOf(want), `page ${raw}`).to.be.greaterThan(0);
        expect(page.text).to.include(`第 ${pg.page} / ${pages} 页`);
        if (/^[1-9]\d*$/.test(raw) && Number(raw) <= pages) seen.push(...rows.map((x) => x.unit));
      }
      expect(seen).to.deep.equal(all.map((x) => x.unit)); // each row once, in order
      // A category of one page shows no pager.
      expect((await web.get(`/ranking?period=${P}&category=city`)).text).to.not.include('aria-label="分页"');

      // The annual page the same way.
      const a = await annualPage(v, '2026', 'county');
      const annualPages = Math.ceil(a.rows.length / 60);
      for (let k = 1; k <= annualPages; k++) {
        const pg = tablePage(String(k), a.rows.length);
        const rowsHtml = await render(renderer, 'pages/ranking/_annual_rows', { layout: false, rows: a.rows.slice(pg.start, pg.end).map(annualRowLocals(v, a)) });
        const want = await render(renderer, 'pages/ranking/annual', annualPageLocals(a, rowsHtml, pagerLocals(pg, '/annual', { year: '2026', category: 'county' })));
        const page = await web.get(`/annual?year=2026&category=county&page=${k}`);
        expect(page.status).to.equal(200);
        expect(page.text.indexOf(want), `annual page ${k}`).to.be.greaterThan(0);
      }

      // A reporter (results published) lands on the page with its own unit, and can page on.
      await computeAndStore(PREV, { final: true });
      const prevRows = sortRows(
        (await readRows(PREV, (await readSet(PREV)).computeId)).filter((x) => x.category === 'county'),
        'rank',
        'asc',
      );
      const own = prevRows[150]!.unit;
      const reporter = await t.userFor('reporter', own);
      const rw = t.web();
      await rw.login(reporter.username, reporter.password);
      const landing = await rw.get(`/ranking?period=${PREV}&category=county`);
      expect(landing.status).to.equal(200);
      expect(landing.text).to.include(`第 ${Math.floor(150 / 60) + 1} / `);
      expect(landing.text).to.include(`>${prevRows[150]!.name}<`.replace('<', ''));
      const first = await rw.get(`/ranking?period=${PREV}&category=county&page=1`);
      expect(first.text).to.include('第 1 / ');
    } finally {
      paging.rows = 1000;
    }
  });
});
