import { Router, type Request } from 'express';
import { badRequest, forbidden, notFound } from '../../domain/errors.ts';
import { requireAuth, requireRole, principalOf, type Principal } from '../../http/auth.ts';
import { auditTrail } from '../../services/audit.ts';
import { noticesForUnit } from '../../services/notices.ts';
import { assertQuarter } from '../../services/periods.ts';
import { assertCanRead, latestRevision, periodReturns, reviewReturn, revisionsOf, submitValues, type Submitter } from '../../services/returns.ts';
import { listUploads, originalFile, uploadAndCommit, UploadRejected } from '../../services/uploads.ts';
import { getUnit } from '../../services/units.ts';
import { templateFor } from '../../services/templates.ts';
import { MAX_ATTACHMENTS_PER_REVISION } from '../../domain/attachments.ts';
import { addEvidence, carryOverEvidence, evidenceOf } from '../../services/attachments.ts';
import { filesUpload, incomingFiles, singleFile, uploadedName } from '../../http/uploads.ts';

// /api/v1 returns (SPEC §3, §6, §7).
export const router = Router();

const sub = (p: Principal): Submitter => ({ username: p.username, role: p.role, ...(p.unit ? { unit: p.unit } : {}) });

function periodParam(req: Request): string {
  return assertQuarter(typeof req.query.period === 'string' ? req.query.period : req.params.period);
}

/** Sends an upload refusal as SPEC §7 writes it: 422 {errors: [...]}, plus the usual {error: {code, message}}. */
export function sendRejected(res: import('express').Response, err: UploadRejected): void {
  res.status(422).json({ error: { code: err.code, message: err.message }, errors: err.errors });
}

router.get('/returns/template', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = periodParam(req);
  let unit = typeof req.query.unit === 'string' && req.query.unit ? req.query.unit : undefined;
  if (p.role === 'reporter') {
    if (unit && unit !== p.unit) throw forbidden('只能下载本单位的填报模板');
    unit = p.unit;
    if (!unit) throw forbidden('账号未绑定单位');
  }
  const { buffer, fileName } = await templateFor(period, unit);
  res.setHeader('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  res.setHeader('Content-Disposition', `attachment; filename="template.xlsx"; filename*=UTF-8''${encodeURIComponent(fileName)}`);
  res.setHeader('Cache-Control', 'no-store');
  res.send(buffer);
});

router.post('/returns/upload', requireRole('admin', 'reporter'), singleFile('file'), async (req, res) => {
  const p = principalOf(req);
  const period = periodParam(req);
  if (!req.file) throw badRequest('file_required', '请用 multipart/form-data 的 file 字段上传 .xlsx 文件');
  try {
    const r = await uploadAndCommit(sub(p), period, req.file.buffer, uploadedName(req.file.originalname), 'excel');
    res.json({ accepted: r.accepted, warnings: r.warnings, batch: r.batch });
  } catch (err) {
    if (err instanceof UploadRejected) return sendRejected(res, err);
    throw err;
  }
});

/** Committed uploads of a period, with links to their original files. */
router.get('/returns/uploads', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = periodParam(req);
  const unit = typeof req.query.unit === 'string' && req.query.unit ? req.query.unit : undefined;
  res.json(await listUploads(sub(p), period, unit));
});

/** The original uploaded file (reviewers, admins, office; reporters for their own unit's uploads). */
router.get('/returns/uploads/:id/file', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const f = await originalFile(sub(p), String(req.params.id));
  res.setHeader('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  res.setHeader('Content-Disposition', `attachment; filename="upload.xlsx"; filename*=UTF-8''${encodeURIComponent(f.fileName)}`);
  if (f.size) res.setHeader('Content-Length', String(f.size));
  f.stream.on('error', (err) => (res.headersSent ? res.destroy(err) : res.status(500).end()));
  f.stream.pipe(res);
});

/** The latest revision of every unit of a period (reporters: only their own). */
router.get('/returns', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = periodParam(req);
  const all = await periodReturns(period);
  const list = [...all.values()].filter((r) => p.role !== 'reporter' || r.unit === p.unit).map((r) => r.latest);
  res.json(list);
});

router.get('/returns/:period/:unit', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const unit = String(req.params.unit);
  assertCanRead(sub(p), unit);
  const latest = await latestRevision(period, unit);
  if (!latest) {
    if (!(await getUnit(unit))) throw notFound('unit_not_found', `单位「${unit}」不存在`);
    throw notFound('return_not_found', `单位「${unit}」${period} 期尚未填报`);
  }
  res.json({ ...latest, evidence: await evidenceOf(period, unit, latest.revision) });
});

/** POST /returns/:period/:unit/evidence (multipart `files`; the unit's reporter, or admin): 佐证材料 on the latest revision. */
router.post('/returns/:period/:unit/evidence', requireRole('admin', 'reporter'), filesUpload(MAX_ATTACHMENTS_PER_REVISION, '每一版填报数据的佐证材料'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const r = await addEvidence(sub(p), period, String(req.params.unit), incomingFiles(req));
  res.status(201).json({ unit: String(req.params.unit), period, revision: r.revision, evidence: r.evidence });
});

router.get('/returns/:period/:unit/revisions', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const unit = String(req.params.unit);
  assertCanRead(sub(p), unit);
  res.json(await revisionsOf(period, unit));
});

/** The append-only audit trail of one return (every submission and review: who, what, before, after, when). */
router.get('/returns/:period/:unit/audit', requireRole('reviewer', 'admin'), async (req, res) => {
  const period = assertQuarter(req.params.period);
  const entries = await auditTrail('return', `${period}/${String(req.params.unit)}`);
  res.json(entries.map((e) => ({ at: e.at, actor: e.actor, actorRole: e.actorRole, action: e.action, before: e.before, after: e.after })));
});

router.put('/returns/:period/:unit', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const body = (req.body ?? {}) as { values?: unknown; carryEvidence?: unknown };
  if (body.values === undefined) throw badRequest('values_required', '请求体应为 {"values": {指标: 数值, …}}');
  if (body.carryEvidence !== undefined && typeof body.carryEvidence !== 'boolean') throw badRequest('invalid_carry_evidence', 'carryEvidence 应为 true 或 false（沿用上一版佐证材料）');
  const rev = await submitValues(sub(p), period, String(req.params.unit), body.values, 'api');
  // 沿用上一版佐证材料: only when asked; a new revision otherwise starts without evidence.
  const evidence = body.carryEvidence === true ? await carryOverEvidence(sub(p), period, rev.unit, rev.revision) : [];
  res.json({ revision: rev.revision, unit: rev.unit, period: rev.period, late: rev.late, submittedAt: rev.submittedAt, evidence, warnings: rev.warnings });
});

router.post('/returns/:period/:unit/review', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  res.json(await reviewReturn(sub(p), period, String(req.params.unit), req.body ?? {}));
});

/** Notices to the caller's unit (reporters), or to ?unit= (others). */
router.get('/notices', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const unit = p.role === 'reporter' ? p.unit : typeof req.query.unit === 'string' ? req.query.unit : undefined;
  if (!unit) throw badRequest('unit_required', '请指定单位 unit');
  res.json((await noticesForUnit(unit)).map((n) => ({ id: String(n._id), unit: n.unit, kind: n.kind, period: n.period, title: n.title, body: n.body, createdAt: n.createdAt, readAt: n.readAt })));
});

