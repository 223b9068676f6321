// Ranks and grades within a category, with the 优秀 quota (SPEC §4). Shared by quarterly and annual results.
import { UNIT_CATEGORIES, type UnitCategory } from '../fields.ts';
import { gcd, Rational } from './rational.ts';
import { drain, sortedIndexSteps, type Steps } from '../../steps.ts';
import type { AssessmentScheme, Grade } from './scheme.ts';

/** Units a sliced scoring step handles between two yields (server/steps.ts). */
export const SLICE_UNITS = 256;

export interface Rankable {
  unit: string;
  category: UnitCategory;
  /** The final (already rounded) total, or null when the unit has no total (not ranked). */
  total: Rational | null;
  /** Grade regardless of the bands (missing return → 不合格). */
  forceGrade?: Grade;
}

export interface Placement {
  rank: number | null;
  grade: Grade | null;
  /** Grade by the bands alone, before the 优秀 quota. */
  bandGrade: Grade | null;
  /** True when the band said 优秀 but the quota demoted the unit. */
  capped: boolean;
  /** floor(quota × ranked units) of the unit's category. */
  cap: number;
  /** Number of ranked units in the unit's category. */
  rankedInCategory: number;
  /** Position among the category's 优秀-band units in (rank, unit code) order, 1-based; null when not in the band. */
  excellentPosition: number | null;
}

/** Plain code-unit comparison: locale-independent, so results never depend on the machine. */
export const compareCodes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const categoryIndex = (c: UnitCategory): number => {
  const i = (UNIT_CATEGORIES as readonly string[]).indexOf(c);
  return i < 0 ? UNIT_CATEGORIES.length : i;
};

/** The grade the bands give a total (bands are validated: descending, last min 0). */
export function bandGrade(scheme: AssessmentScheme, total: Rational): Grade {
  for (const b of scheme.grades) if (total.gte(Rational.fromNumber(b.min))) return b.grade;
  return scheme.grades[scheme.grades.length - 1]!.grade;
}

/** floor(quota × n), exactly. */
export function excellentCap(scheme: AssessmentScheme, rankedUnits: number): number {
  return Number(Rational.fromNumber(scheme.excellentQuota).mul(Rational.of(rankedUnits)).floor());
}

/**
 * Ranks every item within its category (total descending; equal totals share a rank: 1, 2, 2, 4),
 * grades by the bands, then applies the 优秀 cap: the 优秀-band units of a category taken in
 * (rank, unit code) order keep 优秀 up to the cap; the others get the next band (良好).
 */
export function rankAndGrade(scheme: AssessmentScheme, items: readonly Rankable[]): Map<string, Placement> {
  return drain(rankAndGradeSteps(scheme, items));
}

/** {@link rankAndGrade} in slices (server/steps.ts): yields every SLICE_UNITS units and during the sort. */
export function* rankAndGradeSteps(scheme: AssessmentScheme, items: readonly Rankable[]): Steps<Map<string, Placement>> {
  const out = new Map<string, Placement>();
  const byCat = new Map<UnitCategory, Rankable[]>();
  let n = 0;
  for (const it of items) {
    if (++n % SLICE_UNITS === 0) yield;
    if (it.total === null) {
      out.set(it.unit, {
        rank: null,
        grade: null,
        bandGrade: null,
        capped: false,
        cap: 0,
        rankedInCategory: 0,
        excellentPosition: null,
      });
      continue;
    }
    const list = byCat.get(it.category) ?? [];
    list.push(it);
    byCat.set(it.category, list);
  }
  const top = scheme.grades[0]!.grade;
  const demoted = scheme.grades[1]?.grade ?? top;
  for (const [, list] of byCat) {
    const key = exactKeys(list.map((it) => it.total!));
    const order = yield* sortedIndexSteps(list.length, (a, b) => (key[b]! > key[a]! ? 1 : key[b]! < key[a]! ? -1 : 0) || compareCodes(list[a]!.unit, list[b]!.unit) || a - b);
    const sorted = order.map((i) => list[i]!);
    const cap = excellentCap(scheme, sorted.length);
    let excellentSeen = 0;
    for (let i = 0; i < sorted.length; i++) {
      if (i % SLICE_UNITS === SLICE_UNITS - 1) yield;
      const it = sorted[i]!;
      // Rank = 1 + number of units with a strictly higher total.
      let rank = i + 1;
      if (i > 0) {
        const prev = out.get(sorted[i - 1]!.unit)!;
        if (sorted[i - 1]!.total!.eq(it.total!)) rank = prev.rank!;
      }
      const band = it.forceGrade ?? bandGrade(scheme, it.total!);
      let grade = band;
      let capped = false;
      let excellentPosition: number | null = null;
      if (band === top) {
        excellentSeen += 1;
        excellentPosition = excellentSeen;
        if (excellentSeen > cap) {
          grade = demoted;
          capped = true;
        }
      }
      out.set(it.unit, { rank, grade, bandGrade: band, capped, cap, rankedInCategory: sorted.length, excellentPosition });
    }
  }
  return out;
}

/**
 * Keys that compare as the totals do, exactly: each total over the least common denominator of all
 * (100 for totals rounded to two places), as a plain number where every key is a safe integer.
 */
function exactKeys(totals: readonly Rational[]): readonly (number | bigint)[] {
  let lcd = 1n;
  for (const d of new Set(totals.map((t) => t.d))) lcd = (lcd / gcd(lcd, d)) * d;
  const keys = totals.map((t) => t.n * (lcd / t.d));
  const safe = keys.every((k) => k <= MAX_SAFE && k >= -MAX_SAFE);
  return safe ? keys.map(Number) : keys;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Stable output order: category (department, city, county), rank (unranked last), unit code. */
export function compareRows(
  a: { unit: string; category: UnitCategory; rank: number | null },
  b: { unit: string; category: UnitCategory; rank: number | null },
): number {
  return (
    categoryIndex(a.category) - categoryIndex(b.category) ||
    (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER) ||
    compareCodes(a.unit, b.unit)
  );
}

/** previous rank − this rank (positive = moved up); null when either is missing or the category changed. */
export function rankChange(
  unit: string,
  category: UnitCategory,
  rank: number | null,
  previous: ReadonlyMap<string, { category?: UnitCategory; rank: number | null }>,
): number | null {
  const p = previous.get(unit);
  if (rank === null || !p || p.rank === null || p.rank === undefined) return null;
  if (p.category !== undefined && p.category !== category) return null;
  return p.rank - rank;
}
