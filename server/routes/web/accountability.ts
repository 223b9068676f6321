import { Router } from 'express';
import { AppError } from '../../domain/errors.ts';
import { UNIT_CATEGORY_LABELS, type UnitCategory } from '../../domain/fields.ts';
import { parseQuarter } from '../../domain/periods.ts';
import { CASE_STATUS_LABELS } from '../../domain/scoring/accountability.ts';
import { canSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { MAX_ATTACHMENTS_PER_RECTIFICATION } from '../../domain/attachments.ts';
import { filesUpload, incomingFiles } from '../../http/uploads.ts';
import { setFlash } from '../../http/flash.ts';
import {
  decideExtension,
  decideRectification,
  getCase,
  pendingExtensions,
  rectificationQueue,
  requestExtension,
  submitRectification,
  updateCaseStatus,
  type CaseActor,
} from '../../services/accountability.ts';
import { accountability, caseById, CASE_FILTERS } from '../../pages/accountability.ts';
import { annualResults, assertYear } from '../../services/eligibility.ts';
import { periodQuery, q, viewerOf } from './_present.ts';

// 问责 (/accountability): open and overdue cases, last places in consecutive quarters, year-end
// merit eligibility; reviewers (and admins) move a case along with a comment. Mounted at /.
export const router = Router();

const FILTER_LABELS: Record<string, string> = {
  active: '未办结',
  open: '待整改',
  rectifying: '整改中',
  overdue: '已逾期',
  resolved: '已办结',
  all: '全部',
};
const CASE_CLS: Record<string, string> = { open: 'warn', rectifying: 'muted', resolved: 'ok', overdue: 'bad' };
/** Moves a reviewer may pick from a case's status (the service enforces the rules). */
const NEXT: Record<string, string[]> = { open: ['rectifying', 'resolved'], rectifying: ['resolved'], overdue: ['rectifying', 'resolved'], resolved: [] };

router.get('/accountability', requireAuth, async (req, res) => {
  const v = viewerOf(req);
  const a = await accountability(v, { filter: q(req, 'status'), period: q(req, 'period') });
  const latest = a.publishedPeriods.at(-1);
  const year = q(req, 'year') ? assertYear(q(req, 'year')) : latest ? parseQuarter(latest)!.year : new Date().getFullYear();
  // The default year may have no opened quarter yet: the page then shows no annual table.
  const annual = await annualResults(year).catch((err: unknown) => {
    if (!q(req, 'year') && err instanceof AppError && err.code === 'period_not_open') return { year, quarters: {}, final: false, schemeVersion: 0, results: [] };
    throw err;
  });
  const annualRows = annual.results.filter((r) => v.role !== 'reporter' || r.unit === v.unit);
  const canEdit = v.role === 'reviewer' || v.role === 'admin';

  res.render('pages/accountability/index', {
    title: '问责',
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/pages.js'],
    a,
    isReporter: v.role === 'reporter',
    canEdit,
    filters: CASE_FILTERS.map((f) => ({
      label: FILTER_LABELS[f],
      count: f === 'all' ? a.counts.total : f === 'active' ? a.counts.total - a.counts.resolved : a.counts[f],
      href: `/accountability${periodQuery({ status: f, period: a.period ?? undefined, year: q(req, 'year') })}`,
      current: f === a.filter,
    })),
    filterLabel: FILTER_LABELS[a.filter],
    cases: a.cases.map((c) => ({
      ...c,
      cls: CASE_CLS[c.status] ?? 'muted',
      categoryText: UNIT_CATEGORY_LABELS[c.category as UnitCategory] ?? '',
      moves: canEdit ? (NEXT[c.status] ?? []).map((s) => ({ value: s, label: CASE_STATUS_LABELS[s as keyof typeof CASE_STATUS_LABELS] })) : [],
      lastComment: c.history.at(-1) ?? null,
    })),
    lastPlaces: a.lastPlaces.map((l) => ({
      ...l,
      units: l.units.map((u) => ({ ...u, cells: u.lastIn.map((x) => ({ hit: x })), repeat: u.streak >= 2 })),
    })),
    annual: {
      year,
      final: annual.final,
      quarters: Object.entries(annual.quarters).map(([p, s]) => ({ period: p, status: s, text: s === 'final' ? '已发布' : s === 'provisional' ? '暂定' : '无结果' })),
      ineligible: annualRows.filter((r) => !r.eligible),
      rows: annualRows,
      eligibleCount: annualRows.filter((r) => r.eligible).length,
    },
    years: [year - 1, year, year + 1].map((y) => ({ y, href: `/accountability${periodQuery({ status: a.filter, year: String(y) })}#merit-h`, current: y === year })),
    yearSheetHref: v.role === 'reporter' ? null : `/api/v1/years/${year}/sheet.xlsx`,
    returnTo: req.originalUrl,
  });
});

router.post('/accountability/cases/:id/status', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const body = (req.body ?? {}) as Record<string, unknown>;
  const id = String(req.params.id);
  const back = typeof body.returnTo === 'string' && body.returnTo.startsWith('/accountability') && !body.returnTo.startsWith('//') ? body.returnTo : '/accountability';
  try {
    const before = await caseById(viewerOf(req), id);
    const c = await updateCaseStatus({ username: p.username, role: p.role }, id, { status: body.status, comment: body.comment });
    setFlash(req, 'ok', `已将 ${before.unitName}（${c.period} ${c.rule}）的案件状态更新为“${CASE_STATUS_LABELS[c.status]}”`);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
  res.redirect(303, back);
});

// ---- the rectification loop: case page (timeline, 提交整改报告, 申请延期, 核查), reviewers' queue ----

const ACTION_LABELS: Record<string, string> = {
  'rectification.submit': '提交整改报告',
  'rectification.accept': '核查通过，销号',
  'rectification.return': '核查退回',
  'extension.request': '申请延期',
  'extension.grant': '同意延期',
  'extension.deny': '不同意延期',
};
const RECT_LABELS: Record<string, string> = { none: '未提交', pending: '待核查', returned: '已退回', accepted: '已通过' };
const STATUS_TEXT: Record<string, string> = { open: '待整改', rectifying: '整改中', resolved: '已销号', overdue: '逾期' };

const caseActor = (req: import('express').Request): CaseActor => {
  const p = principalOf(req);
  return { username: p.username, role: p.role, ...(p.unit ? { unit: p.unit } : {}) };
};

async function step(req: import('express').Request, res: import('express').Response, id: string, ok: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    setFlash(req, 'ok', ok);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
  res.redirect(303, `/accountability/cases/${encodeURIComponent(id)}`);
}

/** 核查队列: rectifications awaiting a decision, oldest first, overdue marked; pending extension requests. */
router.get('/accountability/queue', requireRole('reviewer', 'admin', 'office'), async (req, res) => {
  const [queue, extensions] = await Promise.all([rectificationQueue(), pendingExtensions()]);
  res.render('pages/accountability/queue', {
    title: '整改核查',
    styles: ['/public/css/pages.css'],
    queue: queue.map((c) => ({ ...c, statusText: STATUS_TEXT[c.status] })),
    extensions,
  });
});

router.get('/accountability/cases/:id', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const c = await getCase(String(req.params.id));
  if (!canSeeUnit(p, c.unit)) throw new AppError(403, 'forbidden_unit', '无权查看其他单位的问责案件');
  const own = p.role === 'reporter' && p.unit === c.unit;
  const reviewer = p.role === 'reviewer' || p.role === 'admin';
  const pendingExt = c.extensions?.find((e) => !e.decision) ?? null;
  res.render('pages/accountability/case', {
    title: `问责案件 ${c.period} ${c.rule}`,
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/pages.js'],
    c: { ...c, statusText: STATUS_TEXT[c.status], rectText: RECT_LABELS[c.rectification], cls: CASE_CLS[c.status] ?? 'muted' },
    timeline: (c.history ?? []).map((h) => ({ ...h, label: h.action ? ACTION_LABELS[h.action] ?? h.action : `状态：${STATUS_TEXT[h.to] ?? h.to}` })),
    rectifications: (c.rectifications ?? []).map((r, i) => ({ ...r, n: i + 1, decisionText: r.decision ? (r.decision.decision === 'accept' ? '核查通过（销号）' : '退回整改') : '待核查' })),
    canSubmit: own && c.status !== 'resolved' && c.rectification !== 'pending',
    canRequestExtension: own && !!c.dueAt && c.status !== 'resolved' && c.status !== 'overdue' && !pendingExt,
    canDecide: reviewer && c.rectification === 'pending',
    pendingExt: reviewer ? pendingExt : null,
    latestRect: c.rectifications?.at(-1)?.id ?? '',
    maxFiles: MAX_ATTACHMENTS_PER_RECTIFICATION,
  });
});

