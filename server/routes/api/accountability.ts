import { Router } from 'express';
import { badRequest } from '../../domain/errors.ts';
import { assertCanSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { MAX_ATTACHMENTS_PER_RECTIFICATION } from '../../domain/attachments.ts';
import {
  decideExtension,
  decideRectification,
  getCase,
  listCases,
  rectificationQueue,
  requestExtension,
  submitRectification,
  updateCaseStatus,
  type CaseActor,
} from '../../services/accountability.ts';
import { filesUpload, incomingFiles } from '../../http/uploads.ts';
import type { Principal } from '../../http/auth.ts';
import { assertQuarter, getPeriod } from '../../services/periods.ts';

// /api/v1/accountability (SPEC §7). Reporters see their own unit's cases only.
export const router = Router();

/** GET /accountability?period=P[&unit=U][&status=S] → [{unit, period, rule, type, status, dueAt, id, openedAt, resolvedAt, reason}]. */
router.get('/accountability', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const q = req.query as Record<string, unknown>;
  const period = q.period === undefined || q.period === '' ? undefined : assertQuarter(String(q.period));
  if (period) await getPeriod(period);
  let unit = q.unit === undefined || q.unit === '' ? undefined : String(q.unit);
  if (p.role === 'reporter') {
    if (unit !== undefined) assertCanSeeUnit(p, unit);
    unit = p.unit ?? '\u0000';
  }
  const status = q.status === undefined || q.status === '' ? undefined : String(q.status);
  if (status !== undefined && !['open', 'rectifying', 'resolved', 'overdue'].includes(status)) {
    throw badRequest('invalid_case_status', `未知的案件状态：${status}`);
  }
  res.json(await listCases({ period, unit, status }));
});

/** GET /accountability/cases/:id → the case with its history (who changed what, when). */
router.get('/accountability/cases/:id', requireAuth, async (req, res) => {
  const c = await getCase(String(req.params.id));
  assertCanSeeUnit(principalOf(req), c.unit);
  res.json(c);
});

/** PATCH /accountability/cases/:id {status: rectifying|resolved, comment} (reviewer, admin) → the case. */
router.patch('/accountability/cases/:id', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const b = (req.body ?? {}) as Record<string, unknown>;
  res.json(await updateCaseStatus({ username: p.username, role: p.role }, String(req.params.id), b));
});

const actor = (p: Principal): CaseActor => ({ username: p.username, role: p.role, ...(p.unit ? { unit: p.unit } : {}) });

/** GET /accountability/rectifications/pending → rectifications awaiting 核查, oldest first (reviewers, admins, office). */
router.get('/accountability/rectifications/pending', requireRole('reviewer', 'admin', 'office'), async (_req, res) => {
  res.json(await rectificationQueue());
});

/** POST /accountability/cases/:id/rectifications (the unit's reporter; multipart `report` + `files`) → 201 {id}. */
router.post(
  '/accountability/cases/:id/rectifications',
  requireRole('reporter'),
  filesUpload(MAX_ATTACHMENTS_PER_RECTIFICATION, '每份整改报告'),
  async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const r = await submitRectification(actor(principalOf(req)), String(req.params.id), { report: b.report }, incomingFiles(req));
    res.status(201).json({ id: r.id, status: r.case.status });
  },
);

/** POST /accountability/cases/:id/decision {decision: accept|return, comment} (reviewer) → the case. */
router.post('/accountability/cases/:id/decision', requireRole('reviewer', 'admin'), async (req, res) => {
  res.json(await decideRectification(actor(principalOf(req)), String(req.params.id), (req.body ?? {}) as Record<string, unknown>));
});

/** POST /accountability/cases/:id/extensions {reason} (the unit's reporter: 申请延期) → 201 {id}. */
router.post('/accountability/cases/:id/extensions', requireRole('reporter'), async (req, res) => {
  const r = await requestExtension(actor(principalOf(req)), String(req.params.id), (req.body ?? {}) as Record<string, unknown>);
  res.status(201).json({ id: r.id });
});

/** POST /accountability/cases/:id/extensions/:eid/decision {decision: grant|deny, dueAt?, comment?} (reviewer) → the case. */
router.post('/accountability/cases/:id/extensions/:eid/decision', requireRole('reviewer', 'admin'), async (req, res) => {
  res.json(await decideExtension(actor(principalOf(req)), String(req.params.id), String(req.params.eid), (req.body ?? {}) as Record<string, unknown>));
});
