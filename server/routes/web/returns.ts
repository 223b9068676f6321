import { Router, type Request, type Response } from 'express';
import { clock } from '../../clock.ts';
import { AppError, badRequest } from '../../domain/errors.ts';
import { FIELD_DEFINITIONS, FIELD_GROUPS, FIELD_KEYS, FIELD_LABELS, isFieldKey, type FieldDefinition } from '../../domain/fields.ts';
import { formIndicators, formRatios } from '../../domain/form-ratios.ts';
import { issueTable } from '../../domain/issues.ts';
import { currentScheme } from '../../services/scheme.ts';
import { RETURN_STATUS_LABELS, SOURCE_LABELS } from '../../domain/vocabulary.ts';
import { principalOf, requireRole, type Principal } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { noticesForUnit } from '../../services/notices.ts';
import { assertQuarter, getPeriod, listPeriods, timeZone } from '../../services/periods.ts';
import { collectingPeriod } from '../../pages/common.ts';
import { assertCanSubmit, previousQuarterValues, revisionsOf, submitValues, type Submitter } from '../../services/returns.ts';
import { formValue } from '../../domain/validation.ts';
import { addEvidence, carryOverEvidence, evidenceOf } from '../../services/attachments.ts';
import { MAX_ATTACHMENTS_PER_REVISION } from '../../domain/attachments.ts';
import { filesUpload, incomingFiles } from '../../http/uploads.ts';
import { cancelUpload, confirmUpload, listUploads, RATIOS, stagedPreview, stageUpload, UploadRejected, type UploadError } from '../../services/uploads.ts';
import { getUnit, listUnits } from '../../services/units.ts';
import { singleFile, uploadedName } from '../../http/uploads.ts';

// Reporter pages: my unit's returns by period, the web form, template download, Excel upload with a
// preview before confirming. Admins use the same pages for any unit. Mounted by server/app.ts at /.
export const router = Router();

const STYLES = ['/public/css/intake.css'];
const sub = (p: Principal): Submitter => ({ username: p.username, role: p.role, ...(p.unit ? { unit: p.unit } : {}) });
const STATUS_LABEL: Readonly<Record<string, string>> = RETURN_STATUS_LABELS;
const SOURCE_LABEL: Readonly<Record<string, string>> = SOURCE_LABELS;

function unitOf(req: Request): string | undefined {
  const p = principalOf(req);
  if (p.role === 'reporter') return p.unit;
  const u = req.query.unit;
  return typeof u === 'string' && u ? u : undefined;
}

const wantsJson = (req: Request) => req.get('x-requested-with') === 'XMLHttpRequest';

router.get('/returns', requireRole('reporter', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const code = unitOf(req);
  const unit = code ? await getUnit(code) : null;
  // Only opened periods exist for reporters (SPEC §2): the eight newest.
  const periods = (await listPeriods()).slice(0, 8);
  let rows: unknown[] = [];
  let notices: unknown[] = [];
  if (unit) {
    rows = await Promise.all(
      periods.map(async (per) => {
        const revs = await revisionsOf(per.period, unit.code);
        const latest = revs[revs.length - 1] ?? null;
        return {
          ...per,
          latest,
          statusLabel: latest ? STATUS_LABEL[latest.status] : null,
          pastDeadline: Date.parse(per.deadline) < clock.now().getTime(),
          published: per.status === 'published',
          acceptsReturns: per.status === 'open' && !per.closed,
        };
      }),
    );
    notices = (await noticesForUnit(unit.code, 20)).map((n) => ({ ...n, id: String(n._id) }));
  }
  res.render('pages/returns/index', {
    title: '数据填报',
    styles: STYLES,
    unit,
    rows,
    notices,
    isAdmin: p.role === 'admin',
    units: p.role === 'admin' ? await listUnits({ activeOnly: true }) : [],
    current: await collectingPeriod(),
    selected: code,
  });
});

interface FormExtra {
  /** A refused web submission's problems ({field, message}). */
  errors?: { field: string; message: string }[];
  /** What was typed (shown again as typed after a refusal). */
  entered?: Record<string, unknown>;
  /** Fields still holding their prefilled value when the form was sent (marked again). */
  prefilledKeys?: string[];
  /** A refused upload's problems ({sheet, row, column, field, message}). */
  uploadErrors?: UploadError[];
  /** ?prefill=previous: the form starts from the previous quarter's values. */
  prefill?: boolean;
}

