import { Router } from 'express';
import { ROLES } from '../../domain/fields.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { withFlash } from '../../http/flash.ts';
import { ADMIN_LINKS } from '../../http/nav.ts';
import { backupStatus, formatBytes } from '../../services/backup.ts';
import { createUser, listUsers, resetPassword, ROLE_LABELS, setUserActive, unitOptions } from '../../services/users.ts';

// Administration pages: the /admin index and user management. Mounted by server/app.ts at /.
export const router = Router();

router.get('/admin', requireRole('admin'), (_req, res) => {
  const b = backupStatus();
  const backup = { ...b, size: b.last ? formatBytes(b.last.bytes) : null, ageDays: b.ageHours === null ? null : Math.floor(b.ageHours / 24) };
  res.render('pages/admin/index', { title: '管理', links: ADMIN_LINKS, backup });
});

router.get('/admin/users', requireRole('admin'), async (_req, res) => {
  const [users, units] = await Promise.all([listUsers(), unitOptions()]);
  res.render('pages/admin/users', {
    title: '用户管理',
    users,
    units,
    roles: ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] })),
  });
});

router.post('/admin/users', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  await withFlash(req, async () => {
    const u = await createUser({
      username: b.username,
      password: b.password,
      role: b.role,
      unit: b.role === 'reporter' ? b.unit : undefined,
      displayName: b.displayName,
    }, { actor: principalOf(req) });
    return `已创建用户 ${u.username}`;
  });
  res.redirect(303, '/admin/users');
});

router.post('/admin/users/:id/deactivate', requireRole('admin'), async (req, res) => {
  await withFlash(req, async () => `已停用用户 ${(await setUserActive(String(req.params.id), false, principalOf(req))).username}`);
  res.redirect(303, '/admin/users');
});

router.post('/admin/users/:id/activate', requireRole('admin'), async (req, res) => {
  await withFlash(req, async () => `已启用用户 ${(await setUserActive(String(req.params.id), true, principalOf(req))).username}`);
  res.redirect(303, '/admin/users');
});

router.post('/admin/users/:id/password', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  await withFlash(req, async () => `已重置用户 ${(await resetPassword(String(req.params.id), b.password, principalOf(req))).username} 的密码`);
  res.redirect(303, '/admin/users');
});
