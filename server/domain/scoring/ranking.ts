// Ranks and grades within a category, with the 优秀 quota (SPEC §4). Shared by quarterly and annual results.
import { UNIT_CATEGORIES, type UnitCategory } from '../fields.ts';
import { Rational } from './rational.ts';
import type { AssessmentScheme, Grade } from './scheme.ts';

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
  const out = new Map<string, Placement>();
  const byCat = new Map<UnitCategory, Rankable[]>();
  for (const it of items) {
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
    const sorted = [...list].sort((a, b) => b.total!.cmp(a.total!) || compareCodes(a.unit, b.unit));
    const cap = excellentCap(scheme, sorted.length);
    let excellentSeen = 0;
    sorted.forEach((it, i) => {
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
    });
  }
  return out;
}

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
