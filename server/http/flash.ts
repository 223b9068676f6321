// One-shot messages across a redirect (kept in the session, shown by the layout).
import type { Request } from 'express';

export function setFlash(req: Request, type: 'ok' | 'error', text: string): void {
  if (req.session) req.session.flash = { type, text };
}

export function takeFlash(req: Request): { type: 'ok' | 'error'; text: string } | undefined {
  const f = req.session?.flash;
  if (f) delete req.session.flash;
  return f;
}
