// What-if preview for the scheme editor: a pure diff of two result sets of the same period.
import { UNIT_CATEGORIES, type UnitCategory } from '../fields.ts';
import { Rational } from './rational.ts';
import { compareRows } from './ranking.ts';
import { GRADES, type Grade } from './scheme.ts';

export interface ComparableRow {
  unit: string;
  name: string;
  category: UnitCategory;
  total: number | null;
  grade: Grade | null;
  rank: number | null;
}

export interface Standing {
  total: number | null;
  grade: Grade | null;
  rank: number | null;
}

export interface WhatIfRow {
  unit: string;
  name: string;
  category: UnitCategory;
  /** null when the unit is absent from that side. */
  before: Standing | null;
  after: Standing | null;
  /** after.total − before.total (exact, 2 decimals); null when either is missing. */
  totalDelta: number | null;
  gradeChanged: boolean;
  /** before.rank − after.rank (positive = moves up); null when either is missing. */
  rankDelta: number | null;
  changed: boolean;
}

export interface WhatIf {
  rows: WhatIfRow[];
  summary: {
    units: number;
    changedTotals: number;
    changedGrades: number;
    changedRanks: number;
    gradeCounts: { before: Record<Grade, number>; after: Record<Grade, number> };
  };
}

const standing = (r: ComparableRow | undefined): Standing | null => (r ? { total: r.total, grade: r.grade, rank: r.rank } : null);
const zeroCounts = () => Object.fromEntries(GRADES.map((g) => [g, 0])) as Record<Grade, number>;

export function diffResults(before: readonly ComparableRow[], after: readonly ComparableRow[]): WhatIf {
  const b = new Map(before.map((r) => [r.unit, r]));
  const a = new Map(after.map((r) => [r.unit, r]));
  const units = [...new Set([...b.keys(), ...a.keys()])];
  const rows = units.map((unit): WhatIfRow => {
    const rb = b.get(unit);
    const ra = a.get(unit);
    const base = (ra ?? rb)!;
    const bs = standing(rb);
    const as = standing(ra);
    const totalDelta =
      bs?.total != null && as?.total != null ? Rational.fromNumber(as.total).sub(Rational.fromNumber(bs.total)).toNumber(2) : null;
    const rankDelta = bs?.rank != null && as?.rank != null ? bs.rank - as.rank : null;
    const gradeChanged = (bs?.grade ?? null) !== (as?.grade ?? null);
    const changed =
      !bs || !as || bs.total !== as.total || gradeChanged || bs.rank !== as.rank;
    return { unit, name: base.name, category: base.category, before: bs, after: as, totalDelta, gradeChanged, rankDelta, changed };
  });
  rows.sort((x, y) => compareRows({ ...x, rank: x.after?.rank ?? x.before?.rank ?? null }, { ...y, rank: y.after?.rank ?? y.before?.rank ?? null }));
  const counts = { before: zeroCounts(), after: zeroCounts() };
  for (const r of before) if (r.grade) counts.before[r.grade] += 1;
  for (const r of after) if (r.grade) counts.after[r.grade] += 1;
  return {
    rows,
    summary: {
      units: rows.length,
      changedTotals: rows.filter((r) => r.before?.total !== r.after?.total).length,
      changedGrades: rows.filter((r) => r.gradeChanged).length,
      changedRanks: rows.filter((r) => r.before?.rank !== r.after?.rank).length,
      gradeCounts: counts,
    },
  };
}

/** The what-if of each category (units are ranked and graded within their category), in category order; empty ones left out. */
export function diffByCategory(before: readonly ComparableRow[], after: readonly ComparableRow[]): { category: UnitCategory; diff: WhatIf }[] {
  const out: { category: UnitCategory; diff: WhatIf }[] = [];
  for (const c of UNIT_CATEGORIES) {
    const b = before.filter((r) => r.category === c);
    const a = after.filter((r) => r.category === c);
    if (b.length || a.length) out.push({ category: c, diff: diffResults(b, a) });
  }
  return out;
}

/** What the indicator weights add up to in the editor: 100 (each indicator's points then add up to the base score). */
export const WEIGHT_TOTAL = 100;

/** Σ weights (exact for decimal weights, 4 places); null when a weight is not a finite number. */
export function weightTotal(weights: readonly unknown[]): number | null {
  let sum = Rational.ZERO;
  for (const w of weights) {
    if (typeof w !== 'number' || !Number.isFinite(w)) return null;
    sum = sum.add(Rational.fromNumber(w));
  }
  return sum.toNumber(4);
}

/** The Chinese problem of a weight total other than WEIGHT_TOTAL, or null. */
export function weightTotalProblem(weights: readonly unknown[]): string | null {
  const total = weightTotal(weights);
  if (total === null || total === WEIGHT_TOTAL) return null;
  return `各指标权重合计应为 ${WEIGHT_TOTAL}，当前为 ${total}（${total > WEIGHT_TOTAL ? `多 ${Rational.fromNumber(total).sub(Rational.of(WEIGHT_TOTAL)).toNumber(4)}` : `少 ${Rational.of(WEIGHT_TOTAL).sub(Rational.fromNumber(total)).toNumber(4)}`}）：请调整权重后再预览或保存`;
}
