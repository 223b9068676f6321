// Query semantics: mingo's operators, with the comparison operators and $sort replaced by
// MongoDB's BSON comparison (type brackets, Long/Decimal128/number compared numerically,
// ObjectId by bytes), plus index-assisted candidate selection.
import { Context } from 'mingo/core';
import { Query as MingoQuery } from 'mingo/query';
import { Aggregator } from 'mingo/aggregator';
import { Lazy } from 'mingo/lazy';
import * as accumulatorOps from 'mingo/operators/accumulator';
import * as expressionOps from 'mingo/operators/expression';
import * as pipelineOps from 'mingo/operators/pipeline';
import * as projectionOps from 'mingo/operators/projection';
import * as queryOps from 'mingo/operators/query';
import * as windowOps from 'mingo/operators/window';
import { resolve } from 'mingo/util';
import { compareValues, typeRank, isPlainObject, pathValues, bsonType, type Doc } from './bsonutil.ts';
import type { Collection } from './store.ts';
import { err } from './errors.ts';

type Pred = (o: Doc) => boolean;
type Opts = any;

function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  return typeRank(a) === typeRank(b) && compareValues(a, b) === 0;
}

function eqMatch(lhs: unknown, rhs: unknown): boolean {
  if (valuesEqual(lhs, rhs)) return true;
  if (Array.isArray(lhs)) {
    if (lhs.some((v) => valuesEqual(v, rhs))) return true;
    if (lhs.some((v) => Array.isArray(v) && v.some((x) => valuesEqual(x, rhs)))) return true;
  }
  return false;
}

function inMatch(lhs: unknown, list: unknown[]): boolean {
  return list.some((r) => {
    if (r instanceof RegExp) {
      const vs = Array.isArray(lhs) ? lhs : [lhs];
      return vs.some((v) => typeof v === 'string' && r.test(v));
    }
    return eqMatch(lhs, r);
  });
}

function cmpMatch(lhs: unknown, rhs: unknown, ok: (c: number) => boolean): boolean {
  const candidates = Array.isArray(lhs) ? [...lhs, lhs] : [lhs];
  for (const v0 of candidates) {
    const v = v0 === undefined ? null : v0;
    if (typeRank(v) === typeRank(rhs) && ok(compareValues(v, rhs))) return true;
  }
  return false;
}

function op(pred: (lhs: unknown, rhs: any) => boolean) {
  return (selector: string, value: unknown, _options: Opts): Pred => {
    return (o: Doc) => pred(resolve(o, selector, { unwrapArray: true }), value);
  };
}

const comparisonOps = {
  $eq: op(eqMatch),
  $ne: op((l, r) => !eqMatch(l, r)),
  $gt: op((l, r) => cmpMatch(l, r, (c) => c > 0)),
  $gte: op((l, r) => cmpMatch(l, r, (c) => c >= 0)),
  $lt: op((l, r) => cmpMatch(l, r, (c) => c < 0)),
  $lte: op((l, r) => cmpMatch(l, r, (c) => c <= 0)),
  $in: (selector: string, value: unknown, _o: Opts): Pred => {
    if (!Array.isArray(value)) throw err('BadValue', '$in needs an array');
    return (o: Doc) => inMatch(resolve(o, selector, { unwrapArray: true }), value);
  },
  $nin: (selector: string, value: unknown, _o: Opts): Pred => {
    if (!Array.isArray(value)) throw err('BadValue', '$nin needs an array');
    return (o: Doc) => !inMatch(resolve(o, selector, { unwrapArray: true }), value);
  },
};

/** Value used to sort a document by `path` (arrays: smallest element ascending, largest descending). */
function sortKey(doc: Doc, path: string, dir: number): unknown {
  const vals = pathValues(doc, path).flatMap((v) => (Array.isArray(v) ? (v.length ? v : [undefined]) : [v]));
  if (!vals.length) return null;
  let best = vals[0];
  for (const v of vals.slice(1)) {
    const c = compareValues(v, best);
    if ((dir > 0 && c < 0) || (dir < 0 && c > 0)) best = v;
  }
  return best === undefined ? null : best;
}

export function sortComparator(sort: Doc): (a: Doc, b: Doc) => number {
  const keys = Object.entries(sort).map(([k, d]) => {
    if (isPlainObject(d) && d.$meta) throw err('BadValue', '$meta sort is not supported');
    const dir = Number(d) < 0 ? -1 : 1;
    return [k, dir] as const;
  });
  return (a, b) => {
    for (const [k, dir] of keys) {
      const c = compareValues(sortKey(a, k, dir), sortKey(b, k, dir));
      if (c !== 0) return c * dir;
    }
    return 0;
  };
}