router.post('/accountability/cases/:id/rectifications', requireRole('reporter'), filesUpload(MAX_ATTACHMENTS_PER_RECTIFICATION, '每份整改报告'), async (req, res) => {
  const id = String(req.params.id);
  const b = (req.body ?? {}) as Record<string, unknown>;
  await step(req, res, id, '整改报告已提交，等待核查', () => submitRectification(caseActor(req), id, { report: b.report }, incomingFiles(req)));
});

router.post('/accountability/cases/:id/decision', requireRole('reviewer', 'admin'), async (req, res) => {
  const id = String(req.params.id);
  const b = (req.body ?? {}) as Record<string, unknown>;
  await step(req, res, id, b.decision === 'accept' ? '核查通过，案件已销号' : '已退回整改，并通知该单位', () => decideRectification(caseActor(req), id, b));
});

router.post('/accountability/cases/:id/extensions', requireRole('reporter'), async (req, res) => {
  const id = String(req.params.id);
  await step(req, res, id, '延期申请已提交', () => requestExtension(caseActor(req), id, (req.body ?? {}) as Record<string, unknown>));
});

router.post('/accountability/cases/:id/extensions/:eid/decision', requireRole('reviewer', 'admin'), async (req, res) => {
  const id = String(req.params.id);
  const b = (req.body ?? {}) as Record<string, unknown>;
  await step(req, res, id, b.decision === 'grant' ? '已同意延期' : '已不同意延期', () => decideExtension(caseActor(req), id, String(req.params.eid), b));
});
