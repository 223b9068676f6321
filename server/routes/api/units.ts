import { Router } from 'express';
import { requireAuth, requireRole, principalOf } from '../../http/auth.ts';
import { getUnit, listUnits, upsertUnit } from '../../services/units.ts';
import { notFound } from '../../domain/errors.ts';

// /api/v1 units (SPEC §1, §7).
export const router = Router();

router.get('/units', requireAuth, async (_req, res) => {
  res.json(await listUnits());
});

router.get('/units/:code', requireAuth, async (req, res) => {
  const u = await getUnit(String(req.params.code));
  if (!u) throw notFound('unit_not_found', `单位「${req.params.code}」不存在`);
  res.json(u);
});

router.put('/units/:code', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const { created, unit } = await upsertUnit({ username: p.username, role: p.role }, String(req.params.code), req.body ?? {});
  res.status(created ? 201 : 200).json(unit);
});