async function renderForm(req: Request, res: Response, period: string, code: string, extra: FormExtra = {}) {
  const p = principalOf(req);
  // Every path that shows a unit's form (the page, a refused submission, a refused upload) checks
  // scope here, whatever its caller did: the form shows values, history, submitters and reasons.
  assertCanSubmit(sub(p), code);
  const unit = await getUnit(code);
  if (!unit) throw new AppError(404, 'unit_not_found', `单位「${code}」不存在`);
  const [per, revs, uploads, previous, scheme] = await Promise.all([
    getPeriod(period),
    revisionsOf(period, code),
    listUploads(sub(p), period, code),
    previousQuarterValues(period, code),
    currentScheme(),
  ]);
  const latest = revs[revs.length - 1] ?? null;
  const evidence = latest ? await evidenceOf(period, code, latest.revision) : [];
  const errorsBy = new Map<string, string[]>();
  for (const e of extra.errors ?? []) errorsBy.set(e.field, [...(errorsBy.get(e.field) ?? []), e.message]);
  const prefilling = !extra.entered && extra.prefill === true && previous !== null;
  const prefilled = new Set<string>(prefilling ? FIELD_KEYS : (extra.prefilledKeys ?? []));
  const shown: Record<string, string> = {};
  for (const k of FIELD_KEYS) {
    shown[k] = extra.entered ? formValue(extra.entered[k]) : prefilling ? String(previous!.values[k]) : latest ? String(latest.values[k]) : '';
  }
  const fieldView = (d: FieldDefinition) => ({
    key: d.key,
    label: d.label,
    unit: d.unit,
    definition: d.definition,
    atMostLabel: d.atMost ? FIELD_LABELS[d.atMost] : null,
    value: shown[d.key],
    errors: errorsBy.get(d.key) ?? [],
    prefilled: prefilled.has(d.key),
    previous: previous ? previous.values[d.key] : null,
  });
  const byKey = new Map(FIELD_DEFINITIONS.map((d) => [d.key, d]));
  const groups = FIELD_GROUPS.map((g) => ({ id: g.id, label: g.label, fields: g.keys.map((k) => fieldView(byKey.get(k)!)) }));
  const indicators = formIndicators(scheme.scheme.indicators);
  const history = [...revs].reverse().map((r) => ({ ...r, statusLabel: STATUS_LABEL[r.status], sourceLabel: SOURCE_LABEL[r.source] }));
  const status = extra.errors || extra.uploadErrors ? 422 : 200;
  res.status(status).render('pages/returns/form', {
    title: `${period} 数据填报 · ${unit.name}`,
    styles: STYLES,
    scripts: ['/public/js/upload.js', '/public/js/return-form.js'],
    period: per,
    subtitle: `${unit.code} · 截止时间：${new Intl.DateTimeFormat('zh-CN', { timeZone: timeZone(), dateStyle: 'long', timeStyle: 'medium' }).format(new Date(per.deadline))}${per.closed ? '（本期已关闭）' : ''}`,
    nextRevision: (latest?.revision ?? 0) + 1,
    unit,
    latest,
    latestStatusLabel: latest ? STATUS_LABEL[latest.status] : null,
    latestIssues: issueTable([], latest?.warnings ?? []),
    fields: FIELD_DEFINITIONS.map((d) => ({ key: d.key, label: d.label })),
    groups,
    errorCount: extra.errors?.length ?? 0,
    issues: issueTable(extra.errors ?? []),
    uploadIssues: issueTable(extra.uploadErrors ?? []),
    uploadErrorCount: extra.uploadErrors?.length ?? 0,
    previous: previous ? { ...previous, statusLabel: STATUS_LABEL[previous.status] } : null,
    prefilling,
    prefillMissing: extra.prefill === true && previous === null,
    prefilledList: [...prefilled].join(','),
    history,
    uploads,
    evidence,
    evidenceAction: `/returns/${period}/${encodeURIComponent(code)}/evidence`,
    ratios: latest ? RATIOS.map((r) => ({ name: r.name, value: r.value(latest.values) })) : [],
    indicators,
    liveRatios: formRatios(indicators, shown),
  });
}

/** Excel upload from the page (multipart; CSRF token in the query). → preview of a staged batch. */
router.post('/returns/upload', requireRole('reporter', 'admin'), singleFile('file'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(typeof req.query.period === 'string' ? req.query.period : '');
  const asked = typeof req.query.unit === 'string' && req.query.unit ? req.query.unit : undefined;
  // `unit` only says which form to show again on a refusal: a reporter's is their own unit.
  if (asked !== undefined) assertCanSubmit(sub(p), asked);
  const back = p.role === 'reporter' ? p.unit : asked;
  if (!req.file) throw badRequest('file_required', '请选择要上传的 .xlsx 文件');
  try {
    const staged = await stageUpload(sub(p), period, req.file.buffer, uploadedName(req.file.originalname));
    const to = `/returns/uploads/${staged.batch}`;
    if (wantsJson(req)) return res.json({ redirect: to });
    res.redirect(303, to);
  } catch (err) {
    if (err instanceof UploadRejected) {
      if (wantsJson(req)) return res.status(422).json({ error: { code: err.code, message: err.message }, errors: err.errors, issues: issueTable(err.errors) });
      if (back) return renderForm(req, res, period, back, { uploadErrors: err.errors });
    }
    throw err;
  }
});

