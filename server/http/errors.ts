// The one error middleware: every error becomes {error: {code, message, details?}} with its
// status (API) or the error page (web). Nothing of a stack or an internal message leaks.
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import mongoose from 'mongoose';
import { AppError } from '../domain/errors.ts';
import { log } from '../log.ts';
import { isApiRequest } from './csrf.ts';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

interface Classified {
  status: number;
  body: ErrorBody;
  /** Unexpected: logged with its stack. */
  internal?: boolean;
}

type Loose = Error & { type?: string; status?: number; statusCode?: number; code?: unknown; expose?: boolean; field?: string };

export function classify(err: unknown): Classified {
  if (err instanceof AppError) {
    const body: ErrorBody = { code: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return { status: err.status, body };
  }
  if (err instanceof mongoose.Error.ValidationError) {
    const details = Object.fromEntries(Object.entries(err.errors).map(([k, e]) => [k, e.message]));
    return { status: 400, body: { code: 'validation_failed', message: '数据校验失败', details } };
  }
  if (err instanceof mongoose.Error.CastError) {
    return { status: 400, body: { code: 'invalid_value', message: `字段 ${err.path} 的值无效` } };
  }
  const e = (err ?? {}) as Loose;
  if (e.code === 11000 || (e.name === 'MongoServerError' && e.code === 11000)) {
    return { status: 409, body: { code: 'duplicate', message: '数据已存在（重复）' } };
  }
  if (e.code === 14031) {
    // The embedded engine could not make the write durable (disk full): nothing of it was kept.
    return { status: 503, body: { code: 'storage_full', message: '服务器磁盘空间不足，本次提交未保存，请稍后重试或联系管理员' } };
  }
  if (e.type === 'entity.too.large' || e.code === 'LIMIT_FILE_SIZE') {
    return { status: 413, body: { code: 'payload_too_large', message: '提交的内容过大' } };
  }
  if (e.name === 'MulterError') {
    return { status: 400, body: { code: 'invalid_upload', message: `上传内容无效（${String(e.code)}）` } };
  }
  if (e.type === 'entity.parse.failed') {
    return { status: 400, body: { code: 'invalid_json', message: '请求体不是有效的 JSON' } };
  }
  if (e.code === 'EBADCSRFTOKEN') {
    return { status: 403, body: { code: 'csrf_invalid', message: '页面已过期或请求来源无效，请刷新页面后重试' } };
  }
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 404 ? 'not_found' : status === 415 ? 'unsupported_media_type' : 'bad_request';
    return { status, body: { code, message: status === 404 ? '资源不存在' : '请求无效' } };
  }
  return { status: 500, body: { code: 'internal', message: '服务器内部错误，请稍后重试' }, internal: true };
}

function loginRedirect(req: Request): string {
  const next = req.method === 'GET' ? req.originalUrl : '/';
  return `/login?next=${encodeURIComponent(next)}`;
}

export const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
  const c = classify(err);
  if (c.internal) log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
  else if (c.status >= 500) log.warn({ code: c.body.code, url: req.originalUrl }, c.body.message);
  if (res.headersSent) return next(err);
  if (c.status === 429) {
    const wait = (c.body.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    res.setHeader('Retry-After', String(typeof wait === 'number' ? wait : 60));
  }
  if (isApiRequest(req) || !req.accepts('html')) {
    res.status(c.status).json({ error: c.body });
    return;
  }
  if (c.status === 401) {
    res.redirect(303, loginRedirect(req));
    return;
  }
  res.status(c.status).render('pages/error', { title: '出错了', status: c.status, error: c.body }, (renderErr, html) => {
    if (renderErr) {
      log.error({ err: renderErr }, 'error page failed to render');
      res.type('text/plain; charset=utf-8').send(`${c.status} ${c.body.message}`);
      return;
    }
    res.send(html);
  });
};

/** Unknown /api paths: JSON 404. */
export const apiNotFound: RequestHandler = (_req, _res, next) => next(new AppError(404, 'not_found', '接口不存在'));

/** Unknown pages: the 404 page. */
export const pageNotFound: RequestHandler = (_req, _res, next) => next(new AppError(404, 'page_not_found', '页面不存在'));
