import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type UnitCategory } from '../../domain/fields.ts';
import { clock } from '../../clock.ts';
import { principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { withFlash } from '../../http/flash.ts';
import { assertQuarter, listPeriods } from '../../services/periods.ts';
import { publishPeriod, recomputeNow, reopenPeriod } from '../../results/publication.ts';
import { ResponseCache } from '../../http/response-cache.ts';
import { periodOptions, periodPointers, resolvePeriod, type PeriodOption, type Row, type Viewer } from '../../pages/common.ts';
import { naturalDir, presentRanking, rankingCells, SCORE_BANDS, type RankingView } from '../../pages/ranking.ts';
import { annualPage, type AnnualView } from '../../pages/annual.ts';
import { pagerLocals, pageWith, tablePage, type PagerLocals, type TablePage } from '../../pages/paging.ts';
import { compareUnits, parseCompareUnits } from '../../pages/compare.ts';
import { resultsOf } from '../../results/read.ts';
import { arrow, flagTags, periodQuery, q, STATUS_BADGE, viewerOf } from './_present.ts';

// 排名 (/ranking): one category of one period, sorted on the server (links work without JS).
export const router = Router();

// The page's body (everything inside the layout: header, period list, tabs, table) as UTF-8 bytes,
// per (snapshot and its pointer fields, category, sort, direction, indicator columns, period list,
// viewer). A snapshot's rows never change (server/services/scoring.ts: a recomputation gives a new
// computeId; a publication or reopen changes the pointer's status / publishedAt, both in the key),
// so an entry is never stale: a request whose period now points elsewhere simply uses another key.
// The viewer part: office, reviewers and admins see the same body (every unit linked, the period
// workbook); a reporter's differ (own row marked, only it linked, own workbook). Bounded by entries
// and bytes (a county table at 1k units is ≈ 0.8 MB of HTML); concurrent requests for the same body
// share one render. Per request only the layout (user, navigation, CSRF token) is rendered; the body
// is sent as it is (see sendPage).
const bodies = new ResponseCache({ maxEntries: 64, maxBytes: 64 * 1024 * 1024 });

function renderView(app: Request['app'], view: string, locals: object): Promise<string> {
  return new Promise((resolve, reject) => app.render(view, locals, (err, html) => (err ? reject(err) : resolve(html))));
}

// Stands in for the body while the layout renders (views/pages/_slot.hbs prints it). Handlebars
// escapes every value, so no user text can produce it; random per process, so no template holds it.
const BODY_SLOT = `<!--body-${randomBytes(12).toString('hex')}-->`;

// The table's rows are rendered ROWS_PER_RENDER at a time and the page body is put together as bytes
// (head of the page template · row chunks · its tail), so that no string of the whole table is built
// (at 50 000 units a category's table is tens of MB of HTML). A category of more than `aboveRows` rows
// is streamed, not cached: its body is rendered chunk by chunk as the client reads it (same bytes, no
// Content-Length), so that memory does not grow with the province. Exported for tests.
export const rankingBodies = { rowsPerRender: 500, aboveRows: 5000 };

// The engine trims each rendering (express-handlebars), so a chunk of rows comes without the first
// row's indent and the last row's newline; between chunks they are put back (the page template
// itself puts them around the whole table: "      {{{rowsHtml}}}\n").
const ROW_JOIN = Buffer.from('\n      ', 'utf8');
// Stands in for the table's rows while the page template renders (as BODY_SLOT for the layout).
const ROWS_SLOT = `<!--rows-${randomBytes(12).toString('hex')}-->`;

type Layout = { head: Buffer; tail: Buffer };

/**
 * A page body with a long table, as bytes: the page template (rendered with ROWS_SLOT for its rows)
 * around the table's rows `rows.start` … `rows.end - 1` (one table page) rendered
 * `rankingBodies.rowsPerRender` at a time. An empty table renders its rows template once (its "no
 * results" row).
 */
async function* tableBodyParts(
  app: Request['app'],
  t: { page: [view: string, locals: object]; rowsView: string; rows: Pick<TablePage, 'start' | 'end'>; rowsLocals: (start: number, end: number) => object },
): AsyncGenerator<Buffer> {
  const html = await renderView(app, t.page[0], t.page[1]);
  const at = html.indexOf(ROWS_SLOT);
  if (at < 0) throw new Error(`${t.page[0]}: the rows slot is missing`);
  yield Buffer.from(html.slice(0, at), 'utf8');
  const step = Math.max(1, rankingBodies.rowsPerRender);
  const { start: first, end } = t.rows;
  for (let start = first; start === first || start < end; start += step) {
    const rowsHtml = await renderView(app, t.rowsView, t.rowsLocals(start, Math.min(end, start + step)));
    if (start > first) yield ROW_JOIN;
    yield Buffer.from(rowsHtml, 'utf8');
  }
  yield Buffer.from(html.slice(at + ROWS_SLOT.length), 'utf8');
}

/** The layout (with this request's locals) around the body: its head and tail, as bytes. */
async function layoutOf(req: Request, res: Response, layoutLocals: Record<string, unknown>): Promise<Layout> {
  const html = await renderView(req.app, 'pages/_slot', { ...layoutLocals, _locals: res.locals, slot: BODY_SLOT });
  const at = html.indexOf(BODY_SLOT);
  if (at < 0) throw new Error('layout: the body slot is missing');
  return { head: Buffer.from(html.slice(0, at), 'utf8'), tail: Buffer.from(html.slice(at + BODY_SLOT.length), 'utf8') };
}

/**
 * Sends the layout around a rendered body as head · body · tail: the same bytes as res.render of the
 * page, without rendering, copying and encoding the body on every request.
 */
function sendPage(req: Request, res: Response, layout: Layout, body: Buffer): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', layout.head.length + body.length + layout.tail.length);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  res.write(layout.head);
  res.write(body);
  res.end(layout.tail);
}

