import { Router } from 'express';
import { AppError } from '../../domain/errors.ts';
import { UNIT_CATEGORY_LABELS, type UnitCategory } from '../../domain/fields.ts';
import { parseQuarter } from '../../domain/periods.ts';
import { CASE_STATUS_LABELS } from '../../domain/scoring/accountability.ts';
import { principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { updateCaseStatus } from '../../services/accountability.ts';
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
