// 排名 (/ranking): one category of one period's snapshot, sorted. A pure presenter: snapshot + pointer +
// viewer + query → view model (the route loads the snapshot; server/results/read.ts).
import { forbidden } from '../domain/errors.ts';
import type { UnitCategory } from '../domain/fields.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import { FLAG_LABELS } from '../domain/vocabulary.ts';
import type { Snapshot } from '../results/snapshot.ts';
import type { ResultSetPointer } from '../results/store.ts';
import { canSeeUnitData, periodLabel, type Row, type Viewer } from './common.ts';

export const SORT_KEYS = ['rank', 'total', 'base', 'change', 'code', 'name', 'I1', 'I2', 'I3', 'I4', 'I5', 'I6'] as const;
export type SortKey = (typeof SORT_KEYS)[number] | `I${number}`;

export interface RankingQuery {
  period: string;
  category: UnitCategory;
  sort: string;
  dir: 'asc' | 'desc';
}

export interface RankingView {
  period: string;
  label: string;
  status: 'final' | 'provisional';
  publishedAt: string | null;
  computedAt: string;
  schemeVersion: number;
  /** The snapshot shown: the rows (everything but `visible`) are a function of (period, computeId, category, sort, dir). */
  computeId: string;
  category: UnitCategory;
  indicators: { id: string; name: string; weight: number }[];
  sort: string;
  dir: 'asc' | 'desc';
  /** Number of rows in the category. */
  size: number;
  /** The category's rows in display order, from `start` to `end` (sorted once, on the first call: a page whose table is cached does not need them). */
  rows: (start?: number, end?: number) => (Row & { visible: boolean })[];
  /** A unit's position in the display order (-1: not in the category). */
  positionOf: (unit: string) => number;
  counts: Record<UnitCategory, number>;
  /** The snapshot's scheme: points a late return loses. */
  lateDeduction: number;
  /** The snapshot's grade bands and 优秀 quota (the capped mark and legend). */
  rules: Pick<Snapshot['rules'], 'grades' | 'excellentQuota'>;
}

export function parseSort(raw: unknown, indicatorIds: readonly string[]): string {
  const s = typeof raw === 'string' ? raw : '';
  return (SORT_KEYS as readonly string[]).includes(s) || indicatorIds.includes(s) ? s : 'rank';
}

/** Natural direction of a key when first clicked: ranks / codes / names ascending, scores descending. */
export function naturalDir(sort: string): 'asc' | 'desc' {
  return sort === 'rank' || sort === 'code' || sort === 'name' ? 'asc' : 'desc';
}

function sortValue(r: Row, key: string): number | string | null {
  switch (key) {
    case 'rank':
      return r.rank;
    case 'total':
      return r.total;
    case 'base':
      return r.base;
    case 'change':
      return r.rankChange;
    case 'code':
      return r.unit;
    case 'name':
      return r.name;
    default:
      return r.indicators[key]?.score ?? null;
  }
}

// Built once: `a.localeCompare(b, locale)` builds a collator on every call, which dominated sorting by name.
const zhCollator = new Intl.Collator('zh-CN');

/**
 * The order of `count` items by the value `valueOf(i)` in `dir`: absent values always last; ties by rank
 * then code (the domain's order). Each item's value is read once (decorate–sort–undecorate).
 */
function sortedOrder(count: number, valueOf: (i: number) => number | string | null, rankOf: (i: number) => number | null, codeOf: (i: number) => string, dir: 'asc' | 'desc'): number[] {
  const sign = dir === 'asc' ? 1 : -1;
  const keyed = Array.from({ length: count }, (_, i) => ({ i, v: valueOf(i) }));
  keyed.sort((ka, kb) => {
    const x = ka.v;
    const y = kb.v;
    if (x === null && y !== null) return 1;
    if (y === null && x !== null) return -1;
    if (x !== null && y !== null && x !== y) {
      const c = typeof x === 'string' ? zhCollator.compare(x, String(y)) : (x as number) - (y as number);
      if (c !== 0) return sign * c;
    }
    const ra = rankOf(ka.i) ?? Number.MAX_SAFE_INTEGER;
    const rb = rankOf(kb.i) ?? Number.MAX_SAFE_INTEGER;
    return ra - rb || compareCodes(codeOf(ka.i), codeOf(kb.i));
  });
  return keyed.map((k) => k.i);
}

