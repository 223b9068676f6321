// One immutable snapshot per computation: its rows, the rows of each category, the per-category counts
// and the indicator definitions of the scheme version it was computed with. A computation's rows never
// change once written (a recomputation or publication writes a new computeId; a reopen only changes the
// pointer's status), so a snapshot is a function of its computeId alone and is kept in one LRU cache
// keyed by it. Everything pages, workbooks and the API show derives from it.
//
// The rows are kept in columns (typed arrays for the numbers, small tables for grades and flags), not
// as objects: at 50 000 units the objects took ≈ 1 KB a row and a read of the whole period held them
// twice; the columns take ≈ 200 bytes a row, read by cursor. `row(i)` materialises one row on demand, as
// `readRows` returns it (same keys in the same order, same values: the same JSON). A row whose shape the
// columns cannot hold exactly (e.g. one stored by an older version with other indicator fields, or a
// value that is not a finite number) is kept as it was read.
import { LRUCache } from 'lru-cache';
import { UNIT_CATEGORIES, type UnitCategory } from '../domain/fields.ts';
import type { AssessmentScheme, GradeBand } from '../domain/scoring/scheme.ts';
import type { IndicatorResult } from '../domain/scoring/score.ts';
import { schemeVersion } from '../services/scheme.ts';
import { streamRows, type ResultRowView, type ResultSetPointer } from './store.ts';

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
  /** Number of rows. */
  readonly size: number;
  /** Row `i` (result order: category, rank, code), a fresh object equal to the stored row. */
  row(i: number): ResultRowView;
  /** Position of a unit's row, or -1. */
  indexOf(unit: string): number;
  /** Positions of a category's rows, in result order (do not modify). */
  inCategory(category: UnitCategory): Int32Array;
  /** Column reads of row `i`, without materialising it. */
  unit(i: number): string;
  name(i: number): string;
  category(i: number): UnitCategory;
  total(i: number): number | null;
  base(i: number): number | null;
  rank(i: number): number | null;
  rankChange(i: number): number | null;
  grade(i: number): ResultRowView['grade'];
  /** The score of indicator `id` in row `i` (null: not applicable, no return, or no such indicator). */
  score(i: number, id: string): number | null;
  readonly counts: Readonly<Record<UnitCategory, number>>;
  /** The columns: ids in the rows' order, named and weighted by the snapshot's own scheme version. */
  readonly indicators: readonly IndicatorDef[];
  /** Rules of that scheme version that pages put into words. */
  readonly rules: { readonly lateDeduction: number; readonly a3Quarters: number; readonly excellentQuota: number; readonly grades: readonly GradeBand[] };
  /** Approximate bytes held (the cache's bound). */
  readonly bytes: number;
}

type SchemeRules = Pick<AssessmentScheme, 'indicators' | 'deductions' | 'accountability' | 'excellentQuota' | 'grades'>;

// Numeric columns of a row, in this order; null is kept as NaN (a stored NaN is an irregular row).
const NUM_FIELDS = ['base', 'deductions', 'total', 'rank', 'rankChange', 'revision'] as const;
const NUMS = NUM_FIELDS.length;
const ROW_KEYS = ['unit', 'name', 'category', 'indicators', 'base', 'deductions', 'total', 'grade', 'rank', 'rankChange', 'flags', 'revision'].join();
const INDICATOR_KEYS = ['value', 'score', 'applicable'].join();
const NO_GRADE = 255;

const isNum = (x: unknown): x is number | null => x === null || (typeof x === 'number' && Number.isFinite(x));
const col = (x: number | null): number => (x === null ? NaN : x);
const val = (x: number): number | null => (Number.isNaN(x) ? null : x);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Builds a snapshot's columns row by row (in result order), then `done()`. */
class SnapshotBuilder {
  private n = 0;
  private cap = 1024;
  private units: string[] = [];
  private names: string[] = [];
  private cats = new Uint8Array(this.cap);
  private nums = new Float64Array(this.cap * NUMS);
  private grades = new Uint8Array(this.cap);
  private flags = new Uint16Array(this.cap);
  private readonly gradeIds = new Map<string, number>();
  private readonly gradeList: string[] = [];
  private readonly flagIds = new Map<string, number>();
  private readonly flagList: (readonly string[])[] = [];
  private readonly irregular = new Map<number, ResultRowView>();
  private irregularBytes = 0;
  private ids: string[] | null = null;
  private idsKey = '';

