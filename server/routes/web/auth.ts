import { Router, type Request } from 'express';
import { AppError } from '../../domain/errors.ts';
import { clientAddress } from '../../http/client.ts';
import { PASSWORD_PAGE, principalOf, requireAuth } from '../../http/auth.ts';
import { dropAnonymousCsrf } from '../../http/csrf.ts';
import { setFlash } from '../../http/flash.ts';
import { PASSWORD_MIN_LENGTH, retryAfterOf, verifyLogin } from '../../services/auth.ts';
import { changeOwnPassword } from '../../services/users.ts';

// Web login / logout with sessions. Mounted by server/app.ts at /.
export const router = Router();

/** Only local paths: never redirect to another site after login. */
export function safeNext(v: unknown): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\')) return '/';
  if (v.startsWith('/login') || v.startsWith('/logout')) return '/';
  return v;
}

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

router.get('/login', (req, res) => {
  if (req.principal) return res.redirect(303, safeNext(req.query.next));
  res.render('pages/auth/login', { title: '登录', next: safeNext(req.query.next), bare: true });
});

router.post('/login', async (req, res) => {
  const body = (req.body ?? {}) as { username?: unknown; password?: unknown; next?: unknown };
  const next = safeNext(body.next);
  try {
    const user = await verifyLogin(body.username, body.password, clientAddress(req));
    await regenerate(req); // a fresh session id: no session fixation
    req.session.userId = user.id;
    req.session.authVersion = user.authVersion;
    await save(req);
    dropAnonymousCsrf(req, res);
    res.redirect(303, user.mustChangePassword ? passwordPage(next) : next);
  } catch (err) {
    if (!(err instanceof AppError) || ![400, 401, 429].includes(err.status)) throw err;
    if (err.status === 429) res.setHeader('Retry-After', String(retryAfterOf(err) ?? 60));
    res.status(err.status).render('pages/auth/login', {
      title: '登录',
      next,
      bare: true,
      username: typeof body.username === 'string' ? body.username : '',
      error: err.message,
    });
  }
});

const passwordPage = (next: string) => PASSWORD_PAGE + (next === '/' ? '' : `?next=${encodeURIComponent(next)}`);

function renderPassword(req: Request, res: import('express').Response, extra: { status?: number; error?: string } = {}) {
  const p = principalOf(req);
  res.status(extra.status ?? 200).render('pages/auth/password', {
    title: '修改密码',
    subtitle: `账号：${p.username}。修改后，该账号在其他设备上的登录和 API 令牌随即失效。`,
    required: p.mustChangePassword === true,
    username: p.username,
    minLength: PASSWORD_MIN_LENGTH,
    next: safeNext(req.method === 'GET' ? req.query.next : (req.body as { next?: unknown } | undefined)?.next),
    error: extra.error ?? null,
  });
}

/** Change one's own password (required first for accounts with a generated password: http/auth.ts passwordChangeGate). */
router.get(PASSWORD_PAGE, requireAuth, (req, res) => {
  res.setHeader('Cache-Control', 'no-store');
  renderPassword(req, res);
});

router.post(PASSWORD_PAGE, requireAuth, async (req, res) => {
  const b = (req.body ?? {}) as { current?: unknown; password?: unknown; confirm?: unknown; next?: unknown };
  try {
    const authVersion = await changeOwnPassword(principalOf(req).id, b.current, b.password, b.confirm ?? '');
    // Every other session and token of the user is signed out; this one carries on.
    req.session.authVersion = authVersion;
    setFlash(req, 'ok', '密码已修改，其他设备上的登录已退出');
    await save(req);
    res.redirect(303, safeNext(b.next));
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    renderPassword(req, res, { status: err.status === 401 ? 422 : err.status, error: err.message });
  }
});

router.post('/logout', (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err);
    res.clearCookie('sid');
    res.redirect(303, '/login');
  });
});