/** Sorts rows by `key` in `dir`; absent values always last; ties by rank then code (the domain's order). */
export function sortRows<T extends Row>(rows: readonly T[], key: string, dir: 'asc' | 'desc'): T[] {
  return sortedOrder(rows.length, (i) => sortValue(rows[i]!, key), (i) => rows[i]!.rank, (i) => rows[i]!.unit, dir).map((i) => rows[i]!);
}

/** The value a snapshot's row `i` sorts by under `key`, read from its columns. */
function snapshotSortValue(s: Snapshot, i: number, key: string): number | string | null {
  switch (key) {
    case 'rank':
      return s.rank(i);
    case 'total':
      return s.total(i);
    case 'base':
      return s.base(i);
    case 'change':
      return s.rankChange(i);
    case 'code':
      return s.unit(i);
    case 'name':
      return s.name(i);
    default:
      return s.score(i, key);
  }
}

/** A snapshot's positions `list` sorted as sortRows sorts their rows. */
export function sortPositions(s: Snapshot, list: ArrayLike<number>, key: string, dir: 'asc' | 'desc'): Int32Array {
  const order = sortedOrder(list.length, (i) => snapshotSortValue(s, list[i]!, key), (i) => s.rank(list[i]!), (i) => s.unit(list[i]!), dir);
  return Int32Array.from(order, (i) => list[i]!);
}

/**
 * The ranking view of one category of a snapshot (pure). Columns are named and weighted by the
 * snapshot's own scheme version (the one the page's subtitle names), so 满分 matches the scores below.
 * 403 for a reporter before publication.
 */
export function presentRanking(
  v: Viewer,
  set: Pick<ResultSetPointer, 'period' | 'status' | 'publishedAt' | 'computedAt' | 'schemeVersion'>,
  snapshot: Snapshot,
  q: { category: UnitCategory; sort?: unknown; dir?: unknown },
): RankingView {
  if (v.role === 'reporter' && set.status !== 'final') throw forbidden(`${set.period} 期考核结果尚未发布`);
  const indicators = snapshot.indicators.map((i) => ({ id: i.id, name: i.name, weight: i.weight }));
  const sort = parseSort(q.sort, indicators.map((i) => i.id));
  const dir = q.dir === 'asc' || q.dir === 'desc' ? q.dir : naturalDir(sort);
  const inCategory = snapshot.inCategory(q.category);
  let order: Int32Array | null = null;
  const sorted = () => (order ??= sortPositions(snapshot, inCategory, sort, dir));
  return {
    period: set.period,
    label: periodLabel(set.period),
    status: set.status,
    publishedAt: set.publishedAt ? set.publishedAt.toISOString() : null,
    computedAt: set.computedAt.toISOString(),
    schemeVersion: set.schemeVersion,
    computeId: snapshot.computeId,
    category: q.category,
    indicators,
    sort,
    dir,
    size: inCategory.length,
    rows: (start = 0, end = inCategory.length) =>
      Array.from(sorted().subarray(start, end), (i) => {
        const r = snapshot.row(i);
        return { ...r, visible: canSeeUnitData(v, r.unit) };
      }),
    positionOf: (unit) => {
      const at = snapshot.indexOf(unit);
      return at < 0 ? -1 : sorted().indexOf(at);
    },
    counts: { ...snapshot.counts },
    lateDeduction: snapshot.rules.lateDeduction,
    rules: { grades: snapshot.rules.grades, excellentQuota: snapshot.rules.excellentQuota },
  };
}

