import { Router, type Request, type Response } from 'express';
import { clock } from '../../clock.ts';
import { AppError } from '../../domain/errors.ts';
import { ROLES } from '../../domain/fields.ts';
import { initialPasswordsBuffer, userTemplateBuffer } from '../../excel/user-workbooks.ts';
import { formatDateTime } from '../../excel/template.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash, withFlash } from '../../http/flash.ts';
import { ADMIN_LINKS } from '../../http/nav.ts';
import { singleFile } from '../../http/uploads.ts';
import { backupStatus, formatBytes } from '../../services/backup.ts';
import { listPeriods, timeZone } from '../../services/periods.ts';
import { zoneLabel } from '../../domain/jobs-text.ts';
import { PERIOD_PHASE_LABELS, periodPhase } from '../../domain/vocabulary.ts';
import { createUser, importTemplateUnits, importUsers, listUsers, resetPassword, ROLE_LABELS, setUserActive, unitOptions } from '../../services/users.ts';

// Administration pages: the /admin index and user management. Mounted by server/app.ts at /.
export const router = Router();

router.get('/admin', requireRole('admin'), async (_req, res) => {
  const b = backupStatus();
  const backup = { ...b, size: b.last ? formatBytes(b.last.bytes) : null, ageDays: b.ageHours === null ? null : Math.floor(b.ageHours / 24) };
  const now = clock.now();
  const periods = (await listPeriods()).map((p) => {
    const phase = periodPhase(p, now);
    return { period: p.period, deadline: p.deadline, phase, phaseLabel: PERIOD_PHASE_LABELS[phase] };
  });
  res.render('pages/admin/index', { title: '管理', links: ADMIN_LINKS, backup, periods, zone: zoneLabel(timeZone()) });
});

async function renderUsers(res: Response, extra: { importErrors?: unknown[]; importMessage?: string } = {}) {
  const [users, units] = await Promise.all([listUsers(), unitOptions()]);
  res.status(extra.importErrors ? 422 : 200).render('pages/admin/users', {
    title: '用户管理',
    styles: ['/public/css/intake.css'],
    users,
    units,
    roles: ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] })),
    ...extra,
  });
}

router.get('/admin/users', requireRole('admin'), async (_req, res) => {
  await renderUsers(res);
});

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const attachment = (name: string) => `attachment; filename="users.xlsx"; filename*=UTF-8''${encodeURIComponent(name)}`;

/** The import template: every active unit without an active reporter account, one row each. */
router.get('/admin/users/import/template', requireRole('admin'), async (_req, res) => {
  const buf = await userTemplateBuffer(await importTemplateUnits(), ROLES.map((r) => ROLE_LABELS[r]), ROLE_LABELS.reporter);
  res.setHeader('Content-Type', XLSX);
  res.setHeader('Content-Disposition', attachment('用户导入模板.xlsx'));
  res.send(buf);
});

/**
 * Bulk import: all or nothing. The initial passwords are in this response only — on the page and as an
 * xlsx embedded in it (a data: link, nothing kept on the server) — never stored, never shown again.
 */
router.post('/admin/users/import', requireRole('admin'), singleFile('file'), async (req: Request, res) => {
  if (!req.file) {
    setFlash(req, 'error', '请选择用户清单文件（.xlsx）');
    return res.redirect(303, '/admin/users');
  }
  const p = principalOf(req);
  try {
    const created = await importUsers(p, req.file.buffer);
    const at = formatDateTime(clock.now(), timeZone());
    const rows = created.map((u) => ({ ...u, roleLabel: ROLE_LABELS[u.role] }));
    const xlsx = await initialPasswordsBuffer(rows.map((u) => ({ ...u, role: u.roleLabel })), { at, by: p.username });
    res.setHeader('Cache-Control', 'no-store');
    res.render('pages/admin/users-imported', {
      title: '导入完成：初始密码',
      rows,
      at,
      download: { href: `data:${XLSX};base64,${xlsx.toString('base64')}`, name: `初始密码-${at.slice(0, 10)}.xlsx` },
    });
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const errors = (err.details as { errors?: unknown[] } | undefined)?.errors ?? [{ message: err.message }];
    await renderUsers(res, { importErrors: errors, importMessage: err.message });
  }
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