/** Writes `parts` to the response as they come, at the pace the client reads (no Content-Length). */
async function streamPage(req: Request, res: Response, layout: Layout, parts: AsyncIterable<Buffer>): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const write = async (b: Buffer) => {
    if (res.destroyed) throw new Error('client gone');
    if (!res.write(b)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  };
  try {
    await write(layout.head);
    for await (const b of parts) await write(b);
    res.end(layout.tail);
  } catch (err) {
    // Headers are gone: a failed stream can only be cut short.
    res.destroy(err as Error);
  }
}

/** The page template's locals for a ranking view (`rowsHtml`: the table's rendered rows). Exported for tests. */
export function rankingPageLocals(v: Viewer, r: RankingView, periods: readonly PeriodOption[], rowsHtml: string, pager: PagerLocals | null = null): Record<string, unknown> {
  const { period, category } = r;
  const link = (sort: string) => {
    const dir = r.sort === sort ? (r.dir === 'asc' ? 'desc' : 'asc') : naturalDir(sort);
    return `/ranking${periodQuery({ period, category, sort, dir })}`;
  };
  const col = (key: string, label: string, extra: Record<string, unknown> = {}) => ({
    key,
    label,
    href: link(key),
    sorted: r.sort === key,
    ariaSort: r.sort === key ? (r.dir === 'asc' ? 'ascending' : 'descending') : null,
    mark: r.sort === key ? (r.dir === 'asc' ? '↑' : '↓') : '',
    ...extra,
  });
  return {
    layout: false,
    r,
    badge: STATUS_BADGE[r.status],
    isFinal: r.status === 'final',
    columns: {
      rank: col('rank', '排名'),
      change: col('change', '变化'),
      code: col('code', '代码'),
      name: col('name', '单位'),
      total: col('total', '总分'),
      base: col('base', '基础分'),
      indicators: r.indicators.map((i) => col(i.id, i.id, { name: i.name, weight: i.weight })),
    },
    tabs: UNIT_CATEGORIES.map((c) => ({
      label: UNIT_CATEGORY_LABELS[c],
      count: r.counts[c],
      href: `/ranking${periodQuery({ period, category: c, sort: r.sort === 'rank' ? undefined : r.sort, dir: r.sort === 'rank' ? undefined : r.dir })}`,
      current: c === category,
    })),
    catLabel: UNIT_CATEGORY_LABELS[category],
    bands: SCORE_BANDS,
    excellent: { grade: r.rules.grades[0]?.grade, min: r.rules.grades[0]?.min, demoted: r.rules.grades[1]?.grade, quota: `${Math.round(r.rules.excellentQuota * 100)}%` },
    periods: periods.map((p) => ({ ...p, selected: p.period === period, statusText: p.status === 'final' ? '已发布' : p.status === 'provisional' ? '暂定' : '无结果' })),
    category,
    annualYear: period.slice(0, 4),
    rowsHtml,
    pager,
    sheetHref: v.role === 'reporter' ? null : `/api/v1/results/${period}/sheet.xlsx`,
    ownSheetHref: v.role === 'reporter' && v.unit ? `/api/v1/results/${period}/units/${v.unit}/sheet.xlsx` : null,
  };
}

