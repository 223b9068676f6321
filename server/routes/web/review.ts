import { Router } from 'express';
import { clock } from '../../clock.ts';
import { AppError } from '../../domain/errors.ts';
import { FIELD_KEYS, FIELD_LABELS, UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { FLAG_LABELS, RETURN_STATUS_LABELS, SOURCE_LABELS } from '../../domain/vocabulary.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { auditTrail } from '../../services/audit.ts';
import { assertQuarter, getPeriod, listPeriods } from '../../services/periods.ts';
import { collectingPeriod } from '../../pages/common.ts';
import { periodReturns, reviewReturn, revisionsOf } from '../../services/returns.ts';
import { evidenceOf } from '../../services/attachments.ts';
import { listUploads, RATIOS } from '../../services/uploads.ts';
import { getUnit, listUnits } from '../../services/units.ts';

// Reviewer pages: the submission board of a period and the review of one return. Mounted at /.
export const router = Router();

const STYLES = ['/public/css/intake.css'];
const STATE_LABEL: Record<string, string> = { ...RETURN_STATUS_LABELS, missing: FLAG_LABELS.missing, pending: FLAG_LABELS.pending };
const SOURCE_LABEL: Readonly<Record<string, string>> = SOURCE_LABELS;

router.get('/review', requireRole('reviewer', 'admin'), async (req, res) => {
  const requested = typeof req.query.period === 'string' && req.query.period ? req.query.period : await collectingPeriod();
  if (!requested) throw new AppError(404, 'period_not_open', '尚未开放任何考核期次，请管理员在“期次管理”中开放');
  const period = assertQuarter(requested);
  const filter = typeof req.query.state === 'string' ? req.query.state : '';
  const [per, units, returns, periods] = await Promise.all([getPeriod(period), listUnits({ activeOnly: true }), periodReturns(period), listPeriods()]);
  const past = Date.parse(per.deadline) < clock.now().getTime();
  const all = units.map((u) => {
    const r = returns.get(u.code);
    const state = r ? r.latest.status : past ? 'missing' : 'pending';
    return { unit: u, categoryLabel: UNIT_CATEGORY_LABELS[u.category], state, stateLabel: STATE_LABEL[state], latest: r?.latest ?? null, late: r?.latest.late ?? false };
  });
  const counts = {
    total: all.length,
    submitted: all.filter((x) => x.state === 'submitted').length,
    approved: all.filter((x) => x.state === 'approved').length,
    rejected: all.filter((x) => x.state === 'rejected').length,
    missing: all.filter((x) => x.state === 'missing' || x.state === 'pending').length,
    late: all.filter((x) => x.late).length,
  };
  const rows = all.filter((x) => {
    if (!filter) return true;
    if (filter === 'late') return x.late;
    if (filter === 'missing') return x.state === 'missing' || x.state === 'pending';
    return x.state === filter;
  });
  const filters = [
    { key: '', label: `全部 ${counts.total}` },
    { key: 'submitted', label: `待审核 ${counts.submitted}` },
    { key: 'approved', label: `已通过 ${counts.approved}` },
    { key: 'rejected', label: `已退回 ${counts.rejected}` },
    { key: 'late', label: `逾期 ${counts.late}` },
    { key: 'missing', label: `${past ? '未报送' : '待报送'} ${counts.missing}` },
  ].map((f) => ({ ...f, active: f.key === filter, href: `/review?period=${period}${f.key ? `&state=${f.key}` : ''}` }));
  res.render('pages/review/board', { title: `${period} 报送审核`, styles: STYLES, period: per, periods, rows, counts, filters, past });
});

router.get('/review/:period/:unit', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  const unit = await getUnit(code);
  if (!unit) throw new AppError(404, 'unit_not_found', `单位「${code}」不存在`);
  const [per, revs, uploads, trail] = await Promise.all([getPeriod(period), revisionsOf(period, code), listUploads({ username: p.username, role: p.role }, period, code), auditTrail('return', `${period}/${code}`)]);
  const latest = revs[revs.length - 1] ?? null;
  const evidence = latest ? await evidenceOf(period, code, latest.revision) : [];
  const previous = revs.length > 1 ? revs[revs.length - 2]! : null;
  const fields = FIELD_KEYS.map((k) => ({ key: k, label: FIELD_LABELS[k], value: latest?.values[k] ?? null, previous: previous?.values[k] ?? null, changed: !!previous && previous.values[k] !== latest?.values[k] }));
  const ratios = latest ? RATIOS.map((r) => ({ name: `${r.id} ${r.name}`, value: r.value(latest.values), previous: previous ? r.value(previous.values) : null })) : [];
  res.render('pages/review/detail', {
    title: `${period} · ${unit.name} · 审核`,
    styles: STYLES,
    period: per,
    unit,
    latest,
    stateLabel: latest ? STATE_LABEL[latest.status] : null,
    previous,
    fields,
    ratios,
    history: [...revs].reverse().map((r) => ({ ...r, stateLabel: STATE_LABEL[r.status], sourceLabel: SOURCE_LABEL[r.source] })),
    uploads,
    evidence,
    trail: [...trail].reverse().map((e) => ({
      at: e.at,
      actor: e.actor,
      what: e.action.startsWith('return.evidence')
        ? `${e.action === 'return.evidence' ? '上传' : '沿用上一版'}第 ${(e.after as { revision?: number })?.revision ?? '?'} 版的佐证材料`
        : e.action === 'return.review'
        ? `${(e.after as { review?: { decision?: string; reason?: string } })?.review?.decision === 'reject' ? '退回' : '审核通过'}第 ${(e.after as { revision?: number })?.revision ?? '?'} 版${(e.after as { review?: { reason?: string } })?.review?.reason ? `：${(e.after as { review: { reason: string } }).review.reason}` : ''}`
        : `提交第 ${(e.after as { revision?: number })?.revision ?? '?'} 版（${SOURCE_LABEL[(e.after as { source?: string })?.source ?? ''] ?? ''}）`,
    })),
  });
});

router.post('/review/:period/:unit', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  const b = (req.body ?? {}) as Record<string, unknown>;
  try {
    const r = await reviewReturn({ username: p.username, role: p.role }, period, code, { decision: b.decision, reason: b.reason, revision: b.revision });
    setFlash(req, 'ok', r.status === 'rejected' ? `已退回 ${code} 第 ${r.revision} 版，已通知该单位` : `已审核通过 ${code} 第 ${r.revision} 版`);
    res.redirect(303, `/review?period=${period}`);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      setFlash(req, 'error', err.message);
      return res.redirect(303, `/review/${period}/${encodeURIComponent(code)}`);
    }
    throw err;
  }
});
