// CSRF protection for every state-changing request that a browser could forge: web forms and page
// scripts calling /api with the session cookie. Exempt: requests carrying an Authorization header (a
// browser cannot add one cross-site) and /api requests without a logged-in session (they are refused
// with 401 by requireAuth anyway).
//
// Two kinds of token, so that an anonymous visitor costs no stored session (issue 12, item 6):
// - signed in: the synchroniser token kept in the session (csrf-sync);
// - anonymous (the login form, error pages): a signed double-submit token, nothing stored: a random
//   nonce in the short-lived `lcsrf` cookie (HttpOnly, SameSite=Strict) and, in the form, the time it
//   was issued with an HMAC of nonce and time under a key derived from the session secret. It is
//   valid for LOGIN_CSRF_TTL_MS with the cookie it was made for, and for nothing once signed in.
//
// Where the token goes — never in a URL (URLs end up in logs, history and Referer headers):
// forms include `{{> csrf}}` (hidden field `_csrf`), multipart forms too (the field is read once
// multer has parsed the body, see verifyMultipartCsrf); page scripts send the `X-CSRF-Token` header
// (the layout exposes the token as <meta name="csrf-token">).
import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import { clock } from '../clock.ts';
import { bearerOf } from './auth.ts';

export const isApiRequest = (req: Request): boolean => req.originalUrl === '/api' || req.originalUrl.startsWith('/api/');

/** Lifetime of an anonymous (login form) token and of its cookie. */
export const LOGIN_CSRF_TTL_MS = 2 * 3600 * 1000;
export const LOGIN_CSRF_COOKIE = 'lcsrf';

/**
 * Multipart forms of the pages: their token is in the body, which only the route's multer parses, so
 * the check waits until then (verifyMultipartCsrf, called by the upload middleware). Any other
 * multipart request must carry the X-CSRF-Token header: a route that never parses its body can never
 * skip the check.
 */
const MULTIPART_FORMS: readonly RegExp[] = [
  /^\/returns\/upload$/,
  /^\/admin\/units\/import$/,
  /^\/admin\/users\/import$/,
  /^\/accountability\/cases\/[0-9a-f]{24}\/rectifications$/,
  /^\/returns\/\d{4}Q[1-4]\/[^/]+\/evidence$/,
];

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set when the CSRF check waits for the multipart body (see MULTIPART_FORMS). */
      csrfDeferred?: boolean;
    }
  }
}

let signingKey: Buffer | null = null;
let alwaysSecure = false;

/** Called once by createApp: the key of anonymous tokens is derived from the session secret. */
export function configureCsrf(opts: { sessionSecret: string; secureCookies: boolean }): void {
  signingKey = crypto.createHmac('sha256', opts.sessionSecret).update('login-csrf/v1').digest();
  alwaysSecure = opts.secureCookies;
}

function key(): Buffer {
  if (!signingKey) throw new Error('CSRF not configured (configureCsrf)');
  return signingKey;
}

const signedIn = (req: Request): boolean => typeof req.session?.userId === 'string';

function tokenFromHeader(req: Request): string | undefined {
  const h = req.headers['x-csrf-token'];
  return typeof h === 'string' && h !== '' ? h : undefined;
}

function tokenFromBody(req: Request): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  return body && typeof body._csrf === 'string' && body._csrf !== '' ? body._csrf : undefined;
}

const sync = csrfSync({
  getTokenFromRequest: (req) => tokenFromBody(req) ?? tokenFromHeader(req),
  errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
});

// ---- anonymous: signed double-submit ----

function cookieOf(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const NONCE = /^[A-Za-z0-9_-]{22,64}$/;
const mac = (nonce: string, issued: string) => crypto.createHmac('sha256', key()).update(`${nonce}.${issued}`).digest('base64url');

function anonymousToken(req: Request, res: Response): string {
  let nonce = cookieOf(req, LOGIN_CSRF_COOKIE);
  if (!nonce || !NONCE.test(nonce)) nonce = crypto.randomBytes(18).toString('base64url');
  // (Re)sent with every form: the cookie lives as long as the newest token made for it.
  res.cookie(LOGIN_CSRF_COOKIE, nonce, {
    httpOnly: true,
    sameSite: 'strict',
    secure: alwaysSecure || req.secure,
    maxAge: LOGIN_CSRF_TTL_MS,
    path: '/',
  });
  const issued = clock.now().getTime().toString(36);
  return `${issued}.${mac(nonce, issued)}`;
}

function anonymousTokenValid(req: Request, token: string | undefined): boolean {
  const nonce = cookieOf(req, LOGIN_CSRF_COOKIE);
  if (!token || !nonce || !NONCE.test(nonce)) return false;
  const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return false;
  const issued = parseInt(m[1]!, 36);
  const age = clock.now().getTime() - issued;
  if (!Number.isFinite(issued) || age < 0 || age > LOGIN_CSRF_TTL_MS) return false;
  const expected = Buffer.from(mac(nonce, m[1]!));
  const given = Buffer.from(m[2]!);
  return expected.length === given.length && crypto.timingSafeEqual(expected, given);
}

// ---- the middleware ----

const IGNORED = new Set(['GET', 'HEAD', 'OPTIONS']);
const csrfError = () => sync.invalidCsrfTokenError;

function valid(req: Request, token: string | undefined): boolean {
  if (signedIn(req)) return typeof token === 'string' && token === sync.getTokenFromState(req);
  return anonymousTokenValid(req, token);
}

export const csrfProtection: RequestHandler = (req, _res, next) => {
  if (IGNORED.has(req.method)) return next();
  if (bearerOf(req) !== null || (isApiRequest(req) && !signedIn(req))) return next();
  const header = tokenFromHeader(req);
  if (header === undefined && req.is('multipart/form-data') && MULTIPART_FORMS.some((r) => r.test(req.path))) {
    req.csrfDeferred = true;
    return next();
  }
  next(valid(req, header ?? tokenFromBody(req)) ? undefined : csrfError());
};

/** For multipart routes, once multer has parsed the body: the deferred check, on the `_csrf` field. */
export function verifyMultipartCsrf(req: Request, next: NextFunction): void {
  if (!req.csrfDeferred) return next();
  req.csrfDeferred = false;
  next(valid(req, tokenFromBody(req)) ? undefined : csrfError());
}

/**
 * The CSRF token of this request's forms: the session's when signed in (created on first use),
 * else an anonymous one (sets its cookie; nothing stored on the server).
 */
export function csrfTokenFor(req: Request, res: Response): string {
  return signedIn(req) ? sync.generateToken(req) : anonymousToken(req, res);
}

/** After login (the session was regenerated): the anonymous cookie has done its job. */
export function dropAnonymousCsrf(req: Request, res: Response): void {
  if (cookieOf(req, LOGIN_CSRF_COOKIE) !== undefined) res.clearCookie(LOGIN_CSRF_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: alwaysSecure || req.secure });
}
