// 提分路径 on pages (unit page, a reporter's 总览): the unit's stored explanation (its return's values and
// late deduction as scored) and its category's totals in the period's snapshot, re-scored with the scheme
// version the snapshot was computed with (server/domain/scoring/improve.ts). presentImprove is pure.
import type { FieldKey, ReturnValues, UnitCategory } from '../domain/fields.ts';
import { improvePath, suggestionText, type ImprovePath } from '../domain/scoring/improve.ts';
import type { AssessmentScheme, Grade } from '../domain/scoring/scheme.ts';
import type { UnitExplanation } from '../domain/scoring/score.ts';
import type { Snapshot } from '../results/snapshot.ts';
import { schemeVersion } from '../services/scheme.ts';

export interface ImproveView {
  /** "当前 83.33 分（良好），目标：优秀" */
  heading: string;
  target: Grade | null;
  items: { text: string; points: number; total: number; grade: Grade; quotaNote: string | null; line: string }[];
  note: string | null;
}

/** The return's values as the explanation recorded them (fields no indicator reads are 0: they never score). */
export function valuesOf(ex: Pick<UnitExplanation, 'indicators'>): ReturnValues {
  const v = {} as Record<FieldKey, number>;
  for (const i of ex.indicators) for (const x of i.inputs) v[x.field] = x.value;
  return v as ReturnValues;
}

/** The way up for a scored unit, from its explanation and the snapshot's other totals (pure). */
export function improveOf(
  scheme: AssessmentScheme,
  ex: Pick<UnitExplanation, 'unit' | 'status' | 'indicators' | 'deductions'>,
  category: UnitCategory,
  snapshot: Pick<Snapshot, 'inCategory' | 'unit' | 'total' | 'rank'>,
): ImprovePath | null {
  if (ex.status !== 'scored') return null;
  const others: { unit: string; total: number }[] = [];
  for (const i of snapshot.inCategory(category)) {
    const total = snapshot.total(i);
    if (snapshot.unit(i) !== ex.unit && total !== null && snapshot.rank(i) !== null) others.push({ unit: snapshot.unit(i), total });
  }
  return improvePath(
    scheme,
    { unit: ex.unit, category, values: valuesOf(ex), late: ex.deductions.some((d) => d.rule === 'late') },
    { deadlinePassed: true, others },
  );
}

export function presentImprove(p: ImprovePath): ImproveView {
  const now = p.total === null ? '本期不评分' : `当前 ${p.total.toFixed(2)} 分（${p.grade}）`;
  return {
    heading: p.target ? `${now}，目标：${p.target}` : now,
    target: p.target,
    items: p.suggestions.map((s) => ({ text: s.text, points: s.points, total: s.total, grade: s.grade, quotaNote: s.quotaNote, line: suggestionText(s) })),
    note: p.note,
  };
}

/** The unit's way up in a period with results (null when it is not scored there). */
export async function improveView(ex: UnitExplanation & { schemeVersion: number; category: string }, snapshot: Snapshot): Promise<ImproveView | null> {
  const { scheme } = await schemeVersion(ex.schemeVersion);
  const path = improveOf(scheme, ex, ex.category as UnitCategory, snapshot);
  return path ? presentImprove(path) : null;
}
