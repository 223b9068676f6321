// Annual results for year Y (SPEC §4): mean of the four quarterly totals (a quarter with no total
// counts 0), half-up to 2 decimals, ranked and graded like a quarter, with merit eligibility.
import { AppError } from '../errors.ts';
import type { UnitCategory } from '../fields.ts';
import { quartersOfYear } from '../periods.ts';
import { meritEligibility, type CaseLike } from './accountability.ts';
import { Rational } from './rational.ts';
import { drain, sortedIndexSteps, type Steps } from '../../steps.ts';
import { compareRows, rankAndGradeSteps, SLICE_UNITS } from './ranking.ts';
import type { AssessmentScheme, Grade } from './scheme.ts';
import { SCORE_PLACES } from './score.ts';

export interface AnnualUnit {
  unit: string;
  name: string;
  category: UnitCategory;
  active?: boolean;
}

/** A quarterly result row as stored (the SPEC §7 row has these fields). */
export interface QuarterRow {
  unit: string;
  total: number | null;
  grade: Grade | null;
}

export interface AnnualInput {
  year: number;
  units: readonly AnnualUnit[];
  /** Results of the year's quarters keyed by period ("2026Q1" …); absent quarters count 0 for everyone. */
  quarters: Readonly<Record<string, readonly QuarterRow[]>>;
  /**
   * The year's opened quarters, over which the mean is taken (SPEC §4); default all four. A unit with no
   * total in one of them counts 0 for it; quarters not listed take no part.
   */
  opened?: readonly string[];
  /** Accountability cases (any period); only those of quarters of `year` matter. */
  cases?: readonly CaseLike[];
  /** The instant at which a not yet resolved case is judged overdue. */
  now?: Date;
}

export interface AnnualResult {
  unit: string;
  name: string;
  category: UnitCategory;
  /** Quarterly totals keyed by period; null when the quarter has no total for the unit. */
  quarters: Record<string, number | null>;
  total: number;
  /** Exact mean before rounding, e.g. "88.7525". */
  totalExact: string;
  grade: Grade;
  rank: number;
  eligible: boolean;
  /** Chinese reasons when not eligible. */
  ineligibleReasons: string[];
}

/**
 * Scores year Y. Covers every active unit that has a row in at least one quarter of the year
 * (a unit never assessed in Y has no annual result).
 */
export function scoreYear(scheme: AssessmentScheme, input: AnnualInput): AnnualResult[] {
  return drain(scoreYearSteps(scheme, input));
}

/** {@link scoreYear} in slices (server/steps.ts): an annual view at national scale without holding the event loop. */
export function* scoreYearSteps(scheme: AssessmentScheme, input: AnnualInput): Steps<AnnualResult[]> {
  if (!Number.isInteger(input.year) || input.year < 1000 || input.year > 9999) {
    throw new AppError(400, 'invalid_year', `年度格式不正确：${input.year}`);
  }
  const periods = input.opened ? quartersOfYear(input.year).filter((p) => input.opened!.includes(p)) : quartersOfYear(input.year);
  if (periods.length === 0) return [];
  const byPeriod: Map<string, QuarterRow>[] = [];
  for (const p of periods) {
    const m = new Map<string, QuarterRow>();
    const rows = input.quarters[p] ?? [];
    for (let i = 0; i < rows.length; i++) {
      if (i % SLICE_UNITS === SLICE_UNITS - 1) yield;
      m.set(rows[i]!.unit, rows[i]!);
    }
    byPeriod.push(m);
  }
  const units = input.units.filter((u) => u.active !== false && byPeriod.some((m) => m.has(u.unit)));
  yield;
  const seen = new Set<string>();
  for (const u of units) {
    if (seen.has(u.unit)) throw new AppError(400, 'duplicate_unit', `年度评分输入中单位 ${u.unit} 重复`);
    seen.add(u.unit);
  }
  const four = Rational.of(periods.length);
  const computed = [];
  for (const u of units) {
    if (computed.length % SLICE_UNITS === SLICE_UNITS - 1) yield;
    const quarters: Record<string, number | null> = {};
    let sum = Rational.ZERO;
    periods.forEach((p, i) => {
      const t = byPeriod[i]!.get(u.unit)?.total ?? null;
      quarters[p] = t;
      if (t !== null) sum = sum.add(Rational.fromNumber(t));
    });
    const exact = sum.div(four);
    computed.push({ u, quarters, exact, total: exact.roundHalfUp(SCORE_PLACES) });
  }
  const placements = yield* rankAndGradeSteps(
    scheme,
    computed.map((c) => ({ unit: c.u.unit, category: c.u.category, total: c.total })),
  );
  // Each unit's cases, grouped once (each unit filtering every case of the year was quadratic).
  const casesOf = new Map<string, CaseLike[]>();
  for (const c of input.cases ?? []) {
    const unit = c.unit;
    const list = casesOf.get(unit);
    if (list) list.push(c);
    else casesOf.set(unit, [c]);
  }
  const rows: AnnualResult[] = [];
  for (const c of computed) {
    if (rows.length % SLICE_UNITS === SLICE_UNITS - 1) yield;
    const p = placements.get(c.u.unit)!;
    const quarterGrades: Record<string, Grade | null> = {};
    periods.forEach((per, i) => (quarterGrades[per] = byPeriod[i]!.get(c.u.unit)?.grade ?? null));
    const elig = meritEligibility({
      year: input.year,
      unit: c.u.unit,
      quarterGrades,
      cases: casesOf.get(c.u.unit) ?? [],
      now: input.now ?? null,
    });
    rows.push({
      unit: c.u.unit,
      name: c.u.name,
      category: c.u.category,
      quarters: c.quarters,
      total: c.total.toNumber(SCORE_PLACES),
      totalExact: c.exact.toExactString(),
      grade: p.grade!,
      rank: p.rank!,
      eligible: elig.eligible,
      ineligibleReasons: elig.reasons,
    });
  }
  return (yield* sortedIndexSteps(rows.length, (a, b) => compareRows(rows[a]!, rows[b]!) || a - b)).map((i) => rows[i]!);
}
