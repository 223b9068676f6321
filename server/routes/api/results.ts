import { Router } from 'express';
import { assertCanSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { cachedBody, ResponseCache } from '../../http/response-cache.ts';
import { explainUnit, readSet, viewOf } from '../../results/read.ts';
import { publishPeriod, reopenPeriod } from '../../results/publication.ts';
import { snapshotOf } from '../../results/snapshot.ts';
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

/**
 * GET /results/:period → {period, status, schemeVersion, results: [...]} (+ computedAt, publishedAt, deadline).
 * Strong ETag; `Cache-Control: private, no-cache`: a client may keep it but must revalidate every time
 * (If-None-Match → 304 while the snapshot and its status are unchanged). Gzip for clients that accept it.
 */
router.get('/results/:period', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const set = await readSet(assertQuarter(String(req.params.period)));
  let b;
  if (p.role === 'reporter' && set.status !== 'final') {
    // Before publication a reporter sees its own row only (decided on the pointer the body is built from).
    const own = (await snapshotOf(set)).rows.filter((r) => r.unit === (p.unit ?? ''));
    b = cachedBody(Buffer.from(JSON.stringify(viewOf(set, own))));
  } else {
    const key = `${String(set.computeId)}|${JSON.stringify(viewOf(set, []))}`;
    b = await bodies.get(key, async () => Buffer.from(JSON.stringify(viewOf(set, (await snapshotOf(set)).rows))));
  }
  let { body, etag } = b;
  res.vary('Accept-Encoding');
  if (b.gzipped && req.headers['accept-encoding'] && req.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ({ body, etag } = await b.gzipped());
    res.set('Content-Encoding', 'gzip');
  }
  res.set({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'private, no-cache', ETag: etag });
  // res.send answers 304 (no body) when the request's If-None-Match names this ETag.
  res.send(body);
});

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
