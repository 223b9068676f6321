// CSRF protection (synchroniser token in the session) for every state-changing request that a
// browser could forge: web forms and page scripts calling /api with the session cookie.
// Exempt: requests carrying an Authorization header (a browser cannot add one cross-site) and
// /api requests without a logged-in session (they are refused with 401 by requireAuth anyway).
//
// Where the token goes: forms include `{{> csrf}}` (hidden field `_csrf`); page scripts send the
// `X-CSRF-Token` header (the layout exposes it as <meta name="csrf-token">); multipart forms,
// whose body is parsed only later by multer, put it in the query: action="/x?_csrf={{csrfToken}}".
import type { Request, RequestHandler } from 'express';
import { csrfSync } from 'csrf-sync';
import { bearerOf } from './auth.ts';

export const isApiRequest = (req: Request): boolean => req.originalUrl === '/api' || req.originalUrl.startsWith('/api/');

function tokenFromRequest(req: Request): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  if (body && typeof body._csrf === 'string') return body._csrf;
  const h = req.headers['x-csrf-token'];
  if (typeof h === 'string') return h;
  if (req.is('multipart/form-data') && typeof req.query._csrf === 'string') return req.query._csrf;
  return undefined;
}

const sync = csrfSync({
  getTokenFromRequest: tokenFromRequest,
  skipCsrfProtection: (req) => bearerOf(req) !== null || (isApiRequest(req) && !req.session?.userId),
  errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
});

export const csrfProtection: RequestHandler = sync.csrfSynchronisedProtection;

/** The session's CSRF token (created on first use). */
export function csrfTokenFor(req: Request): string {
  return sync.generateToken(req);
}

/** A new token (after login: the session is regenerated). */
export function renewCsrfToken(req: Request): string {
  return sync.generateToken(req, true);
}
