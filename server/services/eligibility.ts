// Annual results and merit eligibility (评先评优), SPEC §4: the mean of the year's four quarterly
// totals, graded and ranked like a quarter; not eligible with any 不合格 quarter or overdue case in Y.
import { clock } from '../clock.ts';
import { AppError, badRequest } from '../domain/errors.ts';
import type { UnitCategory } from '../domain/fields.ts';
import { quartersOfYear } from '../domain/periods.ts';
import { scoreYearSteps, type AnnualResult } from '../domain/scoring/annual.ts';
import { runInSlices } from '../steps.ts';
import type { CaseStatus } from '../domain/scoring/accountability.ts';
import { Case } from '../models/case.ts';
import { Unit } from '../models/unit.ts';
import { currentScheme } from './scheme.ts';
import { listPeriods } from './periods.ts';
import { snapshotsOf } from '../results/read.ts';
import { freshShared } from './fresh-shared.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export interface YearView {
  year: number;
  /** Status of each quarter's results: final, provisional or none (counts 0). */
  quarters: Record<string, 'final' | 'provisional' | 'none'>;
  /** All four quarters are final: the annual result is final. */
  final: boolean;
  schemeVersion: number;
  results: AnnualResult[];
}

export function assertYear(raw: unknown): number {
  if (typeof raw !== 'string' || !/^\d{4}$/.test(raw)) throw badRequest('invalid_year', `年度「${String(raw ?? '')}」无效，应为四位数字，如 2026`);
  return Number(raw);
}

/**
 * Year Y over its opened quarters (SPEC §4), from their current results (final or provisional; a unit
 * without a total in one counts 0), graded with the scheme in force; eligibility judged at clock.now().
 * 404 period_not_open when none of the year's quarters was opened. Final once every opened quarter is
 * published and the fourth quarter is among them. The caller's own copy of the view and of its list
 * (the rows themselves are shared and frozen).
 */
export async function annualResults(year: number): Promise<YearView> {
  const shared = await sharedComputation(year);
  return { ...shared, quarters: { ...shared.quarters }, results: shared.results.slice() };
}

// Views of the same year at once share one computation that began after each was asked for (at
// 50 000 units one is ≈ 4 s and ≈ 50 MB; ten page views at once took 712 MB, ten computations).
const sharedComputation = freshShared(computeYear);

async function computeYear(year: number): Promise<YearView> {
  const opened = new Set((await listPeriods()).map((p) => p.period));
  const periods = quartersOfYear(year).filter((p) => opened.has(p));
  if (periods.length === 0) throw new AppError(404, 'period_not_open', `${year} 年尚无已开放的考核期次`);
  // Each quarter's unit, total and grade, from its snapshot's columns (shared with the ranking pages).
  const sets = await snapshotsOf(periods);
  const quarters: YearView['quarters'] = {};
  const rowsByPeriod: Record<string, { unit: string; total: number | null; grade: AnnualResult['grade'] | null }[]> = {};
  for (const p of periods) {
    const s = sets.get(p);
    quarters[p] = s ? s.set.status : 'none';
    if (s) rowsByPeriod[p] = Array.from({ length: s.snapshot.size }, (_, i) => ({ unit: s.snapshot.unit(i), total: s.snapshot.total(i), grade: s.snapshot.grade(i) }));
  }
  const units = (await Unit.find({}, { code: 1, name: 1, category: 1, active: 1 }).batchSize(DOCS_PER_COMMAND).lean()).map((u) => ({
    unit: u.code,
    name: u.name,
    category: u.category as UnitCategory,
    active: u.active !== false,
  }));
  const cases = (await Case.find({ period: { $in: periods } }, { _id: 0, unit: 1, period: 1, rule: 1, status: 1, dueAt: 1, resolvedAt: 1 }).batchSize(DOCS_PER_COMMAND).lean()).map((c) => ({
    unit: c.unit,
    period: c.period,
    rule: c.rule as 'A1' | 'A2' | 'A3',
    status: c.status as CaseStatus,
    dueAt: c.dueAt ?? null,
    resolvedAt: c.resolvedAt ?? null,
  }));
  const scheme = (await currentScheme()).scheme;
  // In slices: at 50 000 units the year is ≈ 1 s of arithmetic, which other requests need not wait for.
  const results = await runInSlices(scoreYearSteps(scheme, { year, units, quarters: rowsByPeriod, opened: periods, cases, now: clock.now() }));
  for (const r of results) {
    Object.freeze(r.quarters);
    Object.freeze(r.ineligibleReasons);
    Object.freeze(r);
  }
  return {
    year,
    quarters,
    final: periods.includes(`${year}Q4`) && periods.every((p) => quarters[p] === 'final'),
    schemeVersion: scheme.version,
    results,
  };
}
