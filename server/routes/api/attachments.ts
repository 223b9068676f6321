import os from 'node:os';
import fs from 'node:fs';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { currentConfig } from '../../config.ts';
import { badRequest } from '../../domain/errors.ts';
import { principalOf, requireAuth } from '../../http/auth.ts';
import { openAttachment, tooLarge, tooMany, type IncomingFile } from '../../services/attachments.ts';

// /api/v1/attachments (SPEC §7): downloads, always as attachments, never rendered inline. Also the
// multipart parser the routes that take files share (rectification reports, 佐证材料).
export const router = Router();

/** multer (busboy) hands over file names as latin1; browsers and fetch send UTF-8. */
function decodedName(raw: string | undefined): string {
  if (!raw) return '';
  const utf8 = Buffer.from(raw, 'latin1').toString('utf8');
  return /[^\u0000-\u00ff]/.test(raw) || utf8.includes('\ufffd') ? raw : utf8;
}

/**
 * Parses a multipart body with up to `maxFiles` files in field `files` (each at most
 * ATTACHMENT_MAX_BYTES, into temporary files) and its text fields; the files are removed once the
 * response is finished, whatever happened. Sets `req.incomingFiles`.
 */
export function filesUpload(maxFiles: number, what: string): RequestHandler {
  return (req, res, next) => {
    const max = currentConfig().attachmentMaxBytes;
    if (!req.is('multipart/form-data')) {
      req.incomingFiles = [];
      return next();
    }
    const mw = multer({ dest: os.tmpdir(), limits: { fileSize: max, files: maxFiles, fields: 20, fieldSize: 64 * 1024, parts: maxFiles + 20 } }).array('files', maxFiles);
    mw(req, res, (err: unknown) => {
      const files = (req.files as Express.Multer.File[] | undefined) ?? [];
      const cleanup = () => {
        for (const f of files) fs.promises.rm(f.path, { force: true }).catch(() => {});
      };
      res.once('close', cleanup);
      if (err) {
        const e = err as { code?: string; name?: string };
        if (e.code === 'LIMIT_FILE_SIZE') return next(tooLarge(max));
        if (e.code === 'LIMIT_FILE_COUNT' || e.code === 'LIMIT_UNEXPECTED_FILE') {
          return next(e.code === 'LIMIT_FILE_COUNT' ? tooMany(maxFiles, what) : badRequest('invalid_upload', '文件请使用 files 字段上传'));
        }
        if (e.name === 'MulterError') return next(badRequest('invalid_upload', `上传内容无效（${String(e.code)}）`));
        return next(err);
      }
      req.incomingFiles = files.map((f): IncomingFile => ({ path: f.path, originalName: decodedName(f.originalname), size: f.size }));
      next();
    });
  };
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Files parsed by filesUpload(). */
      incomingFiles?: IncomingFile[];
    }
  }
}

export function incomingFiles(req: Request): IncomingFile[] {
  return req.incomingFiles ?? [];
}

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