/** The rows template's locals of one table row. Exported for tests. */
export function rankingRowLocals(v: Viewer, r: Pick<RankingView, 'indicators' | 'rules'>) {
  return (row: Row & { visible: boolean }) => ({
    unit: row.unit,
    name: row.name,
    rank: row.rank,
    grade: row.grade,
    visible: row.visible,
    arrow: arrow(row.rankChange),
    tags: flagTags(row.flags),
    own: v.role === 'reporter' && row.unit === v.unit,
    fail: row.grade === '不合格',
    ...rankingCells(row, r.indicators, r.rules),
  });
}

router.get('/ranking', requireAuth, async (req: Request, res: Response) => {
  const v = viewerOf(req);
  // One read of every period's pointer and of the opened periods serves the period list, the default period and the results.
  const [sets, opened] = await Promise.all([periodPointers(), listPeriods()]);
  const period = await resolvePeriod(v, q(req, 'period'), sets, opened);
  const rawCat = q(req, 'category');
  const category: UnitCategory = (UNIT_CATEGORIES as readonly string[]).includes(rawCat ?? '') ? (rawCat as UnitCategory) : 'department';
  const { set, snapshot } = await resultsOf(period, { set: sets.find((s) => s.period === period) });
  const r = presentRanking(v, set, snapshot, { category, sort: q(req, 'sort'), dir: q(req, 'dir') });
  const periods = await periodOptions(v, sets, opened);

  // A page of the table; a reporter lands on the page with its own unit.
  const pg = tablePage(q(req, 'page'), r.size, v.role === 'reporter' && v.unit ? pageWith(r.positionOf(v.unit)) : 1);
  const pager = pagerLocals(pg, '/ranking', { period, category, sort: r.sort === 'rank' ? undefined : r.sort, dir: r.sort === 'rank' ? undefined : r.dir });
  const rowLocals = rankingRowLocals(v, r);
  const bodyParts = () =>
    tableBodyParts(req.app, {
      page: ['pages/ranking/index', rankingPageLocals(v, r, periods, ROWS_SLOT, pager)],
      rowsView: 'pages/ranking/_rows',
      rows: pg,
      rowsLocals: (start, end) => ({ layout: false, r: { period }, rows: r.rows(start, end).map(rowLocals) }),
    });

  // Reviewers and admins act on the period from here (publish, recompute; admins reopen): not cached.
  let actions: Buffer | null = null;
  if (v.role === 'reviewer' || v.role === 'admin') {
    const per = opened.find((p) => p.period === period)!;
    const html = await renderView(req.app, 'pages/ranking/_actions', {
      layout: false,
      ...res.locals,
      period,
      isFinal: r.status === 'final',
      canReopen: v.role === 'admin',
      canPublish: clock.now().getTime() > Date.parse(per.deadline),
      deadline: per.deadline,
    });
    actions = Buffer.from(html, 'utf8');
  }
  const printTitle = `${r.label}${UNIT_CATEGORY_LABELS[category]}政务数据共享考核排名（${r.status === 'final' ? '正式结果' : '暂定结果'}）`;
  const layout = await layoutOf(req, res, { title: '排名', printTitle, styles: ['/public/css/pages.css'], scripts: ['/public/js/pages.js'] });

  if (pg.end - pg.start > rankingBodies.aboveRows) {
    await streamPage(req, res, layout, (async function* () {
      if (actions) yield actions;
      yield* bodyParts();
    })());
    return;
  }
  const viewerKey = v.role === 'reporter' ? ['reporter', v.unit ?? null] : ['all'];
  const bodyKey = JSON.stringify([
    period, r.computeId, r.status, r.publishedAt, r.computedAt, r.schemeVersion, category, r.sort, r.dir, pg.start, pg.end, pg.pages,
    r.indicators.map((i) => i.id), periods.map((p) => [p.period, p.status]), viewerKey,
  ]);
  const { body } = await bodies.get(bodyKey, async () => {
    const parts: Buffer[] = [];
    for await (const b of bodyParts()) parts.push(b);
    return Buffer.concat(parts);
  });
  sendPage(req, res, layout, actions ? Buffer.concat([actions, body]) : body);
});

