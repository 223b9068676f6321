import { Router } from 'express';
import { requireAuth, requireRole, principalOf } from '../../http/auth.ts';
import { badRequest } from '../../domain/errors.ts';
import { assertQuarter, getPeriod, listPeriods, setClosed, type PeriodView } from '../../services/periods.ts';
import { openForAssessment } from '../../results/publication.ts';

// /api/v1 periods (SPEC §2, §7): only opened periods exist; a period never opened answers 404 period_not_open.
export const router = Router();

const contract = (p: PeriodView) => ({
  period: p.period,
  deadline: p.deadline,
  status: p.status,
  publishedAt: p.publishedAt,
  defaultDeadline: p.defaultDeadline,
  closed: p.closed,
  openedAt: p.openedAt,
  openedBy: p.openedBy,
});

/** GET /periods → the opened periods, newest first. */
router.get('/periods', requireAuth, async (_req, res) => {
  res.json((await listPeriods()).map(contract));
});

router.get('/periods/:period', requireAuth, async (req, res) => {
  res.json(contract(await getPeriod(assertQuarter(String(req.params.period)))));
});

/**
 * PUT /periods/:period {deadline?, closed?} (admin): opens the period if needed (201, with its first
 * provisional results) and sets its deadline (409 period_published once published).
 */
router.put('/periods/:period', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(String(req.params.period));
  const body = (req.body ?? {}) as { deadline?: unknown; closed?: unknown };
  const actor = { username: p.username, role: p.role };
  if (body.closed !== undefined && typeof body.closed !== 'boolean') throw badRequest('invalid_closed', 'closed 应为 true 或 false');
  const { created } = await openForAssessment(actor, period, body.deadline !== undefined ? { deadline: body.deadline } : {});
  if (typeof body.closed === 'boolean') await setClosed(actor, period, body.closed);
  res.status(created ? 201 : 200).json(contract(await getPeriod(period)));
});