// ---------------------------------------------------------------------------------------------
// Cells of a ranking row (pure; the page and the workbook say the same): 待报/缺报 rows without
// indicator values or 扣分, the 优秀-quota mark, a band per indicator score with a glyph (not colour alone).

export type ScoreBand = 'high' | 'mid' | 'low';
/** Share of the indicator's maximum: ≥ 90% high, ≥ 60% mid, below low. */
export const SCORE_BANDS: readonly { band: ScoreBand; min: number; glyph: string; label: string }[] = [
  { band: 'high', min: 0.9, glyph: '●', label: '较好（得分率 ≥ 90%）' },
  { band: 'mid', min: 0.6, glyph: '◐', label: '一般（60%–90%）' },
  { band: 'low', min: 0, glyph: '○', label: '偏弱（< 60%）' },
];

export function scoreBand(score: number, weight: number): (typeof SCORE_BANDS)[number] {
  const share = weight > 0 ? score / weight : 1;
  return SCORE_BANDS.find((b) => share >= b.min) ?? SCORE_BANDS[SCORE_BANDS.length - 1]!;
}

export interface RankingCells {
  /** No usable return: 'pending' (待报, before the deadline) or 'missing' (缺报); null otherwise. */
  noReturn: 'pending' | 'missing' | null;
  /** Grade cell text: the grade, 待报送 (the vocabulary's pending label), or —. */
  gradeText: string;
  /** The band said 优秀 but the 30% quota gave 良好. */
  capped: boolean;
  cappedTitle: string | null;
  totalText: string;
  baseText: string;
  deductionsText: string;
  scores: { id: string; text: string; applicable: boolean; band: ScoreBand | null; glyph: string; title: string }[];
}

const two = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : x.toFixed(2));

/**
 * capped is derived (results store no flag): grade is the second band and the total reaches the first
 * band's minimum — exactly when rankAndGrade demoted the unit (a 良好 band never reaches 优秀's minimum).
 */
export function rankingCells(
  row: Pick<Row, 'total' | 'base' | 'deductions' | 'grade' | 'flags' | 'indicators'>,
  indicators: readonly { id: string; name: string; weight: number }[],
  rules: Pick<Snapshot['rules'], 'grades' | 'excellentQuota'>,
): RankingCells {
  const noReturn = row.flags.includes('pending') ? 'pending' : row.flags.includes('missing') ? 'missing' : null;
  const top = rules.grades[0];
  const second = rules.grades[1];
  const capped = !!top && !!second && row.grade === second.grade && row.total !== null && row.total >= top.min;
  const quota = `${Math.round(rules.excellentQuota * 100)}%`;
  return {
    noReturn,
    gradeText: row.grade ?? (noReturn === 'pending' ? FLAG_LABELS.pending : '—'),
    capped,
    cappedTitle: capped ? `总分达到${top!.grade}分数线（${top!.min} 分），受 ${quota} ${top!.grade}名额限制评为${second!.grade}` : null,
    totalText: noReturn === 'pending' ? '—' : two(row.total),
    baseText: noReturn ? '—' : two(row.base),
    deductionsText: noReturn ? '—' : row.deductions ? `−${two(row.deductions)}` : '0',
    scores: indicators.map((i) => {
      const ind = row.indicators[i.id];
      if (noReturn) return { id: i.id, text: '—', applicable: false, band: null, glyph: '', title: FLAG_LABELS[noReturn] };
      if (!ind?.applicable || ind.score === null) return { id: i.id, text: '不适用', applicable: false, band: null, glyph: '', title: '不适用' };
      const b = scoreBand(ind.score, i.weight);
      return { id: i.id, text: two(ind.score), applicable: true, band: b.band, glyph: b.glyph, title: `${i.name}：${two(ind.score)} / ${i.weight} 分，${b.label}` };
    }),
  };
}