const quotaText = (a: AnnualView) => `${Math.round(a.excellentQuota * 100)}%`;

/** One annual row's template locals. Exported for tests. */
export function annualRowLocals(v: Viewer, a: AnnualView): (r: AnnualView['rows'][number]) => Record<string, unknown> {
  const top = a.grades[0];
  const second = a.grades[1];
  const quota = quotaText(a);
  return (r) => ({
    ...r,
    cells: a.quarters.map((x) => (r.quarters[x.period] === null || r.quarters[x.period] === undefined ? '—' : r.quarters[x.period]!.toFixed(2))),
    totalText: r.total.toFixed(2),
    own: v.role === 'reporter' && r.unit === v.unit,
    fail: r.grade === '不合格',
    cappedTitle: r.capped ? `年度总分达到${top!.grade}分数线（${top!.min} 分），受 ${quota} ${top!.grade}名额限制评为${second!.grade}` : null,
    reasons: r.ineligibleReasons.join('；'),
  });
}

/** The annual page template's locals (`rowsHtml`: the table's rendered rows). Exported for tests. */
export function annualPageLocals(a: AnnualView, rowsHtml: string, pager: PagerLocals | null = null): Record<string, unknown> {
  const top = a.grades[0];
  const second = a.grades[1];
  return {
    layout: false,
    a,
    catLabel: UNIT_CATEGORY_LABELS[a.category],
    years: a.years.map((y) => ({ year: y, selected: y === a.year })),
    quarters: a.quarters.map((x) => ({ ...x, statusText: x.status === 'final' ? '已发布' : x.status === 'provisional' ? '暂定' : '无结果' })),
    tabs: UNIT_CATEGORIES.map((c) => ({
      label: UNIT_CATEGORY_LABELS[c],
      count: a.counts[c],
      href: `/annual${periodQuery({ year: String(a.year), category: c })}`,
      current: c === a.category,
    })),
    rowsHtml,
    pager,
    excellent: { grade: top?.grade, min: top?.min, demoted: second?.grade, quota: quotaText(a) },
    quarterLink: (a.quarters.filter((x) => x.status !== 'none').at(-1) ?? null)?.period ?? null,
  };
}

