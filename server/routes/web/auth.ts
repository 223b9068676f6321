import { Router, type Request } from 'express';
import { AppError } from '../../domain/errors.ts';
import { clientAddress } from '../../http/client.ts';
import { dropAnonymousCsrf } from '../../http/csrf.ts';
import { retryAfterOf, verifyLogin } from '../../services/auth.ts';

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
    res.redirect(303, next);
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

router.post('/logout', (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err);
    res.clearCookie('sid');
    res.redirect(303, '/login');
  });
});
