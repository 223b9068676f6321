import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type UnitCategory } from '../../domain/fields.ts';
import { requireAuth } from '../../http/auth.ts';
import { numberFormat } from '../../http/view-helpers.ts';
import { naturalDir, periodOptions, periodPointers, ranking, resolvePeriod } from '../../services/dashboard.ts';
import { arrow, flagTags, periodQuery, q, STATUS_BADGE, viewerOf } from './_present.ts';

// 排名 (/ranking): one category of one period, sorted on the server (links work without JS).
export const router = Router();

// The table's numbers are formatted here, once per cell (same text as `{{formatNumber x digits=2}}`):
// per-cell helper calls dominated the page's CPU. '—' when absent.
const num2 = (x: number | null | undefined): string => (typeof x === 'number' && Number.isFinite(x) ? numberFormat(2).format(x) : '—');

// The table's rows as UTF-8 bytes, per (snapshot, category, sort, direction, indicator columns, viewer).
// A snapshot's rows never change (server/services/scoring.ts: a recomputation, publication or reopen
// gives a new computeId or is outside the rows), so an entry is never stale: a request whose period
// now points at another snapshot simply uses another key. The viewer part: office, reviewers and
// admins see the same rows (every unit linked); a reporter's differ (own row marked, only it linked).
// Bounded by entries and bytes (a county table at 1k units is ≈ 0.8 MB of HTML); concurrent
// requests for the same table share one render. Kept as bytes because the page is sent in three
// parts (see sendPage): the rows are neither re-joined into a string nor re-encoded per request.
const ROWS_CACHE_MAX_ENTRIES = 64;
const ROWS_CACHE_MAX_BYTES = 64 * 1024 * 1024;
const rowsCache = new Map<string, { bytes: Promise<Buffer>; size: number }>();
let rowsCacheBytes = 0;

function evictRows(keep: string): void {
  for (const [key, entry] of rowsCache) {
    if (rowsCache.size <= ROWS_CACHE_MAX_ENTRIES && rowsCacheBytes <= ROWS_CACHE_MAX_BYTES) break;
    if (key === keep) continue;
    rowsCache.delete(key);
    rowsCacheBytes -= entry.size;
  }
}

function cachedRows(key: string, render: () => Promise<string>): Promise<Buffer> {
  const hit = rowsCache.get(key);
  if (hit) {
    rowsCache.delete(key);
    rowsCache.set(key, hit);
    return hit.bytes;
  }
  const entry = { bytes: render().then((html) => Buffer.from(html, 'utf8')), size: 0 };
  rowsCache.set(key, entry);
  entry.bytes.then(
    (buf) => {
      if (rowsCache.get(key) !== entry) return;
      entry.size = buf.length;
      rowsCacheBytes += entry.size;
      evictRows(key);
    },
    () => {
      if (rowsCache.get(key) === entry) rowsCache.delete(key);
    },
  );
  evictRows(key);
  return entry.bytes;
}

function renderView(app: Request['app'], view: string, locals: object): Promise<string> {
  return new Promise((resolve, reject) => app.render(view, locals, (err, html) => (err ? reject(err) : resolve(html))));
}

// Stands in for the rows while the rest of the page renders. Handlebars escapes every value but
// rowsHtml, so no user text can produce it; random per process, so no template can contain it.
const ROWS_SLOT = `<!--rows-${randomBytes(12).toString('hex')}-->`;

/**
 * Renders the page around the cached rows and sends it as head · rows · tail: the same bytes as
 * rendering the rows into the page, without copying and encoding the table on every request.
 */
async function sendPage(req: Request, res: Response, view: string, locals: Record<string, unknown>, rows: Buffer): Promise<void> {
  const html = await renderView(req.app, view, { ...locals, _locals: res.locals, rowsHtml: ROWS_SLOT });
  const at = html.indexOf(ROWS_SLOT);
  if (at < 0) throw new Error(`${view}: the rows slot is missing`);
  const head = Buffer.from(html.slice(0, at), 'utf8');
  const tail = Buffer.from(html.slice(at + ROWS_SLOT.length), 'utf8');
  res.status(200);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', head.length + rows.length + tail.length);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  res.write(head);
  res.write(rows);
  res.end(tail);
}

router.get('/ranking', requireAuth, async (req: Request, res: Response) => {
  const v = viewerOf(req);
  // One read of every period's pointer serves the period list, the default period and the results.
  const sets = await periodPointers();
  const period = await resolvePeriod(v, q(req, 'period'), sets);
  const rawCat = q(req, 'category');
  const category: UnitCategory = (UNIT_CATEGORIES as readonly string[]).includes(rawCat ?? '') ? (rawCat as UnitCategory) : 'department';
  const set = sets.find((s) => s.period === period);
  const r = await ranking(v, { period, category, sort: q(req, 'sort'), dir: q(req, 'dir'), set });
  // A period without results until now was just computed: list it too.
  const periods = await periodOptions(v, set ? sets : undefined);

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
  const columns = {
    rank: col('rank', '排名'),
    change: col('change', '变化'),
    code: col('code', '代码'),
    name: col('name', '单位'),
    total: col('total', '总分'),
    base: col('base', '基础分'),
    indicators: r.indicators.map((i) => col(i.id, i.id, { name: i.name, weight: i.weight })),
  };

  const viewerKey = v.role === 'reporter' ? ['reporter', v.unit ?? null] : ['all'];
  const rowsKey = JSON.stringify([period, r.computeId, category, r.sort, r.dir, r.indicators.map((i) => i.id), viewerKey]);
  const rows = await cachedRows(rowsKey, () =>
    renderView(req.app, 'pages/ranking/_rows', {
      layout: false,
      r: { period },
      rows: r.rows().map((row) => ({
        unit: row.unit,
        name: row.name,
        rank: row.rank,
        grade: row.grade,
        visible: row.visible,
        arrow: arrow(row.rankChange),
        tags: flagTags(row.flags),
        own: v.role === 'reporter' && row.unit === v.unit,
        fail: row.grade === '不合格',
        totalText: num2(row.total),
        baseText: num2(row.base),
        deductionsText: row.deductions ? `−${num2(row.deductions)}` : '0',
        scores: r.indicators.map((i) => {
          const ind = row.indicators[i.id];
          return ind?.applicable ? { applicable: true, text: num2(ind.score) } : { applicable: false, text: '' };
        }),
      })),
    }),
  );

  await sendPage(req, res, 'pages/ranking/index', {
    title: '排名',
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/pages.js'],
    r,
    badge: STATUS_BADGE[r.status],
    isFinal: r.status === 'final',
    columns,
    tabs: UNIT_CATEGORIES.map((c) => ({
      label: UNIT_CATEGORY_LABELS[c],
      count: r.counts[c],
      href: `/ranking${periodQuery({ period, category: c, sort: r.sort === 'rank' ? undefined : r.sort, dir: r.sort === 'rank' ? undefined : r.dir })}`,
      current: c === category,
    })),
    catLabel: UNIT_CATEGORY_LABELS[category],
    periods: periods.map((p) => ({ ...p, selected: p.period === period, statusText: p.status === 'final' ? '已发布' : p.status === 'provisional' ? '暂定' : '无结果' })),
    category,
    sheetHref: v.role === 'reporter' ? null : `/api/v1/results/${period}/sheet.xlsx`,
    ownSheetHref: v.role === 'reporter' && v.unit ? `/api/v1/results/${period}/units/${v.unit}/sheet.xlsx` : null,
  }, rows);
});
