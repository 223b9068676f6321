// Who is calling: a bearer token (API integrations) or a web session (pages, and page scripts
// calling /api with the session cookie). 401 = nobody identified (no, bad, expired or revoked
// credentials); 403 = identified but not allowed (role, or a reporter touching another unit).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, forbidden, unauthorized } from '../domain/errors.ts';
import type { Role } from '../domain/fields.ts';
import { principalFromSession, principalFromToken } from '../services/auth.ts';

export interface Principal {
  id: string;
  username: string;
  role: Role;
  /** Unit code, for reporters only. */
  unit?: string;
  /** Present while the user must change a generated password (see passwordChangeGate). */
  mustChangePassword?: true;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: Principal;
      /** How the principal was identified, and the token id for bearer tokens. */
      auth?: { via: 'token'; jti: string } | { via: 'session' };
      /** Set when credentials were presented but refused (message for the 401). */
      authFailure?: string;
      /** Memo of identify() for this request. */
      identified?: Promise<void>;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    userId?: string;
    authVersion?: number;
    flash?: { type: 'ok' | 'error'; text: string };
  }
}

/** The bearer token of the request, null when there is no Authorization header, '' when it is not a Bearer one. */
export function bearerOf(req: Request): string | null {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : '';
}

async function doIdentify(req: Request): Promise<void> {
  const bearer = bearerOf(req);
  if (bearer !== null) {
    // A request carrying an Authorization header is judged on it alone (never on a cookie too).
    const p = bearer ? await principalFromToken(bearer) : null;
    if (p) {
      const { jti, ...principal } = p;
      req.principal = principal;
      req.auth = { via: 'token', jti };
    } else {
      req.authFailure = '令牌无效、已过期或已被吊销';
    }
    return;
  }
  const s = req.session;
  if (s?.userId) {
    const p = await principalFromSession(s.userId, s.authVersion);
    if (p) {
      req.principal = p;
      req.auth = { via: 'session' };
    } else {
      delete s.userId;
      delete s.authVersion;
      req.authFailure = '登录已失效，请重新登录';
    }
  }
}

/** Resolves req.principal once per request (no rejection). */
export function identify(req: Request): Promise<void> {
  req.identified ??= doIdentify(req);
  return req.identified;
}

/** Middleware form of identify(): sets req.principal when credentials are valid, never rejects. */
export const identifyMiddleware: RequestHandler = (req, _res, next) => {
  identify(req).then(() => next(), next);
};

/** The page where a user changes their own password (server/routes/web/auth.ts). */
export const PASSWORD_PAGE = '/password';

/** What a user who must change a generated password may still do: that page, and signing out. */
const WEB_ALLOWED = new Set([PASSWORD_PAGE, '/logout']);
const API_ALLOWED = new Set(['DELETE /api/v1/auth/token', 'GET /api/v1/auth/me']);

export const passwordChangeRequired = () =>
  new AppError(403, 'password_change_required', '请先修改初始密码：登录网页后按提示设置新密码，再继续使用');

/**
 * Wired at boot right after identifyMiddleware (server/app.ts). A user whose password was generated
 * (bulk import) and not changed yet: pages redirect (GET) to the change-password page or are refused
 * (403 password_change_required); the API answers 403 password_change_required, except signing the
 * token out and /auth/me.
 */
export const passwordChangeGate: RequestHandler = (req, res, next) => {
  if (!req.principal?.mustChangePassword) return next();
  const path = req.originalUrl.split('?')[0]!;
  if (path === '/api' || path.startsWith('/api/')) {
    return next(API_ALLOWED.has(`${req.method} ${path}`) ? undefined : passwordChangeRequired());
  }
  if (WEB_ALLOWED.has(path)) return next();
  if (req.method === 'GET' || req.method === 'HEAD') {
    const back = path === '/' ? '' : `?next=${encodeURIComponent(req.originalUrl)}`;
    return res.redirect(303, PASSWORD_PAGE + back);
  }
  next(passwordChangeRequired());
};

function check(req: Request, roles: readonly Role[] | null, next: NextFunction): void {
  identify(req).then(() => {
    if (!req.principal) return next(unauthorized(req.authFailure));
    if (roles && !roles.includes(req.principal.role)) return next(forbidden());
    next();
  }, next);
}

/** Rejects with 401 unless a bearer token (API) or a session (web) identifies a user; sets req.principal. */
export const requireAuth: RequestHandler = (req, _res, next) => check(req, null, next);

/** Rejects with 403 unless req.principal has one of the roles. Implies requireAuth (401 first). */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => check(req, roles, next);
}

/** The authenticated principal; throws 401 when absent. */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw unauthorized(req.authFailure);
  return req.principal;
}

/** Whether the principal may see unit-private data (returns, cases) of `unitCode`. */
export function canSeeUnit(p: Principal, unitCode: string): boolean {
  return p.role !== 'reporter' || p.unit === unitCode;
}

/** Throws 403 unless the principal may see unit-private data of `unitCode`. */
export function assertCanSeeUnit(p: Principal, unitCode: string): void {
  if (!canSeeUnit(p, unitCode)) throw new AppError(403, 'forbidden_unit', '无权访问其他单位的数据');
}
