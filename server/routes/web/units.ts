import { Router } from 'express';
import { FIELD_LABELS, RETURN_FIELDS } from '../../domain/fields.ts';
import { SOURCE_LABELS } from '../../domain/vocabulary.ts';
import { requireAuth } from '../../http/auth.ts';
import { presentExplanation } from '../../pages/explanation.ts';
import { unitDetail } from '../../pages/unit.ts';
import { directTarget, matchUnits, parseQuery, SEARCH_MAX_LENGTH, SEARCH_MAX_RESULTS } from '../../pages/search.ts';
import { canSeeUnitData } from '../../pages/common.ts';
import { listUnits } from '../../services/units.ts';
import { UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { arrow, flagTags, PALETTE, percent, q, STATUS_BADGE, viewerOf, type ChartSpec } from './_present.ts';

// 单位详情 (/units/:code): indicators against targets, trend, "why this score", return history,
// cases. The unit list and its administration live under /admin/units (intake). Mounted at /.
export const router = Router();


const RETURN_STATUS: Record<string, { text: string; cls: string }> = {
  submitted: { text: '待审核', cls: 'muted' },
  approved: { text: '审核通过', cls: 'ok' },
  rejected: { text: '已退回', cls: 'bad' },
};
const CASE_CLS: Record<string, string> = { open: 'warn', rectifying: 'muted', resolved: 'ok', overdue: 'bad' };
const IND_COLORS = [PALETTE.blue, PALETTE.green, PALETTE.red, PALETTE.orange, PALETTE.purple, PALETTE.teal];

// 查找单位 (/search?q=…): by code, name or alias; one match the viewer may open → straight to its page.
router.get('/search', requireAuth, async (req, res) => {
  const v = viewerOf(req);
  const query = parseQuery((req.query as Record<string, unknown>).q);
  const units = query ? await listUnits() : [];
  const matches = matchUnits(units, query);
  const target = directTarget(matches, (code) => canSeeUnitData(v, code));
  if (target) return res.redirect(303, `/units/${encodeURIComponent(target)}`);
  const names = new Map(units.map((u) => [u.code, u.name]));
  res.render('pages/unit/search', {
    title: query ? `查找单位：${query}` : '查找单位',
    styles: ['/public/css/pages.css'],
    query,
    maxLength: SEARCH_MAX_LENGTH,
    total: matches.length,
    truncated: matches.length > SEARCH_MAX_RESULTS,
    limit: SEARCH_MAX_RESULTS,
    results: matches.slice(0, SEARCH_MAX_RESULTS).map((m) => ({
      code: m.unit.code,
      name: m.unit.name,
      catLabel: UNIT_CATEGORY_LABELS[m.unit.category],
      parentName: m.unit.parent ? names.get(m.unit.parent) ?? m.unit.parent : null,
      aliases: (m.unit.aliases ?? []).join('、'),
      active: m.unit.active,
      matched: m.matched,
      canOpen: canSeeUnitData(v, m.unit.code),
    })),
    isReporter: v.role === 'reporter',
  });
});

router.get('/units/:code', requireAuth, async (req, res) => {
  const v = viewerOf(req);
  const d = await unitDetail(v, String(req.params.code), q(req, 'period'));
  const ex = d.explanation;

  const labels = d.history.map((h) => h.period);
  const totalChart: ChartSpec = {
    type: 'line',
    labels,
    min: 0,
    max: 100,
    datasets: [{ label: '总分', data: d.history.map((h) => h.total), color: PALETTE.red }],
  };
  const indicatorChart: ChartSpec = {
    type: 'line',
    labels,
    percent: true,
    min: 0,
    max: 1,
    datasets: d.indicators.map((i, k) => ({
      label: `${i.id} ${i.name}`,
      data: d.history.map((h) => h.indicators[i.id] ?? null),
      color: IND_COLORS[k % IND_COLORS.length]!,
    })),
  };

  // Revisions side by side (newest first), values that changed from the previous revision marked.
  const oldestFirst = [...d.revisions].reverse();
  const revisionColumns = d.revisions.map((r) => ({
    ...r,
    sourceLabel: SOURCE_LABELS[r.source] ?? r.source,
    statusTag: RETURN_STATUS[r.status] ?? { text: r.status, cls: 'muted' },
  }));
  const valueRows = RETURN_FIELDS.map((f) => ({
    label: FIELD_LABELS[f.key],
    key: f.key,
    cells: d.revisions.map((r) => {
      const i = oldestFirst.findIndex((x) => x.revision === r.revision);
      const prev = i > 0 ? oldestFirst[i - 1] : null;
      return { value: r.values[f.key], changed: !!prev && prev.values[f.key] !== r.values[f.key] };
    }),
  }));

  res.render('pages/unit/show', {
    title: `${d.unit.name} · 单位详情`,
    printTitle: `${d.unit.name}${d.label ? ` ${d.label}` : ''}考核结果`,
    pageClass: 'print-portrait',
    styles: ['/public/css/pages.css'],
    scripts: ['/vendor/chart.js/chart.umd.min.js', '/public/js/charts.js', '/public/js/pages.js'],
    d,
    badge: d.status ? STATUS_BADGE[d.status] : STATUS_BADGE.none,
    periods: d.periods.map((p) => ({ ...p, selected: p.period === d.period, statusText: p.status === 'final' ? '已发布' : '暂定' })),
    row: d.row ? { ...d.row, arrow: arrow(d.row.rankChange), tags: flagTags(d.row.flags) } : null,
    ranked: d.history.find((h) => h.period === d.period)?.ranked ?? null,
    ex,
    why: ex ? presentExplanation(ex) : null,
    bars: (ex?.indicators ?? []).map((i) => ({
      ...i,
      valueText: percent(i.value),
      targetText: percent(i.target),
      width: i.value === null ? 0 : Math.max(0, Math.min(100, i.value * 100)),
      targetPos: Math.max(0, Math.min(100, i.target * 100)),
      met: i.value !== null && i.value >= i.target,
    })),
    deductionTotal: ex ? ex.deductions.reduce((a, x) => a + x.points, 0) : 0,
    totalChart,
    indicatorChart,
    historyRows: d.history.map((h) => ({
      ...h,
      statusText: h.status === 'final' ? '已发布' : '暂定',
      cells: d.indicators.map((i) => percent(h.indicators[i.id] ?? null)),
      tags: flagTags(h.flags),
    })),
    revisionColumns,
    valueRows,
    cases: d.cases.map((c) => ({ ...c, cls: CASE_CLS[c.status] ?? 'muted' })),
    sheetHref: d.period ? `/api/v1/results/${d.period}/units/${d.unit.code}/sheet.xlsx` : null,
    canSubmit: v.role === 'reporter' || v.role === 'admin',
    // A city's counties with their ranks: everyone but reporters; a reporter once the period is published
    // (the published ranking shows these figures to every unit), without links to other units' pages.
    showChildren: d.children.length > 0 && (v.role !== 'reporter' || d.status === 'final'),
    childRows: d.childRows.map((c) => ({ ...c, tags: flagTags(c.flags), canOpen: v.role !== 'reporter' || v.unit === c.code })),
    countyRankingHref: d.period ? `/ranking?period=${d.period}&category=county` : null,
    canOpenParent: v.role !== 'reporter',
  });
});
