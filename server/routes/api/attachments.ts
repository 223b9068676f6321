import { Router, type Request, type Response } from 'express';
import { principalOf, requireAuth } from '../../http/auth.ts';
import { openAttachment } from '../../services/attachments.ts';

// /api/v1/attachments (SPEC §7): downloads, always as attachments, never rendered inline.
export const router = Router();

/** Sends a stored attachment as a download (never inline). */
export async function sendAttachment(req: Request, res: Response, id: string): Promise<void> {
  const p = principalOf(req);
  const f = await openAttachment({ username: p.username, role: p.role, ...(p.unit ? { unit: p.unit } : {}) }, id);
  res.attachment(f.name); // Content-Disposition: attachment; filename="…"; filename*=UTF-8''…
  res.setHeader('Content-Type', f.contentType);
  res.setHeader('Content-Length', String(f.size));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('Digest', `sha-256=${Buffer.from(f.sha256, 'hex').toString('base64')}`);
  f.stream.on('error', (err) => (res.headersSent ? res.destroy(err) : res.status(500).end()));
  f.stream.pipe(res);
}

/** GET /attachments/:id → the file, to those who may see its case or return (else 403 / 404). */
router.get('/attachments/:id', requireAuth, async (req, res) => {
  await sendAttachment(req, res, String(req.params.id));
});