function $sortStage(coll: any, sortKeys: Doc, _options: Opts) {
  const cmp = sortComparator(sortKeys);
  return coll.transform((arr: Doc[]) => Lazy(arr.slice().sort(cmp)));
}

export const CONTEXT = Context.init({
  accumulator: accumulatorOps as any,
  expression: expressionOps as any,
  pipeline: { ...(pipelineOps as any), $sort: $sortStage },
  projection: projectionOps as any,
  query: { ...(queryOps as any), ...comparisonOps },
  window: windowOps as any,
});

export function mingoOptions(extra: Doc = {}): Opts {
  return { context: CONTEXT, useStrictMode: true, scriptEnabled: false, ...extra };
}

export function compileFilter(filter: Doc | undefined | null): Pred {
  if (!filter || Object.keys(filter).length === 0) return () => true;
  if (!isPlainObject(filter)) throw err('TypeMismatch', 'filter must be an object');
  let q: MingoQuery;
  try {
    q = new MingoQuery(filter, mingoOptions());
  } catch (e) {
    throw err('BadValue', (e as Error).message);
  }
  return (d) => q.test(d);
}

/** Equality values usable for an index lookup on `field`, or null. */
function equalityValues(v: unknown): unknown[] | null {
  const plain = (x: unknown) => !(x instanceof RegExp) && !Array.isArray(x) && !(isPlainObject(x) && Object.keys(x).some((k) => k.startsWith('$')));
  if (isPlainObject(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith('$'))) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$eq' && plain(v.$eq)) return [v.$eq];
    if (keys.length === 1 && keys[0] === '$in' && Array.isArray(v.$in) && v.$in.every(plain)) return v.$in;
    return null;
  }
  return plain(v) ? [v] : null;
}

/** Documents examined by filters so far (diagnostics; lets tests prove index lookups don't scan). */
export const scanStats = { examined: 0 };

/** [key, doc] pairs matching `filter`, using an index for top-level equality when possible. */
export function matchDocs(c: Collection | undefined, filter: Doc | undefined | null): [string, Doc][] {
  if (!c) return [];
  const pred = compileFilter(filter);
  let candidates: Set<string> | null = null;
  const conds: [string, unknown][] = [];
  if (filter) {
    for (const [k, v] of Object.entries(filter)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) for (const e of Object.entries(sub)) if (!e[0].startsWith('$')) conds.push(e);
      } else if (!k.startsWith('$')) conds.push([k, v]);
    }
  }
  for (const [k, v] of conds) {
    const vals = equalityValues(v);
    if (!vals) continue;
    const hit = c.lookup(k, vals);
    if (hit && (!candidates || hit.size < candidates.size)) candidates = hit;
  }
  const out: [string, Doc][] = [];
  if (candidates) {
    // Keep natural (insertion) order among candidates when the set is large.
    for (const k of candidates) {
      const d = c.docs.get(k);
      scanStats.examined++;
      if (d && pred(d)) out.push([k, d]);
    }
  } else {
    scanStats.examined += c.docs.size;
    for (const [k, d] of c.docs) if (pred(d)) out.push([k, d]);
  }
  return out;
}

export function project(docs: Doc[], projection: Doc | undefined | null): Doc[] {
  if (!projection || Object.keys(projection).length === 0) return docs;
  try {
    return new MingoQuery({}, mingoOptions()).find(docs, projection).all() as Doc[];
  } catch (e) {
    throw err('BadValue', (e as Error).message);
  }
}

export function runPipeline(docs: Doc[], pipeline: Doc[], resolver: (name: string) => Doc[], extra: Doc = {}): Doc[] {
  for (const stage of pipeline) {
    const name = Object.keys(stage)[0];
    if (name === '$out' || name === '$merge') throw err('IllegalOperation', `${name} is not supported by the embedded engine`);
  }
  try {
    return new Aggregator(pipeline, mingoOptions({ collectionResolver: resolver, ...extra })).run(docs) as Doc[];
  } catch (e) {
    if ((e as { code?: number }).code) throw e;
    throw err('FailedToParse', (e as Error).message);
  }
}

export { bsonType };
