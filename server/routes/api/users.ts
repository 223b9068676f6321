import { Router } from 'express';
import { AppError } from '../../domain/errors.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { singleFile } from '../../http/uploads.ts';
import { createUser, getUser, importUsers, listUsers, resetPassword, setUserActive } from '../../services/users.ts';

// /api/v1/users (admin only). Mounted by server/app.ts at /api/v1.
export const router = Router();

/** POST /users {username, password, role, unit?, displayName?} → 201 {id, username, role, unit, active, …}. */
router.post('/users', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const user = await createUser({ username: b.username, password: b.password, role: b.role, unit: b.unit, displayName: b.displayName }, { actor: principalOf(req) });
  res.status(201).location(`/api/v1/users/${user.id}`).json(user);
});

/**
 * POST /users/import (multipart field `file`: the account list) → 201 {created: [{id, username, role, unit,
 * unitName, displayName, password}]}: the generated initial passwords, in this response only; 422
 * {error: {code: invalid_file, details: {errors: [{sheet, row, column, field, message}]}}} and nothing created.
 */
router.post('/users/import', requireRole('admin'), singleFile('file'), async (req, res) => {
  if (!req.file) throw new AppError(400, 'file_required', '请使用字段 file 上传用户清单（.xlsx）');
  const created = await importUsers(principalOf(req), req.file.buffer);
  res.setHeader('Cache-Control', 'no-store');
  res.status(201).json({ created });
});

/** GET /users → [{id, username, role, unit, active, …}]. */
router.get('/users', requireRole('admin'), async (_req, res) => {
  res.json(await listUsers());
});

router.get('/users/:id', requireRole('admin'), async (req, res) => {
  res.json(await getUser(String(req.params.id)));
});

/** PATCH /users/:id {active?: boolean, password?: string} → 200 the user. Deactivation revokes the user's tokens and sessions. */
router.patch('/users/:id', requireRole('admin'), async (req, res) => {
  const id = String(req.params.id);
  const b = (req.body ?? {}) as Record<string, unknown>;
  if (b.active === undefined && b.password === undefined) throw new AppError(400, 'nothing_to_change', '请提供 active 或 password');
  if (b.active !== undefined && typeof b.active !== 'boolean') throw new AppError(400, 'invalid_value', 'active 必须是 true 或 false');
  let user = await getUser(id);
  if (b.password !== undefined) user = await resetPassword(id, b.password, principalOf(req));
  if (typeof b.active === 'boolean') user = await setUserActive(id, b.active, principalOf(req));
  res.json(user);
});
