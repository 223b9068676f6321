import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { badRequest } from '../../domain/errors.ts';
import { UNIT_CATEGORIES, type UnitCategory } from '../../domain/fields.ts';
import { assertCanSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { cachedBody, ResponseCache, type CachedBody } from '../../http/response-cache.ts';
import { acceptsGzip, jsonStreamHeaders, sendJsonArray, streaming } from '../../http/json-stream.ts';
import { explainUnit, readSet, viewOf } from '../../results/read.ts';
import { publishPeriod, reopenPeriod } from '../../results/publication.ts';
import { snapshotOf, type Snapshot } from '../../results/snapshot.ts';
import type { ResultSetPointer } from '../../results/store.ts';
import { assertQuarter } from '../../services/periods.ts';

// /api/v1/results (SPEC §7). Mounted by server/app.ts at /api/v1.
//
// Visibility: office, reviewers and admins see every row. Reporters see the whole published ranking
// (status final); before publication they see their own unit's row only.
export const router = Router();

// A whole-period body is a pure function of the period's pointer (computeId, status, schemeVersion,
// computedAt, publishedAt, deadline — all in the key) and of the computeId's immutable rows, so a request
// only reads the pointer; any recomputation, publication or reopen gives a new key. At 50k units a body
// is ≈ 25 MB (its gzip adds about a tenth and is counted with it).
const bodies = new ResponseCache({ maxEntries: 8, maxBytes: 96 * 1024 * 1024 });
// Pages and category bodies (what integrations walk through, page after page): kept apart, so that they
// never push the whole-period bodies out. Keyed like those, plus the query (and the reporter's unit).
const parts = new ResponseCache({ maxEntries: 512, maxBytes: 32 * 1024 * 1024 });

/** Largest page of `GET /results/:period?limit=`. */
export const MAX_PAGE = 5000;

interface PageQuery {
  category: UnitCategory | null;
  limit: number | null;
  after: string | null;
}

/** ?category=&limit=&after= (each at most once, as text); 400 with a stable code otherwise. */
function pageQuery(q: Record<string, unknown>): PageQuery {
  const text = (name: string): string | null => {
    const v = q[name];
    if (v === undefined) return null;
    if (typeof v !== 'string') throw badRequest(name === 'after' ? 'invalid_cursor' : `invalid_${name}`, `参数 ${name} 只能给一个文本值`);
    return v;
  };
  const category = text('category');
  if (category !== null && !(UNIT_CATEGORIES as readonly string[]).includes(category)) {
    throw badRequest('invalid_category', `单位类别只能是 ${UNIT_CATEGORIES.join('、')} 之一`);
  }
  const limitText = text('limit');
  let limit: number | null = null;
  if (limitText !== null) {
    limit = /^[1-9][0-9]{0,6}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE)) throw badRequest('invalid_limit', `每页条数 limit 应为 1 至 ${MAX_PAGE} 的整数`);
  }
  const after = text('after');
  if (after === '') throw badRequest('invalid_cursor', '分页游标 after 不能为空');
  return { category: category as UnitCategory | null, limit, after };
}

// Every position of a snapshot, in result order (the list a whole-period query walks), built once per snapshot.
const everything = new WeakMap<Snapshot, Int32Array>();
function positionsOf(snapshot: Snapshot, category: UnitCategory | null): Int32Array {
  if (category) return snapshot.inCategory(category);
  let all = everything.get(snapshot);
  if (!all) {
    all = Int32Array.from({ length: snapshot.size }, (_, i) => i);
    everything.set(snapshot, all);
  }
  return all;
}

/** Where snapshot position `at` is in `list` (ascending positions), or -1. */
function indexIn(list: Int32Array, at: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < at) lo = mid + 1;
    else if (list[mid]! > at) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/** Rows of a snapshot named by position (materialised only when serialised). */
interface Page {
  snapshot: Snapshot;
  positions: Int32Array;
  next: string | null;
}

/**
 * One page of rows in result order (category, rank, unit code): those after the cursor's unit, at most
 * `limit`; `next` is the last row's unit code when more rows follow, else null.
 */
function pageOf(snapshot: Snapshot, q: PageQuery, only: (unit: string) => boolean): Page {
  const all = positionsOf(snapshot, q.category);
  let start = 0;
  if (q.after !== null) {
    const at = snapshot.indexOf(q.after);
    const i = at < 0 ? -1 : indexIn(all, at);
    if (i < 0 || !only(q.after)) {
      throw badRequest('invalid_cursor', `分页游标 ${JSON.stringify(q.after).slice(0, 80)} 不在本期结果中（结果可能已重新计算），请从第一页重新读取`);
    }
    start = i + 1;
  }
  const picked: number[] = [];
  let i = start;
  for (; i < all.length && (q.limit === null || picked.length < q.limit); i++) if (only(snapshot.unit(all[i]!))) picked.push(all[i]!);
  let more = false;
  for (; i < all.length && !more; i++) more = only(snapshot.unit(all[i]!));
  // Every row from `start` on (the usual whole-period and category bodies): a view of the list, no copy.
  const positions = picked.length === all.length - start ? all.subarray(start) : Int32Array.from(picked);
  return { snapshot, positions, next: more && picked.length > 0 ? snapshot.unit(picked[picked.length - 1]!) : null };
}

