// 单位对比 (/compare?period=P&units=A&units=B…): 2–5 units of one period side by side — total, grade,
// rank, each indicator score with its band, 提分路径 in one line. presentCompare is pure; compareUnits
// reads the snapshot and, for the units the viewer may see in detail, their explanations.
import { badRequest, notFound } from '../domain/errors.ts';
import { UNIT_CATEGORY_LABELS } from '../domain/fields.ts';
import { explainUnit, resultsOf } from '../results/read.ts';
import type { Snapshot } from '../results/snapshot.ts';
import type { ResultSetPointer } from '../results/store.ts';
import { canSeeUnitData, periodLabel, type Row, type Viewer } from './common.ts';
import { improveView, type ImproveView } from './improve.ts';
import { rankingCells, type RankingCells } from './ranking.ts';

export const COMPARE_MIN = 2;
export const COMPARE_MAX = 5;

/** The unit codes asked for: repeated `units` parameters and/or comma-separated; repeats dropped, order kept. 400 unless 2–5. */
export function parseCompareUnits(raw: unknown): string[] {
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((x) => (typeof x === 'string' ? x : null));
  if (list.some((x) => x === null)) throw badRequest('invalid_units', '所选单位无效');
  const codes = [...new Set(list.flatMap((x) => x!.split(/[,，\s]+/)).map((x) => x.trim()).filter((x) => x !== ''))];
  if (codes.length < COMPARE_MIN || codes.length > COMPARE_MAX) {
    throw badRequest('compare_count', `请选择 ${COMPARE_MIN}–${COMPARE_MAX} 个单位进行对比（当前选择了 ${codes.length} 个）`);
  }
  return codes;
}

export interface CompareColumn {
  unit: string;
  name: string;
  catLabel: string;
  /** Ranked units of its category in the period. */
  ranked: number;
  row: Row;
  cells: RankingCells;
  visible: boolean;
  /** 提分路径 in one line (null: not scored, or not the viewer's to see). */
  improve: string | null;
  improveHidden: boolean;
}

export interface CompareView {
  period: string;
  label: string;
  status: 'final' | 'provisional';
  indicators: { id: string; name: string; weight: number }[];
  columns: CompareColumn[];
  /** Indicator rows: the best score among the units marked. */
  best: Record<string, number | null>;
}

/** One line: the heading and the first (smallest) suggestion. */
export function improveLine(iv: ImproveView | null): string | null {
  if (!iv) return null;
  const first = iv.items[0];
  return first ? `${iv.heading}；${first.line}${iv.items.length > 1 ? `（另有 ${iv.items.length - 1} 条途径）` : ''}` : iv.note ? `${iv.heading}；${iv.note}` : iv.heading;
}

export function presentCompare(
  v: Viewer,
  set: Pick<ResultSetPointer, 'period' | 'status'>,
  snapshot: Pick<Snapshot, 'row' | 'indexOf' | 'inCategory' | 'rank' | 'indicators' | 'rules'>,
  codes: readonly string[],
  improves: ReadonlyMap<string, ImproveView | null>,
): CompareView {
  const indicators = snapshot.indicators.map((i) => ({ id: i.id, name: i.name, weight: i.weight }));
  const columns = codes.map((code): CompareColumn => {
    const at = snapshot.indexOf(code);
    if (at < 0) throw notFound('unit_not_found', `单位「${code}」在 ${set.period} 期没有考核结果`);
    const row = snapshot.row(at);
    const visible = canSeeUnitData(v, code);
    return {
      unit: code,
      name: row.name,
      catLabel: UNIT_CATEGORY_LABELS[row.category],
      ranked: Array.prototype.filter.call(snapshot.inCategory(row.category), (i: number) => snapshot.rank(i) !== null).length,
      row,
      cells: rankingCells(row, indicators, snapshot.rules),
      visible,
      improve: visible ? improveLine(improves.get(code) ?? null) : null,
      improveHidden: !visible,
    };
  });
  const best: Record<string, number | null> = {};
  for (const i of indicators) {
    const scores = columns.map((c) => (c.cells.noReturn ? null : c.row.indicators[i.id]?.applicable ? c.row.indicators[i.id]!.score : null)).filter((x): x is number => x !== null);
    best[i.id] = scores.length > 1 ? Math.max(...scores) : null;
  }
  return { period: set.period, label: periodLabel(set.period), status: set.status, indicators, columns, best };
}

/** Reads the period's snapshot and the 提分路径 of the units the viewer may see; then presentCompare. */
export async function compareUnits(v: Viewer, period: string, codes: readonly string[]): Promise<CompareView> {
  const { set, snapshot } = await resultsOf(period);
  const improves = new Map<string, ImproveView | null>();
  await Promise.all(
    codes
      .filter((c) => canSeeUnitData(v, c) && snapshot.indexOf(c) >= 0)
      .map(async (c) => {
        try {
          improves.set(c, await improveView(await explainUnit(period, c), snapshot));
        } catch {
          improves.set(c, null);
        }
      }),
  );
  return presentCompare(v, set, snapshot, codes, improves);
}
