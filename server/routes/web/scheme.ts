import { Router, type Request, type Response } from 'express';
import { AppError } from '../../domain/errors.ts';
import { cloneScheme, formulaText, applicabilityText, type AssessmentScheme } from '../../domain/scoring/scheme.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { currentScheme, listSchemeVersions, saveScheme } from '../../services/scheme.ts';
import { previewScheme, type SchemePreview } from '../../results/compute.ts';

// Admin page: the assessment scheme editor. "预览" shows the what-if of the draft on the latest
// period (totals, grades, ranks); "保存为新版本" stores the draft as version n+1.
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

async function render(res: Response, opts: { draft?: AssessmentScheme; preview?: SchemePreview; errors?: { path: string; message: string }[]; note?: string; status?: number }) {
  const [current, versions] = await Promise.all([currentScheme(), listSchemeVersions()]);
  const s = opts.draft ?? current.scheme;
  res.status(opts.status ?? 200).render('pages/scheme/index', {
    title: '考核方案',
    current,
    versions,
    note: opts.note ?? '',
    draft: {
      ...s,
      indicators: s.indicators.map((ind, i) => ({ ...ind, index: i, formula: formulaText(ind), applicability: applicabilityText(ind) })),
      grades: s.grades.map((g, i) => ({ ...g, index: i })),
    },
    errors: opts.errors ?? [],
    preview: opts.preview
      ? {
          ...opts.preview,
          changedRows: opts.preview.diff.rows.filter((r) => r.changed),
          gradeCounts: Object.keys(opts.preview.diff.summary.gradeCounts.before).map((g) => ({
            grade: g,
            before: opts.preview!.diff.summary.gradeCounts.before[g as keyof typeof opts.preview.diff.summary.gradeCounts.before],
            after: opts.preview!.diff.summary.gradeCounts.after[g as keyof typeof opts.preview.diff.summary.gradeCounts.after],
          })),
        }
      : null,
  });
}

router.get('/scheme', requireRole('admin'), async (_req, res) => {
  await render(res, {});
});

router.post('/scheme', requireRole('admin'), async (req: Request, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const current = await currentScheme();
  const draft = draftFromForm(current.scheme, b);
  const note = typeof b.note === 'string' ? b.note : '';
  try {
    if (b.action === 'save') {
      const baseVersion = Number(b.baseVersion);
      const rec = await saveScheme({ username: principalOf(req).username, role: 'admin' }, draft, {
        baseVersion: Number.isInteger(baseVersion) ? baseVersion : undefined,
        note,
      });
      setFlash(req, 'ok', `已保存为考核方案第 ${rec.version} 版，此后计算的结果将使用新版本`);
      return void res.redirect(303, '/scheme');
    }
    const preview = await previewScheme(draft);
    await render(res, { draft, preview, note });
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const errors = Array.isArray(err.details) ? (err.details as { path: string; message: string }[]) : [{ path: '', message: err.message }];
    await render(res, { draft, errors, note, status: err.status });
  }
});