router.get('/returns/uploads/:id', requireRole('reporter', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const { batch, preview } = await stagedPreview(sub(p), String(req.params.id));
  res.render('pages/returns/preview', {
    title: '确认上传内容',
    styles: STYLES,
    batch: { id: String(batch._id), period: batch.period, status: batch.status, fileName: batch.fileName, staged: batch.status === 'staged', accepted: batch.accepted },
    preview,
    warnings: preview.flatMap((u) => u.warnings),
    warningLines: issueTable([], preview.flatMap((u) => u.warnings)),
    changedCount: preview.filter((u) => u.changed).length,
    backUnit: p.role === 'reporter' ? p.unit : preview[0]?.unit,
  });
});

router.post('/returns/uploads/:id/confirm', requireRole('reporter', 'admin'), async (req, res) => {
  const p = principalOf(req);
  try {
    const r = await confirmUpload(sub(p), String(req.params.id));
    const list = r.accepted.map((a) => `${a.unit} 第 ${a.revision} 版`).join('、');
    setFlash(req, 'ok', `已提交 ${r.period} 期 ${r.accepted.length} 个单位的数据：${list.length > 200 ? `${list.slice(0, 200)}…` : list}`);
    const one = r.accepted.length === 1 ? r.accepted[0]!.unit : null;
    res.redirect(303, one ? `/returns/${r.period}/${encodeURIComponent(one)}` : '/returns');
  } catch (err) {
    if (err instanceof AppError && err.status < 500 && err.status !== 404) {
      setFlash(req, 'error', err.message);
      return res.redirect(303, `/returns/uploads/${encodeURIComponent(String(req.params.id))}`);
    }
    throw err;
  }
});

router.post('/returns/uploads/:id/cancel', requireRole('reporter', 'admin'), async (req, res) => {
  const p = principalOf(req);
  await cancelUpload(sub(p), String(req.params.id));
  setFlash(req, 'ok', '已取消本次上传，未保存任何数据');
  res.redirect(303, '/returns');
});

// Declared last: /returns/uploads/… above must win over /returns/:period/:unit.
router.get('/returns/:period/:unit', requireRole('reporter', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  assertCanSubmit(sub(p), code);
  await renderForm(req, res, period, code, { prefill: req.query.prefill === 'previous' });
});

router.post('/returns/:period/:unit', requireRole('reporter', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  const body = (req.body ?? {}) as Record<string, unknown>;
  const values = Object.fromEntries(FIELD_KEYS.map((k) => [k, typeof body[k] === 'string' && (body[k] as string).trim() === '' ? null : body[k]]));
  try {
    const rev = await submitValues(sub(p), period, code, values, 'web');
    // 沿用上一版佐证材料: only when the box is ticked.
    if (body.carryEvidence === '1') await carryOverEvidence(sub(p), period, code, rev.revision);
    setFlash(req, 'ok', `已提交 ${period} 期数据（第 ${rev.revision} 版）${rev.late ? '。注意：本期已过截止时间，将记为逾期报送' : ''}`);
    res.redirect(303, `/returns/${period}/${encodeURIComponent(code)}`);
  } catch (err) {
    if (err instanceof AppError && err.status === 422 && err.code === 'invalid_values') {
      const errors = ((err.details as { errors?: { field: string; message: string }[] })?.errors ?? []);
      const prefilledKeys = typeof body.prefilled === 'string' ? body.prefilled.split(',').filter(isFieldKey) : [];
      return renderForm(req, res, period, code, { errors, entered: values, prefilledKeys });
    }
    if (err instanceof AppError && (err.status === 409 || err.status === 404)) {
      setFlash(req, 'error', err.message);
      return res.redirect(303, `/returns${p.role === 'admin' ? `?unit=${encodeURIComponent(code)}` : ''}`);
    }
    throw err;
  }
});

/** 上传佐证材料 (multipart `files`, CSRF in the query) onto the latest revision. */
router.post('/returns/:period/:unit/evidence', requireRole('reporter', 'admin'), filesUpload(MAX_ATTACHMENTS_PER_REVISION, '每一版填报数据的佐证材料'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  try {
    const r = await addEvidence(sub(p), period, code, incomingFiles(req));
    setFlash(req, 'ok', `已为第 ${r.revision} 版上传佐证材料，共 ${r.evidence.length} 个文件`);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
  res.redirect(303, `/returns/${period}/${encodeURIComponent(code)}`);
});
