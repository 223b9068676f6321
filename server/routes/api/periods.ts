import { Router } from 'express';
import { requireAuth, requireRole, principalOf } from '../../http/auth.ts';
import { badRequest } from '../../domain/errors.ts';
import { getPeriod, setClosed, setDeadline } from '../../services/periods.ts';

// /api/v1 periods (SPEC §2, §7). GET answers also for a period with no stored document (default deadline).
export const router = Router();

router.get('/periods/:period', requireAuth, async (req, res) => {
  res.json(await getPeriod(String(req.params.period)));
});

router.put('/periods/:period', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const body = (req.body ?? {}) as { deadline?: unknown; closed?: unknown };
  const actor = { username: p.username, role: p.role };
  if (body.deadline === undefined && body.closed === undefined) throw badRequest('invalid_deadline', '请提供截止时间 deadline（ISO 8601）');
  if (body.closed !== undefined && typeof body.closed !== 'boolean') throw badRequest('invalid_closed', 'closed 应为 true 或 false');
  let created = false;
  if (body.deadline !== undefined) created = (await setDeadline(actor, String(req.params.period), body.deadline)).created;
  if (typeof body.closed === 'boolean') await setClosed(actor, String(req.params.period), body.closed);
  res.status(created ? 201 : 200).json(await getPeriod(String(req.params.period)));
});