  private indValue = new Float64Array(0);
  private indScore = new Float64Array(0);
  private indApplicable = new Uint8Array(0);

  add(r: ResultRowView): void {
    if (this.ids === null) {
      // The indicator columns: the first row's ids (every row of a computation has the same).
      this.ids = r.indicators && typeof r.indicators === 'object' ? Object.keys(r.indicators) : [];
      this.idsKey = this.ids.join();
      this.indValue = new Float64Array(this.cap * this.ids.length);
      this.indScore = new Float64Array(this.cap * this.ids.length);
      this.indApplicable = new Uint8Array(this.cap * this.ids.length);
    }
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    const catIndex = (UNIT_CATEGORIES as readonly string[]).indexOf(r.category);
    this.units.push(r.unit);
    this.names.push(r.name);
    this.cats[i] = catIndex < 0 ? 0 : catIndex;
    if (!this.fits(r, catIndex)) {
      this.irregular.set(i, deepFreeze(r));
      this.irregularBytes += 2 * JSON.stringify(r).length + 200;
      return;
    }
    for (let f = 0; f < NUMS; f++) this.nums[i * NUMS + f] = col(r[NUM_FIELDS[f]!]);
    this.grades[i] = r.grade === null ? NO_GRADE : this.intern(this.gradeIds, this.gradeList, r.grade, r.grade);
    this.flags[i] = this.intern(this.flagIds, this.flagList, r.flags.join('\u0000'), Object.freeze([...r.flags]));
    const k = this.ids.length;
    for (let j = 0; j < k; j++) {
      const x = r.indicators[this.ids[j]!]!;
      this.indValue[i * k + j] = col(x.value);
      this.indScore[i * k + j] = col(x.score);
      this.indApplicable[i * k + j] = x.applicable ? 1 : 0;
    }
  }

  /** Whether the columns hold row `r` exactly (otherwise it is kept as read). */
  private fits(r: ResultRowView, catIndex: number): boolean {
    if (catIndex < 0 || typeof r.unit !== 'string' || typeof r.name !== 'string') return false;
    if (Object.keys(r).join() !== ROW_KEYS) return false;
    if (!NUM_FIELDS.every((f) => isNum(r[f]))) return false;
    if (r.grade !== null && (typeof r.grade !== 'string' || this.gradeList.length >= NO_GRADE)) return false;
    if (!Array.isArray(r.flags) || !r.flags.every((f) => typeof f === 'string') || this.flagList.length >= 0xffff) return false;
    const ind = r.indicators as Record<string, IndicatorResult> | null;
    if (!ind || typeof ind !== 'object' || Array.isArray(ind) || Object.keys(ind).join() !== this.idsKey) return false;
    return Object.values(ind).every(
      (x) => x !== null && typeof x === 'object' && Object.keys(x).join() === INDICATOR_KEYS && isNum(x.value) && isNum(x.score) && typeof x.applicable === 'boolean',
    );
  }

  private intern<T>(ids: Map<string, number>, list: T[], key: string, value: T): number {
    let id = ids.get(key);
    if (id === undefined) {
      id = list.length;
      list.push(value);
      ids.set(key, id);
    }
    return id;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const k = this.ids?.length ?? 0;
    const more = <A extends Uint8Array | Uint16Array | Float64Array>(a: A, per: number): A => {
      const b = new (a.constructor as new (n: number) => A)(cap * per);
      b.set(a);
      return b;
    };
    this.cats = more(this.cats, 1);
    this.nums = more(this.nums, NUMS);
    this.grades = more(this.grades, 1);
    this.flags = more(this.flags, 1);
    this.indValue = more(this.indValue, k);
    this.indScore = more(this.indScore, k);
    this.indApplicable = more(this.indApplicable, k);
    this.cap = cap;
  }

