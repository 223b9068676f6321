import { Router } from 'express';
import { assertCanSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { assertQuarter } from '../../services/periods.ts';
import { publish, reopen } from '../../services/publication.ts';
import { explainUnit, getResultsBody } from '../../services/scoring.ts';

// /api/v1/results (SPEC §7). Mounted by server/app.ts at /api/v1.
//
// Visibility: office, reviewers and admins see every row. Reporters see the whole published ranking
// (status final); before publication they see their own unit's row only.
export const router = Router();

/**
 * GET /results/:period → {period, status, schemeVersion, results: [...]} (+ computedAt, publishedAt, deadline).
 * The body is served from bytes cached per snapshot (server/services/scoring.ts getResultsBody), with a
 * strong ETag; `Cache-Control: private, no-cache`: a client may keep it but must revalidate every
 * time (If-None-Match → 304 while the snapshot and its status are unchanged). Gzip-compressed (with
 * its own ETag) for clients that accept it.
 */
router.get('/results/:period', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(String(req.params.period));
  const b = await getResultsBody(period, p.role === 'reporter' ? { reporterUnit: p.unit ?? '' } : {});
  let { body, etag } = b;
  res.vary('Accept-Encoding');
  // gzip (compressed once per snapshot) only when the client asks for it and prefers it to identity.
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
  res.json(await publish({ username: p.username, role: p.role }, String(req.params.period)));
});

/** POST /results/:period/reopen {reason} (admin) → provisional results again; audited. */
router.post('/results/:period/reopen', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const b = (req.body ?? {}) as Record<string, unknown>;
  res.json(await reopen({ username: p.username, role: p.role }, String(req.params.period), b.reason));
});

// GET /results/:period/sheet.xlsx and GET /results/:period/units/:code/sheet.xlsx (the assessment
// workbooks) are added by the dashboard / Excel work — not here.