// 年度排名 (/annual?year=Y&category=C): the year's units by annual total. 404 for a year with no opened
// quarter. Put together like the ranking page (rows rendered a chunk at a time, streamed above
// rankingBodies.aboveRows), not cached: the year's view is computed per request (shared by requests
// at once, server/services/eligibility.ts).
router.get('/annual', requireAuth, async (req: Request, res: Response) => {
  const v = viewerOf(req);
  const a = await annualPage(v, q(req, 'year'), q(req, 'category'));
  const pg = tablePage(q(req, 'page'), a.rows.length, v.role === 'reporter' && v.unit ? pageWith(a.rows.findIndex((r) => r.unit === v.unit)) : 1);
  const pager = pagerLocals(pg, '/annual', { year: String(a.year), category: a.category });
  const rowLocals = annualRowLocals(v, a);
  const bodyParts = () =>
    tableBodyParts(req.app, {
      page: ['pages/ranking/annual', annualPageLocals(a, ROWS_SLOT, pager)],
      rowsView: 'pages/ranking/_annual_rows',
      rows: pg,
      rowsLocals: (start, end) => ({ layout: false, rows: a.rows.slice(start, end).map(rowLocals) }),
    });
  const printTitle = `${a.year}年度${UNIT_CATEGORY_LABELS[a.category]}政务数据共享考核排名（${a.final ? '正式结果' : '暂定结果'}）`;
  const layout = await layoutOf(req, res, { title: `${a.year} 年度排名`, printTitle, styles: ['/public/css/pages.css'], scripts: ['/public/js/pages.js'] });
  if (pg.end - pg.start > rankingBodies.aboveRows) {
    await streamPage(req, res, layout, bodyParts());
    return;
  }
  const parts: Buffer[] = [];
  for await (const b of bodyParts()) parts.push(b);
  sendPage(req, res, layout, Buffer.concat(parts));
});

// 单位对比 (/compare?period=P&units=A&units=B…, from the ranking's checkboxes): 2–5 units side by side.
router.get('/compare', requireAuth, async (req: Request, res: Response) => {
  const v = viewerOf(req);
  const codes = parseCompareUnits((req.query as Record<string, unknown>).units);
  const period = await resolvePeriod(v, q(req, 'period'));
  const c = await compareUnits(v, period, codes);
  res.render('pages/ranking/compare', {
    title: `单位对比 · ${period}`,
    printTitle: `${c.label}单位考核结果对比（${c.status === 'final' ? '正式结果' : '暂定结果'}）`,
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/pages.js'],
    c,
    badge: STATUS_BADGE[c.status],
    columns: c.columns.map((col) => ({
      ...col,
      arrow: arrow(col.row.rankChange),
      tags: flagTags(col.row.flags),
      href: col.visible ? `/units/${col.unit}?period=${period}` : null,
    })),
    indicatorRows: c.indicators.map((i) => ({
      ...i,
      cells: c.columns.map((col) => {
        const s = col.cells.scores.find((x) => x.id === i.id)!;
        const score = col.row.indicators[i.id]?.score ?? null;
        return { ...s, best: s.applicable && c.best[i.id] !== null && score === c.best[i.id] };
      }),
    })),
    rankingHref: `/ranking${periodQuery({ period, category: c.columns[0]?.row.category })}`,
    bands: SCORE_BANDS,
  });
});

const back = (period: string) => `/ranking?period=${encodeURIComponent(period)}`;

router.post('/ranking/:period/publish', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(String(req.params.period));
  await withFlash(req, async () => {
    await publishPeriod({ username: p.username, role: p.role }, period);
    return `${period} 期考核结果已发布，已按问责规则立案`;
  });
  res.redirect(303, back(period));
});

router.post('/ranking/:period/recompute', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(String(req.params.period));
  await withFlash(req, async () => {
    await recomputeNow({ username: p.username, role: p.role }, period);
    return `${period} 期暂定结果已重新计算`;
  });
  res.redirect(303, back(period));
});

router.post('/ranking/:period/reopen', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(String(req.params.period));
  const b = (req.body ?? {}) as Record<string, unknown>;
  await withFlash(req, async () => {
    await reopenPeriod({ username: p.username, role: p.role }, period, b.reason);
    return `${period} 期已重新开放（原因已记录），可再次填报和审核`;
  });
  res.redirect(303, back(period));
});

