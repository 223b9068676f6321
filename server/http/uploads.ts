// Multipart parsers shared by API routes and page forms: one Excel file (returns, unit import) and up to
// n attachments (rectification reports, 佐证材料). A page form's CSRF field is checked once multer has read
// the body (http/csrf.ts MULTIPART_FORMS).
import fs from 'node:fs';
import os from 'node:os';
import type { Request, RequestHandler } from 'express';
import multer from 'multer';
import { currentConfig } from '../config.ts';
import { AppError, badRequest } from '../domain/errors.ts';
import { tooLarge, tooMany, type IncomingFile } from '../services/attachments.ts';
import { verifyMultipartCsrf } from './csrf.ts';

/** multer memory storage with the configured size limit; a too-large file is 413; then a page form's CSRF field is checked. */
export function singleFile(field = 'file'): RequestHandler {
  return (req, res, next) => {
    const max = currentConfig().uploadMaxBytes;
    const mw = multer({ storage: multer.memoryStorage(), limits: { fileSize: max, files: 1, fields: 20 } }).single(field);
    mw(req, res, (err: unknown) => {
      if (!err) return verifyMultipartCsrf(req, next);
      const e = err as { code?: string; name?: string };
      if (e.code === 'LIMIT_FILE_SIZE') {
        return next(new AppError(413, 'file_too_large', `文件过大，上传的文件不能超过 ${Math.round((max / 1024 / 1024) * 10) / 10} MB`));
      }
      if (e.name === 'MulterError') return next(badRequest('invalid_upload', `上传内容无效（${String(e.code)}），请使用字段 ${field} 上传一个文件`));
      next(err);
    });
  };
}

/** multer (busboy) hands over file names as latin1; browsers and fetch send UTF-8. */
export function uploadedName(raw: string | undefined): string {
  if (!raw) return 'upload.xlsx';
  return decodedName(raw);
}

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
      verifyMultipartCsrf(req, next);
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
