import { Router } from 'express';
import { labelOf, SOURCE_LABELS } from '../../domain/vocabulary.ts';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { requireRole } from '../../http/auth.ts';
import { periodLabel, periodOptions } from '../../pages/common.ts';
import { progress, PROGRESS_LABELS, PROGRESS_STATES } from '../../pages/progress.ts';
import { percent, periodQuery, q, viewerOf } from './_present.ts';

// 填报进度 (/progress): for a period, who submitted, who is late, rejected or missing, reminders sent.
// Reviewers, the office and admins (reporters see their own status on 总览 and 填报). Mounted at /.
export const router = Router();


router.get('/progress', requireRole('reviewer', 'office', 'admin'), async (req, res) => {
  const v = viewerOf(req);
  const [p, periods] = await Promise.all([
    progress(v, { period: q(req, 'period'), category: q(req, 'category'), state: q(req, 'state') }),
    periodOptions(v),
  ]);
  const period = p.summary.period;
  const list = periods.some((x) => x.period === period) ? periods : [{ period, label: periodLabel(period), status: 'none' as const }, ...periods];
  const counts = Object.fromEntries(PROGRESS_STATES.map((s) => [s, 0])) as Record<string, number>;
  // Counts over the category filter (not the state filter), for the state tabs.
  const all = await progress(v, { period, category: q(req, 'category') });
  for (const r of all.rows) counts[r.state]!++;

  res.render('pages/progress/index', {
    title: '填报进度',
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/pages.js'],
    p,
    label: periodLabel(period),
    percentText: percent(p.summary.rate),
    periods: list.map((x) => ({ ...x, selected: x.period === period })),
    categories: [{ value: 'all', label: '全部类别' }, ...UNIT_CATEGORIES.map((c) => ({ value: c, label: UNIT_CATEGORY_LABELS[c] }))].map((c) => ({ ...c, selected: c.value === p.category })),
    states: [
      { label: '全部', count: all.rows.length, href: `/progress${periodQuery({ period, category: p.category === 'all' ? undefined : p.category })}`, current: p.state === 'all' },
      ...PROGRESS_STATES.filter((s) => counts[s]! > 0 || s === p.state).map((s) => ({
        label: PROGRESS_LABELS[s],
        count: counts[s],
        href: `/progress${periodQuery({ period, category: p.category === 'all' ? undefined : p.category, state: s })}`,
        current: p.state === s,
      })),
    ],
    byCategory: p.byCategory.map((c) => ({ ...c, rateText: percent(c.units ? c.submitted / c.units : null) })),
    rows: p.rows.map((r) => ({ ...r, stateLabel: PROGRESS_LABELS[r.state], sourceLabel: labelOf(SOURCE_LABELS, r.source) })),
  });
});
