// One-shot messages across a redirect (kept in the session, shown by the layout).
import type { Request } from 'express';
import { AppError } from '../domain/errors.ts';

export function setFlash(req: Request, type: 'ok' | 'error', text: string): void {
  if (req.session) req.session.flash = { type, text };
}

export function takeFlash(req: Request): { type: 'ok' | 'error'; text: string } | undefined {
  const f = req.session?.flash;
  if (f) delete req.session.flash;
  return f;
}

/**
 * Runs a form action and flashes its outcome: its message on success, the error's message for a
 * validation error (an AppError below 500); anything else is thrown on.
 */
export async function withFlash(req: Request, fn: () => Promise<string>): Promise<void> {
  try {
    setFlash(req, 'ok', await fn());
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
}