  done(pointer: Pick<ResultSetPointer, 'period' | 'computeId' | 'schemeVersion'>, scheme: SchemeRules): Snapshot {
    const n = this.n;
    // No rows: the scheme's indicators name the columns.
    const ids = this.ids ?? scheme.indicators.map((d) => d.id);
    const k = this.ids?.length ?? 0;
    const trim = <A extends Uint8Array | Uint16Array | Float64Array>(a: A, per: number): A => a.slice(0, n * per) as A;
    const c = {
      units: this.units,
      names: this.names,
      cats: trim(this.cats, 1),
      nums: trim(this.nums, NUMS),
      grades: trim(this.grades, 1),
      flags: trim(this.flags, 1),
      indValue: trim(this.indValue, k),
      indScore: trim(this.indScore, k),
      indApplicable: trim(this.indApplicable, k),
      gradeList: this.gradeList,
      flagList: this.flagList,
      irregular: this.irregular,
      ids: this.ids ?? [],
    };
    // The snapshot's functions close over `c` only: the builder (and its larger, growing arrays) is dropped.
    const category = (i: number): UnitCategory => (c.irregular.has(i) ? c.irregular.get(i)!.category : UNIT_CATEGORIES[c.cats[i]!]!);
    const counts = Object.fromEntries(UNIT_CATEGORIES.map((x) => [x, 0])) as Record<UnitCategory, number>;
    // Rows of a category the product does not know (only an irregular row can have one) are in no category.
    for (let i = 0; i < n; i++) if (Object.hasOwn(counts, category(i))) counts[category(i)]++;
    const byCategory = new Map<UnitCategory, Int32Array>(UNIT_CATEGORIES.map((x) => [x, new Int32Array(counts[x])]));
    const fill = Object.fromEntries(UNIT_CATEGORIES.map((x) => [x, 0])) as Record<UnitCategory, number>;
    for (let i = 0; i < n; i++) {
      const cat = category(i);
      if (Object.hasOwn(fill, cat)) byCategory.get(cat)![fill[cat]++] = i;
    }
    let positions: Map<string, number> | null = null;
    const defs = scheme.indicators;
    const indicators = deepFreeze(
      ids.map((id) => {
        const d = defs.find((x) => x.id === id);
        return { id, name: d?.name ?? id, weight: d?.weight ?? 0, floor: d?.floor ?? 0, target: d?.target ?? 1 };
      }),
    );
    const idIndex = new Map(c.ids.map((id, j) => [id, j]));
    const strBytes = c.units.reduce((s, u) => s + 24 + 2 * u.length, 0) + c.names.reduce((s, u) => s + 24 + 2 * u.length, 0);
    const bytes = strBytes + 16 * n + c.cats.byteLength + c.nums.byteLength + c.grades.byteLength + c.flags.byteLength + c.indValue.byteLength + c.indScore.byteLength + c.indApplicable.byteLength + 4 * n + this.irregularBytes;
    const num = (i: number, f: number) => val(c.nums[i * NUMS + f]!);

    const snapshot: Snapshot = {
      period: pointer.period,
      computeId: String(pointer.computeId),
      schemeVersion: pointer.schemeVersion,
      size: n,
      row(i) {
        const odd = c.irregular.get(i);
        if (odd) return structuredClone(odd);
        const ind: Record<string, IndicatorResult> = {};
        for (let j = 0; j < k; j++) ind[c.ids[j]!] = { value: val(c.indValue[i * k + j]!), score: val(c.indScore[i * k + j]!), applicable: c.indApplicable[i * k + j] === 1 };
        return {
          unit: c.units[i]!,
          name: c.names[i]!,
          category: UNIT_CATEGORIES[c.cats[i]!]!,
          indicators: ind,
          base: num(i, 0),
          deductions: num(i, 1),
          total: num(i, 2),
          grade: snapshot.grade(i),
          rank: num(i, 3),
          rankChange: num(i, 4),
          flags: [...c.flagList[c.flags[i]!]!] as ResultRowView['flags'],
          revision: num(i, 5),
        };
      },
      indexOf(unit) {
        positions ??= new Map(c.units.map((u, i) => [u, i]));
        return positions.get(unit) ?? -1;
      },
      inCategory: (cat) => byCategory.get(cat) ?? new Int32Array(0),
      unit: (i) => c.units[i]!,
      name: (i) => c.names[i]!,
      category,
      total: (i) => (c.irregular.has(i) ? c.irregular.get(i)!.total : num(i, 2)),
      base: (i) => (c.irregular.has(i) ? c.irregular.get(i)!.base : num(i, 0)),
      rank: (i) => (c.irregular.has(i) ? c.irregular.get(i)!.rank : num(i, 3)),
      rankChange: (i) => (c.irregular.has(i) ? c.irregular.get(i)!.rankChange : num(i, 4)),
      grade(i) {
        if (c.irregular.has(i)) return c.irregular.get(i)!.grade;
        const g = c.grades[i]!;
        return g === NO_GRADE ? null : (c.gradeList[g] as ResultRowView['grade']);
      },
      score(i, id) {
        const odd = c.irregular.get(i);
        if (odd) return odd.indicators?.[id]?.score ?? null;
        const j = idIndex.get(id);
        return j === undefined ? null : val(c.indScore[i * k + j]!);
      },
      counts: Object.freeze(counts),
      indicators,
      rules: deepFreeze({ lateDeduction: scheme.deductions.late, a3Quarters: scheme.accountability.A3.consecutiveQuarters, excellentQuota: scheme.excellentQuota, grades: scheme.grades.map((g) => ({ ...g })) }),
      bytes,
    };
    return Object.freeze(snapshot);
  }
}