/**
 * GET /results/:period → {period, status, schemeVersion, results: [...]} (+ computedAt, publishedAt, deadline).
 * `?category=department|city|county`: that category's rows only. `?limit=N` (1 … MAX_PAGE) pages the rows
 * in result order and adds `next` (the unit code to pass as `?after=` for the following page, null on the
 * last one); `?after=` alone gives every row after that unit. Rows keep SPEC §7's shape.
 * Strong ETag; `Cache-Control: private, no-cache`: a client may keep it but must revalidate every time
 * (If-None-Match → 304 while the snapshot and its status are unchanged). Gzip for clients that accept it.
 */
router.get('/results/:period', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(String(req.params.period));
  const q = pageQuery(req.query as Record<string, unknown>);
  const set = await readSet(period);
  // Before publication a reporter sees its own row only (decided on the pointer the body is built from).
  const ownOnly = p.role === 'reporter' && set.status !== 'final';
  const pointerKey = `${String(set.computeId)}|${JSON.stringify(viewOf(set, []))}`;
  const partKey = `${pointerKey}|${JSON.stringify([q.category, q.limit, q.after])}`;
  let b: CachedBody | undefined;
  if (ownOnly) {
    // A reporter before publication: one row, never cached.
    const page = pageOf(await snapshotOf(set), q, (unit) => unit === (p.unit ?? ''));
    b = cachedBody(bodyBytes(set, q, page));
  } else {
    const whole = q.category === null && q.limit === null && q.after === null;
    const cache = whole ? bodies : parts;
    const key = whole ? pointerKey : partKey;
    b = cache.peek(key);
    if (!b) {
      const page = pageOf(await snapshotOf(set), q, () => true);
      if (q.limit === null && page.positions.length > streaming.aboveRows) {
        // A large body (≈ 25 MB for a whole province of 50 000 units): streamed row by row, not cached.
        await streamBody(req, res, set, page, `${key}|v1`);
        return;
      }
      b = await cache.get(key, async () => bodyBytes(set, q, page));
    }
  }
  let { body, etag } = b;
  res.vary('Accept-Encoding');
  if (b.gzipped && acceptsGzip(req)) {
    ({ body, etag } = await b.gzipped());
    res.set('Content-Encoding', 'gzip');
  }
  res.set({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'private, no-cache', ETag: etag });
  // res.send answers 304 (no body) when the request's If-None-Match names this ETag.
  res.send(body);
});

function bodyBytes(set: ResultSetPointer, q: PageQuery, page: Page): Buffer {
  const view = viewOf(set, Array.from(page.positions, (i) => page.snapshot.row(i)));
  return Buffer.from(JSON.stringify(q.limit !== null ? { ...view, next: page.next } : view));
}


/**
 * Writes `JSON.stringify(viewOf(set, rows))` — the very bytes a cached body holds — without ever holding
 * them whole. The body is a pure function of `key` (the pointer's state and the query; the rows of a
 * computeId never change), so the strong ETag is derived from the key, one per representation
 * (identity, gzip); If-None-Match → 304 as for cached bodies.
 */
async function streamBody(req: Request, res: Response, set: ResultSetPointer, page: Page, key: string): Promise<void> {
  const { snapshot, positions } = page;
  const gzip = jsonStreamHeaders(req, res);
  const etag = `"s${crypto.createHash('sha256').update(`${key}|${gzip ? 'gzip' : 'identity'}`).digest('base64url')}"`;
  res.set({ 'Cache-Control': 'private, no-cache', ETag: etag });
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  await sendJsonArray(req, res, { empty: JSON.stringify(viewOf(set, [])), count: positions.length, item: (i) => JSON.stringify(snapshot.row(positions[i]!)) }, gzip);
}

/**
 * GET /results/:period/units/:code/explain → how the unit's result came about: each indicator's
 * inputs, formula, value, weight, score and applicability, the redistribution, the deductions,
 * rounding, grade (quota) and rank. Reporters: their own unit only.
 */
router.get('/results/:period/units/:code/explain', requireAuth, async (req, res) => {
  const period = assertQuarter(String(req.params.period));
  const code = String(req.params.code);
  assertCanSeeUnit(principalOf(req), code);
  res.json(await explainUnit(period, code));
});

/** POST /results/:period/publish (reviewer, admin) → the final results. 409 when already final or before the deadline. */
router.post('/results/:period/publish', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  res.json(await publishPeriod({ username: p.username, role: p.role }, String(req.params.period)));
});

/** POST /results/:period/reopen {reason} (admin) → provisional results again; audited. */
router.post('/results/:period/reopen', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const b = (req.body ?? {}) as Record<string, unknown>;
  res.json(await reopenPeriod({ username: p.username, role: p.role }, String(req.params.period), b.reason));
});
