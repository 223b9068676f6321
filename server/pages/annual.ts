// 年度排名 (/annual): one category of year Y's annual results (SPEC §4: the mean of the year's opened
// quarters' totals, graded and ranked like a quarter; 评先评优 eligibility). The read model reads the
// year through services/eligibility.ts (which reads results, never computes or writes them);
// presentAnnual is pure (year view + viewer + query → view model).
import { notFound } from '../domain/errors.ts';
import { UNIT_CATEGORIES, type UnitCategory } from '../domain/fields.ts';
import { parseQuarter } from '../domain/periods.ts';
import type { AnnualResult } from '../domain/scoring/annual.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import type { GradeBand } from '../domain/scoring/scheme.ts';
import { annualResults, assertYear, type YearView } from '../services/eligibility.ts';
import { listPeriods, type PeriodView } from '../services/periods.ts';
import { currentScheme } from '../services/scheme.ts';
import { readPointers } from '../results/store.ts';
import { canSeeUnitData, type Viewer } from './common.ts';

export interface AnnualRow extends AnnualResult {
  visible: boolean;
  /** 优秀 by total, 良好 by the quota (the same rule as a quarter's). */
  capped: boolean;
}

export interface AnnualView {
  year: number;
  final: boolean;
  schemeVersion: number;
  /** The year's opened quarters with the status of their results. */
  quarters: { period: string; label: string; status: 'final' | 'provisional' | 'none' }[];
  category: UnitCategory;
  counts: Record<UnitCategory, number>;
  rows: AnnualRow[];
  /** A reporter before the year is final sees its own row only. */
  ownOnly: boolean;
  /** Years with an opened quarter, newest first. */
  years: number[];
  grades: readonly GradeBand[];
  excellentQuota: number;
}

/** Years of the opened periods, newest first. */
export function yearsOf(opened: readonly Pick<PeriodView, 'period'>[]): number[] {
  return [...new Set(opened.map((p) => parseQuarter(p.period)?.year).filter((y): y is number => y !== undefined))].sort((a, b) => b - a);
}

/**
 * The default year: the year of the newest published quarter; else the newest year with an opened quarter.
 * 404 period_not_open when no period was ever opened.
 */
export function defaultYear(opened: readonly Pick<PeriodView, 'period'>[], publishedPeriods: readonly string[]): number {
  const latestFinal = [...publishedPeriods].sort().at(-1);
  const y = latestFinal ? parseQuarter(latestFinal)?.year : yearsOf(opened)[0];
  if (y === undefined) throw notFound('period_not_open', '尚未开放任何考核期次，暂无年度排名');
  return y;
}

export function presentAnnual(
  v: Viewer,
  view: YearView,
  q: { category: UnitCategory; years: number[]; grades: readonly GradeBand[]; excellentQuota: number },
): AnnualView {
  const ownOnly = v.role === 'reporter' && !view.final;
  const visibleRows = ownOnly ? view.results.filter((r) => r.unit === v.unit) : view.results;
  const counts = Object.fromEntries(UNIT_CATEGORIES.map((c) => [c, visibleRows.filter((r) => r.category === c).length])) as Record<UnitCategory, number>;
  const top = q.grades[0];
  const second = q.grades[1];
  const rows = visibleRows
    .filter((r) => r.category === q.category)
    .sort((a, b) => a.rank - b.rank || compareCodes(a.unit, b.unit))
    .map((r) => ({
      ...r,
      visible: canSeeUnitData(v, r.unit),
      capped: !!top && !!second && r.grade === second.grade && r.total >= top.min,
    }));
  return {
    year: view.year,
    final: view.final,
    schemeVersion: view.schemeVersion,
    quarters: Object.entries(view.quarters)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([period, status]) => ({ period, label: `第${'一二三四'[Number(period.slice(5)) - 1]}季度`, status })),
    category: q.category,
    counts,
    rows,
    ownOnly,
    years: q.years,
    grades: q.grades,
    excellentQuota: q.excellentQuota,
  };
}

/** The annual ranking page's model. 400 invalid_year; 404 period_not_open for a year with no opened quarter. */
export async function annualPage(v: Viewer, rawYear: string | undefined, rawCategory: string | undefined): Promise<AnnualView> {
  const opened = await listPeriods();
  let year: number;
  if (rawYear !== undefined && rawYear !== '') year = assertYear(rawYear);
  else {
    const published = (await readPointers()).filter((s) => s.status === 'final').map((s) => s.period);
    year = defaultYear(opened, published);
  }
  const category: UnitCategory = (UNIT_CATEGORIES as readonly string[]).includes(rawCategory ?? '') ? (rawCategory as UnitCategory) : 'department';
  const [view, scheme] = await Promise.all([annualResults(year), currentScheme()]);
  return presentAnnual(v, view, { category, years: yearsOf(opened), grades: scheme.scheme.grades, excellentQuota: scheme.scheme.excellentQuota });
}

