import { Router } from 'express';
import { badRequest } from '../../domain/errors.ts';
import { assertCanSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { getCase, listCases, updateCaseStatus } from '../../services/accountability.ts';
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
