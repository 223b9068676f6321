import { Router, type Request, type Response } from 'express';
import { AppError } from '../../domain/errors.ts';
import { UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { cloneScheme, formulaText, applicabilityText, validateScheme, type AssessmentScheme } from '../../domain/scoring/scheme.ts';
import { WEIGHT_TOTAL, weightTotal, weightTotalProblem, type WhatIf } from '../../domain/scoring/whatif.ts';
import { PERIOD_PHASE_LABELS, periodPhase } from '../../domain/vocabulary.ts';
import { clock } from '../../clock.ts';
import { listPeriods } from '../../services/periods.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { currentScheme, listSchemeVersions, saveScheme } from '../../services/scheme.ts';
import { latestResultPeriod, previewScheme, type SchemePreview } from '../../results/compute.ts';

// Admin page: the assessment scheme editor. "预览" shows the what-if of the draft on a chosen opened
// period (default: the latest with returns), per category (totals, grades, ranks), with the weight
// total; "保存为新版本" stores the draft as version n+1. The editor requires the weights to add up to
// WEIGHT_TOTAL (100), so that each indicator's points add up to the base score.
export const router = Router();

const num = (v: unknown): number => (typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : Number.NaN);

/** The draft from the form: the current scheme with the editable numbers and switches replaced. */
function draftFromForm(base: AssessmentScheme, b: Record<string, unknown>): AssessmentScheme {
  const d = cloneScheme(base);
  const inds = (b.indicators ?? {}) as Record<string, Record<string, unknown>>;
  d.indicators.forEach((ind, i) => {
    const f = inds[i] ?? inds[String(i)] ?? {};
    ind.weight = num(f.weight);
    ind.floor = num(f.floor);
    ind.target = num(f.target);
  });
  const grades = (b.grades ?? {}) as Record<string, Record<string, unknown>>;
  d.grades.forEach((g, i) => {
    g.min = num((grades[i] ?? grades[String(i)] ?? {}).min);
  });
  d.excellentQuota = num(b.excellentQuota);
  d.deductions.late = num(b.lateDeduction);
  d.accountability.A1.enabled = b.a1Enabled === 'on';
  d.accountability.A1.dueDays = num(b.a1DueDays);
  d.accountability.A2.enabled = b.a2Enabled === 'on';
  d.accountability.A3.enabled = b.a3Enabled === 'on';
  d.accountability.A3.minRankedUnits = num(b.a3MinRanked);
  d.accountability.A3.consecutiveQuarters = num(b.a3Consecutive);
  return d;
}

function presentDiff(diff: WhatIf) {
  const counts = diff.summary.gradeCounts;
  return {
    summary: diff.summary,
    changedRows: diff.rows.filter((r) => r.changed),
    gradeCounts: (Object.keys(counts.before) as (keyof typeof counts.before)[]).map((g) => ({ grade: g, before: counts.before[g], after: counts.after[g] })),
  };
}

async function render(res: Response, opts: { draft?: AssessmentScheme; preview?: SchemePreview; period?: string; errors?: { path: string; message: string }[]; note?: string; status?: number }) {
  const [current, versions, periods, latest] = await Promise.all([currentScheme(), listSchemeVersions(), listPeriods(), latestResultPeriod()]);
  const s = opts.draft ?? current.scheme;
  const now = clock.now();
  const selected = opts.period ?? opts.preview?.period ?? latest ?? '';
  const total = weightTotal(s.indicators.map((i) => i.weight));
  const phaseOf = new Map(periods.map((p) => [p.period, periodPhase(p, now)]));
  res.status(opts.status ?? 200).render('pages/scheme/index', {
    title: '考核方案',
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/scheme-weights.js'],
    current,
    versions,
    note: opts.note ?? '',
    periods: periods.map((p) => ({ period: p.period, phaseLabel: PERIOD_PHASE_LABELS[phaseOf.get(p.period)!], selected: p.period === selected })),
    draft: {
      ...s,
      indicators: s.indicators.map((ind, i) => ({ ...ind, index: i, formula: formulaText(ind), applicability: applicabilityText(ind) })),
      grades: s.grades.map((g, i) => ({ ...g, index: i })),
      weightTotal: total,
      weightTotalOk: total === WEIGHT_TOTAL,
    },
    weightTarget: WEIGHT_TOTAL,
    errors: opts.errors ?? [],
    preview: opts.preview
      ? {
          period: opts.preview.period,
          phaseLabel: phaseOf.has(opts.preview.period) ? PERIOD_PHASE_LABELS[phaseOf.get(opts.preview.period)!] : '',
          baseVersion: opts.preview.baseVersion,
          deadlinePassed: opts.preview.deadlinePassed,
          weightTotal: opts.preview.weightTotal,
          ...presentDiff(opts.preview.diff),
          categories: opts.preview.categories.map((c) => ({ category: c.category, label: UNIT_CATEGORY_LABELS[c.category], ...presentDiff(c.diff) })),
        }
      : null,
  });
}

/** Every problem of the draft for the editor: the scheme's own rules, then the weight total. */
function draftProblems(draft: AssessmentScheme): { path: string; message: string }[] {
  const v = validateScheme({ ...draft, version: 1 });
  const problems = v.ok ? [] : [...v.errors];
  const w = weightTotalProblem(draft.indicators.map((i) => i.weight));
  if (w) problems.push({ path: 'weights', message: w });
  return problems;
}

router.get('/scheme', requireRole('admin'), async (_req, res) => {
  await render(res, {});
});

router.post('/scheme', requireRole('admin'), async (req: Request, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const current = await currentScheme();
  const draft = draftFromForm(current.scheme, b);
  const note = typeof b.note === 'string' ? b.note : '';
  const period = typeof b.period === 'string' && b.period.trim() ? b.period.trim() : undefined;
  try {
    const problems = draftProblems(draft);
    if (problems.length) throw new AppError(422, 'invalid_scheme', `考核方案有误：${problems.map((e) => e.message).join('；')}`, problems);
    if (b.action === 'save') {
      const baseVersion = Number(b.baseVersion);
      const rec = await saveScheme({ username: principalOf(req).username, role: 'admin' }, draft, {
        baseVersion: Number.isInteger(baseVersion) ? baseVersion : undefined,
        note,
      });
      setFlash(req, 'ok', `已保存为考核方案第 ${rec.version} 版，此后计算的结果将使用新版本`);
      return void res.redirect(303, '/scheme');
    }
    const preview = await previewScheme(draft, period);
    await render(res, { draft, preview, note });
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const errors = Array.isArray(err.details) ? (err.details as { path: string; message: string }[]) : [{ path: '', message: err.message }];
    await render(res, { draft, errors, note, status: err.status, ...(period ? { period } : {}) });
  }
});
