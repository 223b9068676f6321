// STUB — owned by the foundation work; signatures are the contract other modules rely on.
import type { Request, RequestHandler } from 'express';
import type { Role } from '../domain/fields.ts';

export interface Principal {
  id: string;
  username: string;
  role: Role;
  /** Unit code, for reporters only. */
  unit?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      principal?: Principal;
    }
  }
}

/** Rejects with 401 unless a bearer token (API) or a session (web) identifies a user; sets req.principal. */
export const requireAuth: RequestHandler = (_req, _res, next) => next();

/** Rejects with 403 unless req.principal has one of the roles. Implies requireAuth. */
export function requireRole(..._roles: Role[]): RequestHandler {
  return (_req, _res, next) => next();
}

/** The authenticated principal; throws 401 when absent. */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error('no principal');
  return req.principal;
}

/** Whether the principal may see unit-private data (returns, cases) of `unitCode`. */
export function canSeeUnit(p: Principal, unitCode: string): boolean {
  return p.role !== 'reporter' || p.unit === unitCode;
}