/** Builds the snapshot from its rows (in result order) and its scheme's indicators (pure). */
export function buildSnapshot(pointer: Pick<ResultSetPointer, 'period' | 'computeId' | 'schemeVersion'>, rows: Iterable<ResultRowView>, scheme: SchemeRules): Snapshot {
  const b = new SnapshotBuilder();
  for (const r of rows) b.add(r);
  return b.done(pointer, scheme);
}

/** Every row of a snapshot, materialised (a fresh array of fresh rows: for callers that need them all). */
export function allRows(s: Snapshot): ResultRowView[] {
  const out = new Array<ResultRowView>(s.size);
  for (let i = 0; i < s.size; i++) out[i] = s.row(i);
  return out;
}

// Bounded by the bytes of the columns (at 50 000 units ≈ 10 MB a snapshot) and by count (the pages show
// the latest periods). The promise is cached, so concurrent first requests for a new snapshot share one
// read; its size is counted once it is built.
const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;
const snapshots = new LRUCache<string, Promise<Snapshot>>({ max: 8, maxSize: MAX_SNAPSHOT_BYTES, sizeCalculation: () => 1 });

/** The snapshot a pointer names (read once per computeId on this instance, by cursor). */
export function snapshotOf(pointer: ResultSetPointer): Promise<Snapshot> {
  const key = String(pointer.computeId);
  const hit = snapshots.get(key);
  if (hit) return hit;
  const made = (async () => {
    const scheme = schemeVersion(pointer.schemeVersion);
    scheme.catch(() => undefined);
    const b = new SnapshotBuilder();
    for await (const r of streamRows(pointer.period, pointer.computeId)) b.add(r);
    return b.done(pointer, (await scheme).scheme);
  })();
  snapshots.set(key, made);
  made.then(
    (s) => {
      // Another promise of the same snapshot: lru-cache keeps the size of a value that is set again unchanged.
      if (snapshots.peek(key) === made) snapshots.set(key, Promise.resolve(s), { size: Math.max(1, Math.min(s.bytes, MAX_SNAPSHOT_BYTES)) });
    },
    () => {
      if (snapshots.peek(key) === made) snapshots.delete(key);
    },
  );
  return made;
}

/** Snapshots held and the bytes counted for them (tests, bench). */
export function snapshotCacheStats(): { entries: number; bytes: number } {
  return { entries: snapshots.size, bytes: snapshots.calculatedSize };
}
