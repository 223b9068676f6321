// One immutable snapshot object per computation: its rows (frozen), the rows of each category, the
// per-category counts and the indicator definitions of the scheme version it was computed with. A
// computation's rows never change once written (a recomputation or publication writes a new computeId;
// a reopen only changes the pointer's status), so a snapshot is a function of its computeId alone and
// is kept in one LRU cache keyed by it. Everything pages, workbooks and the API show derives from it.
import { LRUCache } from 'lru-cache';
import { UNIT_CATEGORIES, type UnitCategory } from '../domain/fields.ts';
import type { AssessmentScheme, GradeBand } from '../domain/scoring/scheme.ts';
import { schemeVersion } from '../services/scheme.ts';
import { readRows, type ResultRowView, type ResultSetPointer } from './store.ts';

export interface IndicatorDef {
  readonly id: string;
  readonly name: string;
  readonly weight: number;
  readonly floor: number;
  readonly target: number;
}

export interface Snapshot {
  readonly period: string;
  readonly computeId: string;
  readonly schemeVersion: number;
  /** Every row, in result order (category, rank, code). */
  readonly rows: readonly ResultRowView[];
  readonly byCategory: ReadonlyMap<UnitCategory, readonly ResultRowView[]>;
  readonly counts: Readonly<Record<UnitCategory, number>>;
  /** The columns: ids in the rows' order, named and weighted by the snapshot's own scheme version. */
  readonly indicators: readonly IndicatorDef[];
  /** Rules of that scheme version that pages put into words. */
  readonly rules: { readonly lateDeduction: number; readonly a3Quarters: number; readonly excellentQuota: number; readonly grades: readonly GradeBand[] };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Builds the snapshot object from its rows and its scheme's indicators (pure). */
export function buildSnapshot(
  pointer: Pick<ResultSetPointer, 'period' | 'computeId' | 'schemeVersion'>,
  rows: readonly ResultRowView[],
  scheme: Pick<AssessmentScheme, 'indicators' | 'deductions' | 'accountability' | 'excellentQuota' | 'grades'>,
): Snapshot {
  const defs = scheme.indicators;
  const counts = Object.fromEntries(UNIT_CATEGORIES.map((c) => [c, 0])) as Record<UnitCategory, number>;
  const byCategory = new Map<UnitCategory, ResultRowView[]>();
  for (const r of rows) {
    if (Object.hasOwn(counts, r.category)) counts[r.category]++;
    const list = byCategory.get(r.category);
    if (list) list.push(r);
    else byCategory.set(r.category, [r]);
  }
  const ids = rows[0] ? Object.keys(rows[0].indicators) : defs.map((d) => d.id);
  const indicators = ids.map((id) => {
    const d = defs.find((x) => x.id === id);
    return { id, name: d?.name ?? id, weight: d?.weight ?? 0, floor: d?.floor ?? 0, target: d?.target ?? 1 };
  });
  return deepFreeze({
    period: pointer.period,
    computeId: String(pointer.computeId),
    schemeVersion: pointer.schemeVersion,
    rows: rows.map(deepFreeze),
    byCategory,
    counts,
    indicators,
    rules: { lateDeduction: scheme.deductions.late, a3Quarters: scheme.accountability.A3.consecutiveQuarters, excellentQuota: scheme.excellentQuota, grades: scheme.grades.map((g) => ({ ...g })) },
  }) as Snapshot;
}

// At 50k units a snapshot is tens of MB: a few are enough (the pages show the latest periods). The
// promise is cached, so concurrent first requests for a new snapshot share one read.
const snapshots = new LRUCache<string, Promise<Snapshot>>({ max: 8 });

/** The snapshot a pointer names (read once per computeId on this instance). */
export function snapshotOf(pointer: ResultSetPointer): Promise<Snapshot> {
  const key = String(pointer.computeId);
  const hit = snapshots.get(key);
  if (hit) return hit;
  const made = (async () => {
    const [rows, scheme] = await Promise.all([readRows(pointer.period, pointer.computeId), schemeVersion(pointer.schemeVersion)]);
    return buildSnapshot(pointer, rows, scheme.scheme);
  })();
  snapshots.set(key, made);
  made.catch(() => {
    if (snapshots.get(key) === made) snapshots.delete(key);
  });
  return made;
}
