// Query semantics: mingo's operators, with the comparison operators and $sort replaced by
// MongoDB's BSON comparison (type brackets, Long/Decimal128/number compared numerically,
// ObjectId by bytes), plus index-assisted candidate selection.
import { Context, evalExpr } from 'mingo/core';
import { Query as MingoQuery } from 'mingo/query';
import { Aggregator } from 'mingo/aggregator';
import { Lazy } from 'mingo/lazy';
import * as accumulatorOps from 'mingo/operators/accumulator';
import * as expressionOps from 'mingo/operators/expression';
import * as pipelineOps from 'mingo/operators/pipeline';
import * as projectionOps from 'mingo/operators/projection';
import * as queryOps from 'mingo/operators/query';
import * as windowOps from 'mingo/operators/window';
import { resolve, unique } from 'mingo/util';
import { asDouble, canon, decimalDivide, collation, isAmbiguousDouble, compareValues, typeRank, isNumeric, isPlainObject, numArith, pathValues, bsonType, MULTI, singleValue, toNumber, type Doc } from './bsonutil.ts';
import type { Collection } from './store.ts';
import { CommandError, err } from './errors.ts';
import { bsonTypeCode } from './bsonutil.ts';
export { bsonTypeCode };
import { numericExpressions } from './numexpr.ts';
import { drain, SLICE_DOCS, sortedIndexSteps, type Steps } from './steps.ts';
import { CompiledRegex, convertExprRegexes, convertFilterRegexes, regexExpressions, REGEX_OP } from './regex.ts';

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

/**
 * The canonical keys of an `$in` list whose values are all key-exact (see {@link keyExact}), or
 * null. For such a list, a value equals one of the list's exactly when its canonical key is among
 * these keys (the same fact the indexes rely on), so a membership test replaces the comparisons.
 */
function exactKeys(list: unknown[]): Set<string> | null {
  if (list.length < 8 || !list.every(keyExact)) return null;
  return new Set(list.map(canon));
}

/**
 * Whether a stored value equals one of a list of key-exact values (`keys`: their canonical keys).
 * A stored value that is key-exact itself is looked up; null / missing equal none of them; any
 * other (Int32, Long, Decimal128, NaN, an invalid Date…) is compared with each, as before.
 */
function inKeyList(v: unknown, list: unknown[], keys: Set<string>): boolean {
  if (v === undefined || v === null) return false;
  if (keyExact(v)) return keys.has(canon(v));
  return list.some((r) => valuesEqual(v, r));
}

/** inMatch for a list of key-exact values: the same candidates as eqMatch looks at. */
function inKeys(lhs: unknown, list: unknown[], keys: Set<string>): boolean {
  // An array never equals a key-exact (scalar) value; its elements, and theirs, may.
  if (!Array.isArray(lhs)) return inKeyList(lhs, list, keys);
  for (const v of lhs) if (!Array.isArray(v) && inKeyList(v, list, keys)) return true;
  for (const v of lhs) if (Array.isArray(v) && v.some((x) => !Array.isArray(x) && inKeyList(x, list, keys))) return true;
  return false;
}

/**
 * `lhs` against an `$in` list. `keys` ({@link exactKeys} of the list) makes it one set lookup per
 * value instead of a comparison per element of the list, unless a collation is in force (strings
 * then compare by it, not by their keys).
 */
function inMatch(lhs: unknown, list: unknown[], keys?: Set<string> | null): boolean {
  if (keys && !collation.current) return inKeys(lhs, list, keys);
  return list.some((r) => {
    if (r instanceof CompiledRegex) {
      const vs = Array.isArray(lhs) ? lhs : [lhs];
      return vs.some((v) => r.matches(v));
    }
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
    const keys = exactKeys(value);
    return (o: Doc) => inMatch(resolve(o, selector, { unwrapArray: true }), value, keys);
  },
  $nin: (selector: string, value: unknown, _o: Opts): Pred => {
    if (!Array.isArray(value)) throw err('BadValue', '$nin needs an array');
    const keys = exactKeys(value);
    return (o: Doc) => !inMatch(resolve(o, selector, { unwrapArray: true }), value, keys);
  },
};

// ---- $type, $all and the $bits operators, as MongoDB defines them -----------------------

const TYPE_ALIASES: Record<string, number> = {
  double: 1, string: 2, object: 3, array: 4, binData: 5, undefined: 6, objectId: 7, bool: 8, date: 9, null: 10,
  regex: 11, dbPointer: 12, javascript: 13, symbol: 14, javascriptWithScope: 15, int: 16, timestamp: 17, long: 18,
  decimal: 19, minKey: -1, maxKey: 127,
};
const TYPE_CODES = new Set(Object.values(TYPE_ALIASES));
const NUMBER_TYPES = new Set([1, 16, 18, 19]);

function typeCodes(arg: unknown): Set<number | 'number'> {
  const list = Array.isArray(arg) ? arg : [arg];
  if (!list.length) throw err('FailedToParse', '$type must match at least one type');
  const out = new Set<number | 'number'>();
  for (const t of list) {
    if (typeof t === 'string') {
      if (t === 'number') out.add('number');
      else if (t in TYPE_ALIASES) out.add(TYPE_ALIASES[t]);
      else throw err('BadValue', `Unknown type name alias: ${t}`);
    } else if ((typeof t === 'number' || bsonType(t)) && Number.isInteger(Number(t)) && TYPE_CODES.has(Number(t))) {
      out.add(Number(t));
    } else throw err('BadValue', `Invalid numerical type code: ${String(t)}`);
  }
  return out;
}

function hasType(v: unknown, codes: Set<number | 'number'>): boolean {
  const c = bsonTypeCode(v);
  if (c === undefined) return false;
  return codes.has(c) || (codes.has('number') && NUMBER_TYPES.has(c));
}

/** Bit test of an integral number, a Long or BinData (little-endian bytes), or null for other values. */
function bitsOf(v: unknown): ((pos: number) => boolean) | null {
  if (typeof v === 'number' || bsonType(v) === 'Long') {
    let b: bigint;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || Math.abs(v) >= 2 ** 63) return null;
      b = BigInt(v);
    } else b = BigInt((v as { toString(): string }).toString());
    const u = BigInt.asUintN(64, b);
    return (pos) => (pos >= 64 ? b < 0n : ((u >> BigInt(pos)) & 1n) === 1n);
  }
  const bytes = v instanceof Uint8Array ? v : bsonType(v) === 'Binary' ? (v as { buffer: Uint8Array }).buffer : null;
  if (!bytes) return null;
  return (pos) => (pos >> 3 < bytes.length ? ((bytes[pos >> 3] >> (pos & 7)) & 1) === 1 : false);
}

function bitPositions(name: string, arg: unknown): number[] {
  if (Array.isArray(arg)) {
    for (const p of arg) {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) throw err('BadValue', `bit positions must be non-negative integers: ${name}`);
    }
    return arg as number[];
  }
  if (typeof arg === 'number' || bsonType(arg) === 'Long') {
    const n = typeof arg === 'number' ? arg : Number((arg as { toString(): string }).toString());
    if (!Number.isInteger(n) || n < 0) throw err('FailedToParse', `${name} takes an Array, a number, or a BinData but received: ${name}: ${String(arg)}`);
    const b = BigInt(typeof arg === 'number' ? arg : (arg as { toString(): string }).toString());
    const out: number[] = [];
    for (let i = 0; i < 64; i++) if ((b >> BigInt(i)) & 1n) out.push(i);
    return out;
  }
  const bits = bitsOf(arg);
  if (!bits || typeof arg === 'number') throw err('FailedToParse', `${name} takes an Array, a number, or a BinData but received: ${name}: ${String(arg)}`);
  const len = (arg instanceof Uint8Array ? arg : (arg as { buffer: Uint8Array }).buffer).length * 8;
  const out: number[] = [];
  for (let i = 0; i < len; i++) if (bits(i)) out.push(i);
  return out;
}

/** Values a field condition is tested on: each value at the path and, for arrays, their elements. */
function fieldValues(o: Doc, selector: string): unknown[] {
  const out: unknown[] = [];
  for (const v of pathValues(o, selector)) {
    out.push(v);
    if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

function bitsOp(name: string, test: (bits: (p: number) => boolean, positions: number[]) => boolean) {
  return (selector: string, value: unknown, _o: Opts): Pred => {
    const positions = bitPositions(name, value);
    return (o: Doc) =>
      fieldValues(o, selector).some((v) => {
        if (Array.isArray(v)) return false;
        const bits = bitsOf(v);
        return !!bits && test(bits, positions);
      });
  };
}

/** An integral BigInt of a numeric value, truncated toward zero (null: NaN / infinite). */
function truncatedBig(v: unknown): bigint | null {
  if (bsonType(v) === 'Long') return BigInt((v as { toString(): string }).toString());
  if (bsonType(v) === 'Decimal128') {
    const m = /^(-?)(\d+)(?:\.\d*)?$/.exec((v as { toString(): string }).toString());
    if (m) return BigInt(m[1] + m[2]);
    const n = toNumber(v);
    return Number.isFinite(n) ? BigInt(Math.trunc(n)) : null;
  }
  const n = toNumber(v);
  return Number.isFinite(n) ? BigInt(Math.trunc(n)) : null;
}

const typeAndBitsOps = {
  /** {$mod: [divisor, remainder]}: numeric values truncated to integers, as MongoDB since 5.0 */
  $mod: (selector: string, value: unknown, _o: Opts): Pred => {
    if (!Array.isArray(value) || value.length !== 2) throw err('BadValue', `malformed mod, ${Array.isArray(value) && value.length < 2 ? 'not enough elements' : Array.isArray(value) ? 'too many elements' : 'needs to be an array'}`);
    if (!value.every(isNumeric)) throw err('BadValue', 'malformed mod, divisor and remainder must be numbers');
    const [d, r] = value.map(truncatedBig);
    if (d === null || r === null) throw err('BadValue', 'malformed mod, divisor and remainder must be finite numbers');
    if (d === 0n) throw err('BadValue', 'divisor cannot be 0');
    return (o: Doc) =>
      fieldValues(o, selector).some((v) => {
        if (!isNumeric(v)) return false;
        const x = truncatedBig(v);
        return x !== null && BigInt.asIntN(64, x) % d === r;
      });
  },
  /** a regex condition compiled by regex.ts: strings it matches, and the same regex stored as a value */
  [REGEX_OP]: (selector: string, value: unknown, _o: Opts): Pred => {
    const re = value as CompiledRegex;
    return (o: Doc) => fieldValues(o, selector).some((v) => re.matches(v));
  },
  $type: (selector: string, value: unknown, _o: Opts): Pred => {
    const codes = typeCodes(value);
    return (o: Doc) =>
      pathValues(o, selector).some((v) => hasType(v, codes) || (Array.isArray(v) && v.some((el) => hasType(el, codes))));
  },
  $all: (selector: string, value: unknown, options: Opts): Pred => {
    if (!Array.isArray(value)) throw err('BadValue', '$all needs an array');
    if (!value.length) return () => false;
    const preds = value.map((v) => {
      if (isPlainObject(v) && Object.keys(v)[0] === '$elemMatch') {
        return (queryOps as unknown as Record<string, (s: string, v: unknown, o: Opts) => Pred>).$elemMatch(selector, v.$elemMatch, options);
      }
      return comparisonOps.$in(selector, [v], options);
    });
    return (o: Doc) => preds.every((p) => p(o));
  },
  $bitsAllSet: bitsOp('$bitsAllSet', (b, ps) => ps.every((p) => b(p))),
  $bitsAnySet: bitsOp('$bitsAnySet', (b, ps) => ps.some((p) => b(p))),
  $bitsAllClear: bitsOp('$bitsAllClear', (b, ps) => ps.every((p) => !b(p))),
  $bitsAnyClear: bitsOp('$bitsAnyClear', (b, ps) => ps.some((p) => !b(p))),
};

/** The sort key of an empty array: MongoDB's `undefined`, below null and missing. */
const EMPTY_ARRAY_KEY = Symbol('empty array');

function sortCompare(a: unknown, b: unknown): number {
  if (a === EMPTY_ARRAY_KEY || b === EMPTY_ARRAY_KEY) {
    if (a === b) return 0;
    if (a === EMPTY_ARRAY_KEY) return typeRank(b) <= 1 ? 1 : -1;
    return typeRank(a) <= 1 ? -1 : 1;
  }
  return compareValues(a, b);
}

/** Value used to sort a document by `path` (arrays: smallest element ascending, largest descending). */
function sortKey(doc: Doc, path: string, parts: string[], dir: number): unknown {
  const single = singleValue(doc, parts);
  if (single !== MULTI) return single === undefined ? null : single;
  const vals: unknown[] = pathValues(doc, path).flatMap((v) => (Array.isArray(v) ? (v.length ? v : [EMPTY_ARRAY_KEY]) : [v]));
  if (!vals.length) return null;
  let best = vals[0];
  for (const v of vals.slice(1)) {
    const c = sortCompare(v === undefined ? null : v, best === undefined ? null : best);
    if ((dir > 0 && c < 0) || (dir < 0 && c > 0)) best = v;
  }
  return best === undefined ? null : best;
}

/** A sort specification checked and parsed (Location15975, 15998; $meta refused with 72). */
export function sortSpec(sort: Doc): { path: string; parts: string[]; dir: number }[] {
  return Object.entries(sort).map(([k, d]) => {
    if (isPlainObject(d) && d.$meta) throw err('InvalidOptions', `$meta sort ({${k}: {$meta: ${JSON.stringify(d.$meta)}}}) is not supported by the embedded engine`);
    const n = isNumeric(d) ? toNumber(d) : NaN;
    if (n !== 1 && n !== -1) throw err('Location15975', '$sort key ordering must be 1 (for ascending) or -1 (for descending)');
    if (k === '' || k.split('.').includes('')) throw err('Location15998', `FieldPath field names may not be empty strings.`);
    return { path: k, parts: k.split('.'), dir: n };
  });
}

export function sortComparator(sort: Doc): (a: Doc, b: Doc) => number {
  const keys = sortSpec(sort);
  return (a, b) => {
    for (const { path, parts, dir } of keys) {
      const c = sortCompare(sortKey(a, path, parts, dir), sortKey(b, path, parts, dir));
      if (c !== 0) return c * dir;
    }
    return 0;
  };
}

/**
 * `items` sorted (stably) by the documents `docOf` gives for them, in MongoDB's order: the same
 * order as sorting with sortComparator, with each document's sort keys computed once.
 */
export function sortDocs<T>(items: T[], sort: Doc, docOf: (t: T) => Doc): T[] {
  return drain(sortDocsSteps(items, sort, docOf));
}

/** sortDocs in slices: the keys SLICE_DOCS documents at a time, then a merge sort that yields (sortedIndexSteps). */
export function* sortDocsSteps<T>(items: T[], sort: Doc, docOf: (t: T) => Doc): Steps<T[]> {
  const spec = sortSpec(sort);
  const n = items.length;
  const m = spec.length;
  const keys: unknown[] = new Array(n * m);
  for (let i = 0; i < n; i++) {
    if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
    const d = docOf(items[i]);
    for (let j = 0; j < m; j++) keys[i * m + j] = sortKey(d, spec[j].path, spec[j].parts, spec[j].dir);
  }
  // ties keep the input order (x - y): a strict total order, so the sorted order is unique
  const order = yield* sortedIndexSteps(n, (x, y) => {
    for (let j = 0; j < m; j++) {
      const c = sortCompare(keys[x * m + j], keys[y * m + j]);
      if (c !== 0) return c * spec[j].dir;
    }
    return x - y;
  });
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = items[order[i]];
  return out;
}

function $sortStage(coll: any, sortKeys: Doc, _options: Opts) {
  sortSpec(sortKeys); // validates now, as before
  return coll.transform((arr: Doc[]) => Lazy(sortDocs(arr, sortKeys, (d) => d)));
}

// ---- aggregation arithmetic and comparison with MongoDB's numeric types and BSON order ----------
// (mingo's own skip Longs / Decimal128 in $sum and order them by their string form)

/** BSON order for expression values; a missing value is below null (MongoDB's `undefined`). */
function exprCompare(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return compareValues(a, b);
}

type ExprOp = (obj: Doc, expr: unknown, options: Opts) => unknown;
type AccOp = (coll: Doc[], expr: unknown, options: Opts) => unknown;

function cmpExpr(name: string, test: (c: number) => unknown): ExprOp {
  return (obj, expr, options) => {
    if (!Array.isArray(expr) || expr.length !== 2) throw err('Location16020', `Expression ${name} takes exactly 2 arguments. ${Array.isArray(expr) ? expr.length : 1} were passed in.`);
    const [a, b] = evalExpr(obj, expr, options) as unknown[];
    return test(exprCompare(a, b));
  };
}

const isNum = (v: unknown) => isNumeric(v);
const typeOf = (v: unknown) => (v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'array' : v instanceof Date ? 'date' : typeof v === 'object' ? (bsonType(v) ?? 'object') : typeof v);

/** The sum of the numbers among `values`, added in order to `acc` (a fold: chunks added in turn give the same sum). */
function sumOf(values: unknown[], acc: unknown = 0): unknown {
  for (const v of values) if (isNum(v)) acc = numArith('add', acc, v);
  return acc;
}

function avgOf(values: unknown[]): unknown {
  return drain(avgSteps(values));
}

function* avgSteps(values: unknown[]): Steps<unknown> {
  const nums = values.filter(isNum);
  if (!nums.length) return null;
  const sum = yield* foldSteps(nums, 0 as unknown, sumOf);
  if (bsonType(sum) === 'Decimal128') return decimalDivide(sum, nums.length);
  return asDouble(toNumber(sum) / nums.length); // $avg is a double
}

/** The largest (dir 1) or smallest (-1) non-null value, compared with `best` first (a fold, as sumOf). */
function extremeOf(values: unknown[], dir: 1 | -1, best: unknown = null): unknown {
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (best === null || compareValues(v, best) * dir > 0) best = v;
  }
  return best;
}

/** `fold` (sumOf, extremeOf) over `values` SLICE_DOCS at a time: the same sequence of steps as one call. */
function* foldSteps<A>(values: unknown[], acc: A, fold: (chunk: unknown[], acc: A) => A): Steps<A> {
  for (let i = 0; i < values.length; i += SLICE_DOCS) {
    if (i > 0) yield;
    acc = fold(values.slice(i, i + SLICE_DOCS), acc);
  }
  return acc;
}

/** The operand list of the expression forms of $sum / $avg / $max / $min. */
function listOperand(obj: Doc, expr: unknown, options: Opts): unknown[] {
  const v = evalExpr(obj, expr, options);
  if (Array.isArray(expr)) return v as unknown[];
  return Array.isArray(v) ? v : [v];
}

const numericExpressionOps: Record<string, ExprOp> = {
  $cmp: cmpExpr('$cmp', (c) => c),
  $eq: cmpExpr('$eq', (c) => c === 0),
  $ne: cmpExpr('$ne', (c) => c !== 0),
  $gt: cmpExpr('$gt', (c) => c > 0),
  $gte: cmpExpr('$gte', (c) => c >= 0),
  $lt: cmpExpr('$lt', (c) => c < 0),
  $lte: cmpExpr('$lte', (c) => c <= 0),
  $add: (obj, expr, options) => {
    const args = evalExpr(obj, expr, options) as unknown[];
    if (!Array.isArray(args)) throw err('Location16554', '$add only supports numeric or date types');
    let acc: unknown = 0;
    let date: Date | null = null;
    for (const a of args) {
      if (a === null || a === undefined) return null;
      if (a instanceof Date) {
        if (date) throw err('Location16612', 'only one date allowed in an $add expression');
        date = a;
      } else if (isNum(a)) acc = numArith('add', acc, a);
      else throw err('Location16554', `$add only supports numeric or date types, not ${typeOf(a)}`);
    }
    return date ? new Date(date.getTime() + toNumber(acc)) : acc;
  },
  $multiply: (obj, expr, options) => {
    const args = evalExpr(obj, expr, options) as unknown[];
    let acc: unknown = 1;
    for (const a of Array.isArray(args) ? args : [args]) {
      if (a === null || a === undefined) return null;
      if (!isNum(a)) throw err('Location16555', `$multiply only supports numeric types, not ${typeOf(a)}`);
      acc = numArith('mul', acc, a);
    }
    return acc;
  },
  $subtract: (obj, expr, options) => {
    if (!Array.isArray(expr) || expr.length !== 2) throw err('Location16020', `Expression $subtract takes exactly 2 arguments.`);
    const [a, b] = evalExpr(obj, expr, options) as unknown[];
    if (a === null || a === undefined || b === null || b === undefined) return null;
    if (isNum(a) && isNum(b)) return numArith('add', a, numArith('mul', b, -1));
    if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
    if (a instanceof Date && isNum(b)) return new Date(a.getTime() - toNumber(b));
    throw err('Location16556', `cant $subtract a${typeOf(b)} from a ${typeOf(a)}`);
  },
  // expression forms; mingo evaluates an accumulator through the expression table with the
  // group's documents as `obj` (an array: documents never are), which goes to the accumulator
  $sum: (obj, expr, options) => (Array.isArray(obj) ? numericAccumulatorOps.$sum(obj, expr, options) : sumOf(listOperand(obj, expr, options))),
  $avg: (obj, expr, options) => (Array.isArray(obj) ? numericAccumulatorOps.$avg(obj, expr, options) : avgOf(listOperand(obj, expr, options))),
  $max: (obj, expr, options) => (Array.isArray(obj) ? numericAccumulatorOps.$max(obj, expr, options) : extremeOf(listOperand(obj, expr, options), 1)),
  $min: (obj, expr, options) => (Array.isArray(obj) ? numericAccumulatorOps.$min(obj, expr, options) : extremeOf(listOperand(obj, expr, options), -1)),
};

const pushValues = (coll: Doc[], expr: unknown, options: Opts) =>
  expr === null || expr === undefined ? (coll as unknown[]) : ((accumulatorOps as unknown as Record<string, AccOp>).$push(coll, expr, options) as unknown[]);

const numericAccumulatorOps: Record<string, AccOp> = {
  $sum: (coll, expr, options) => (isNum(expr) ? numArith('mul', coll.length, expr) : sumOf(pushValues(coll, expr, options))),
  $avg: (coll, expr, options) => avgOf(pushValues(coll, expr, options)),
  $max: (coll, expr, options) => extremeOf(pushValues(coll, expr, options), 1),
  $min: (coll, expr, options) => extremeOf(pushValues(coll, expr, options), -1),
};

/**
 * $group with MongoDB's key equality: keys equal as BSON values are one group (1, 1.0 and
 * Long(1); null and missing, output as null) — mingo hashes them apart. Accumulators are the
 * context's (see numericAccumulatorOps). The specification is checked when the stage is built.
 */
function $groupStage(coll: any, expr: Doc, options: Opts) {
  checkGroup(expr);
  return coll.transform((items: Doc[]) => Lazy(drain(groupSteps(items, expr, options))));
}

/** Checks a $group specification as MongoDB does (15955, 40235, 40234). */
export function checkGroup(expr: unknown): void {
  if (!isPlainObject(expr) || !Object.prototype.hasOwnProperty.call(expr, '_id')) throw err('Location15955', "a group specification must include an _id");
  for (const f of Object.keys(expr)) {
    if (f === '_id') continue;
    if (f.includes('.')) throw err('Location40235', `The field name '${f}' cannot contain '.'`);
    const acc = expr[f];
    if (!isPlainObject(acc) || Object.keys(acc).length !== 1) throw err('Location40234', `The field '${f}' must be an accumulator object`);
  }
}

/** $group (checked by checkGroup) of `items`, in slices: the keys SLICE_DOCS documents at a time, then the accumulators. */
export function* groupSteps(items: Doc[], expr: Doc, options: Opts): Steps<Doc[]> {
  const idExpr = expr._id;
  const fields = Object.keys(expr).filter((k) => k !== '_id');
  const groups = new Map<string, { id: unknown; docs: Doc[] }>();
  for (let i = 0; i < items.length; i++) {
    if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
    const d = items[i];
    const id = evalExpr(d, idExpr, options);
    const k = canon(id);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { id: id === undefined ? null : id, docs: [] }));
    g.docs.push(d);
  }
  const out: Doc[] = [];
  let work = 0;
  for (const g of groups.values()) {
    const o: Doc = { _id: g.id };
    for (const f of fields) {
      o[f] = yield* accumulateSteps(g.docs, expr[f], options);
      work += g.docs.length;
    }
    if (work >= SLICE_DOCS) {
      work = 0;
      yield;
    }
    out.push(o);
  }
  return out;
}

/**
 * Accumulators whose value over many documents is computed in slices: each document's operand
 * by mingo's `$push` (what these accumulators evaluate their operand with), a chunk at a time,
 * then the values folded in order — the same steps as the accumulator over the whole group.
 */
const SLICED_ACCUMULATORS: Record<string, (values: unknown[]) => Steps<unknown>> = {
  $sum: (values) => foldSteps(values, 0 as unknown, sumOf),
  $avg: avgSteps,
  $max: (values) => foldSteps(values, null as unknown, (chunk, best) => extremeOf(chunk, 1, best)),
  $min: (values) => foldSteps(values, null as unknown, (chunk, best) => extremeOf(chunk, -1, best)),
  // eslint-disable-next-line require-yield
  $push: function* (values) {
    return values;
  },
  // eslint-disable-next-line require-yield
  $addToSet: function* (values) {
    return unique(values); // what mingo's $addToSet does with its $push
  },
};

/** One accumulator ({$sum: operand}, …) over a group's documents: evalExpr's value, in slices for a large group. */
function* accumulateSteps(docs: Doc[], acc: Doc, options: Opts): Steps<unknown> {
  const op = Object.keys(acc)[0];
  const operand = acc[op];
  const sliced = Object.prototype.hasOwnProperty.call(SLICED_ACCUMULATORS, op) ? SLICED_ACCUMULATORS[op] : undefined;
  // {$sum: <number>} is the count times the number, without looking at the documents
  if (!sliced || docs.length <= SLICE_DOCS || (op === '$sum' && isNum(operand))) return evalExpr(docs, acc, options);
  let values: unknown[] = docs;
  if (operand !== null && operand !== undefined) {
    values = [];
    for (let i = 0; i < docs.length; i += SLICE_DOCS) {
      if (i > 0) yield;
      for (const v of evalExpr(docs.slice(i, i + SLICE_DOCS), { $push: operand }, options) as unknown[]) values.push(v);
    }
  }
  return yield* sliced(values);
}

/** $project with `_id` first in its output, as MongoDB (mingo keeps it where the spec names it). */
function $projectStage(coll: any, expr: Doc, options: Opts) {
  return (pipelineOps as any).$project(coll, expr, options).map((d: Doc) => idFirst(d));
}

/**
 * A pipeline operator of the engine's own, never in a user's pipeline (checkPipeline admits
 * only MongoDB's stage names): it hands the options mingo passes to every stage to its argument.
 */
const STAGE_OPTIONS = '$__stageOptions';

/**
 * The options object mingo's Aggregator gives each stage of a pipeline run with `options` (a
 * ComputeOptions, which mingo does not export): what the engine passes to the stages it runs
 * itself (pipeline.ts), so that they evaluate exactly as inside an Aggregator.
 */
export function stageOptions(options: Opts): Opts {
  let captured: Opts = null;
  new Aggregator([{ [STAGE_OPTIONS]: (o: Opts) => (captured = o) }], options).stream([]);
  return captured;
}

export const CONTEXT = Context.init({
  accumulator: { ...(accumulatorOps as any), ...numericAccumulatorOps },
  expression: { ...(expressionOps as any), ...numericExpressions(expressionOps as any), ...regexExpressions(evalExpr as any), ...numericExpressionOps },
  pipeline: {
    ...(pipelineOps as any),
    $sort: $sortStage,
    $project: $projectStage,
    $group: $groupStage,
    // as MongoDB defines it (mingo's own $group and $sort would hash 1 and 1.0 apart, drop a null _id)
    $sortByCount: (coll: any, expr: unknown, options: Opts) => $sortStage($groupStage(coll, { _id: expr, count: { $sum: 1 } }, options), { count: -1 }, options),
    [STAGE_OPTIONS]: (coll: unknown, take: (o: Opts) => void, options: Opts) => (take(options), coll),
  },
  projection: projectionOps as any,
  query: { ...(queryOps as any), ...comparisonOps, ...typeAndBitsOps },
  window: windowOps as any,
});

/** The command's `let` variables (constants), in effect while it runs (see withCommand). */
export const letVars: { current: Doc | null } = { current: null };

export function mingoOptions(extra: Doc = {}): Opts {
  const base: Opts = { context: CONTEXT, useStrictMode: true, scriptEnabled: false };
  if (letVars.current) base.variables = letVars.current;
  return { ...base, ...extra };
}

const isPrim = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && !Number.isNaN(v));
/** Values mingo's `normalize` treats as a plain `$eq` value: primitives, valid Dates, ObjectIds. */
const isScalarValue = (v: unknown) => isPrim(v) || (v instanceof Date && Number.isFinite(v.getTime())) || bsonType(v) === 'ObjectId' || bsonType(v) === 'Double';

/**
 * Filters made only of field conditions with the comparison operators above on strings, numbers,
 * booleans, Dates and ObjectIds ({a: 1, b: {$in: ['x']}, c: {$gte: 2}}), `$exists`, and top-level
 * `$and` / `$or` of such filters ({_id: 'x', $or: [{e: {$exists: false}}, {e: {$gt: date}}]}, the
 * session store's lookup) compile to exactly what mingo's Query would build from them (its
 * `normalize` turns a scalar into `$eq`, then one operator predicate per key, all of which must
 * hold; `$or` / `$and` a Query per element; `$exists` is mingo's own operator), without
 * constructing a Query per command. Null otherwise (mingo then compiles it, errors included).
 */
function compileSimpleFilter(filter: Doc): Pred | null {
  const preds: Pred[] = [];
  for (const field of Object.keys(filter)) {
    const v = filter[field];
    if (field === '$or' || field === '$and') {
      if (!Array.isArray(v) || !v.length) return null;
      const subs: Pred[] = [];
      for (const sub of v) {
        const c = isPlainObject(sub) && Object.keys(sub).length ? compileSimpleFilter(sub) : null;
        if (!c) return null;
        subs.push(c);
      }
      preds.push(field === '$or' ? (d) => subs.some((p) => p(d)) : (d) => subs.every((p) => p(d)));
      continue;
    }
    if (field.startsWith('$')) return null;
    if (isScalarValue(v)) {
      preds.push(comparisonOps.$eq(field, v, null));
      continue;
    }
    if (!isPlainObject(v)) return null;
    const ops = Object.keys(v);
    if (!ops.length) return null;
    for (const o of ops) {
      const arg = v[o];
      if (o === '$in' || o === '$nin') {
        if (!Array.isArray(arg) || !arg.every(isScalarValue)) return null;
        preds.push(comparisonOps[o](field, arg.slice(), null));
      } else if (o === '$eq' || o === '$ne' || o === '$gt' || o === '$gte' || o === '$lt' || o === '$lte') {
        if (!isScalarValue(arg)) return null;
        preds.push(comparisonOps[o](field, arg, null));
      } else if (o === '$exists') {
        if (typeof arg !== 'boolean') return null;
        preds.push((queryOps as unknown as Record<string, (s: string, v: unknown, o: Opts) => Pred>).$exists(field, arg, mingoOptions()));
      } else return null;
    }
  }
  if (preds.length === 1) return preds[0];
  return (d) => {
    for (const p of preds) if (!p(d)) return false;
    return true;
  };
}

export function compileFilter(filter: Doc | undefined | null): Pred {
  if (filter && isPlainObject(filter) && Object.prototype.hasOwnProperty.call(filter, '$comment')) {
    const { $comment: _comment, ...rest } = filter; // a top-level $comment only labels the query
    filter = rest;
  }
  if (!filter || Object.keys(filter).length === 0) return () => true;
  if (!isPlainObject(filter)) throw err('TypeMismatch', 'filter must be an object');
  const simple = compileSimpleFilter(filter);
  if (simple) return simple;
  let q: MingoQuery;
  try {
    q = new MingoQuery(convertFilterRegexes(filter), mingoOptions());
  } catch (e) {
    if (e instanceof CommandError) throw e;
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

/**
 * Values whose equality with a stored value is exactly equality of their canonical index keys
 * (canon): strings, booleans, finite numbers, ObjectIds, valid Dates. For these, a document found
 * under the value's key in an index on a top-level field satisfies `{field: value}` — as the value
 * itself or as an element of an array — so the filter need not be run again.
 */
function keyExact(v: unknown): boolean {
  if (typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (v instanceof Date) return Number.isFinite(v.getTime());
  return bsonType(v) === 'ObjectId' || bsonType(v) === 'Double'; // Double: integral, so finite
}

/**
 * The fields of a filter made only of equality / $eq / $in conditions with key-exact values on
 * top-level (undotted) fields, or null. Candidates found through an index on exactly these
 * fields all match the filter.
 */
function provableFields(filter: Doc): Set<string> | null {
  const out = new Set<string>();
  for (const k of Object.keys(filter)) {
    if (k.startsWith('$') || k.includes('.') || k === '') return null;
    const vals = equalityValues(filter[k]);
    if (!vals || !vals.length || !vals.every(keyExact)) return null;
    out.add(k);
  }
  return out.size ? out : null;
}

/** Documents whose filter was proven by the index alone, without running it (diagnostics, tests). */
export const provenStats = { docs: 0 };

/** Documents examined by filters so far (diagnostics; lets tests prove index lookups don't scan). */
export const scanStats = { examined: 0 };

/** [key, doc] pairs matching `filter`, using an index for top-level equality when possible. */
export function matchDocs(c: Collection | undefined, filter: Doc | undefined | null): [string, Doc][] {
  return drain(matchDocsSteps(c, filter));
}

/** matchDocs in slices: yields every SLICE_DOCS documents examined. */
export function* matchDocsSteps(c: Collection | undefined, filter: Doc | undefined | null): Steps<[string, Doc][]> {
  const pred = compileFilter(filter); // a bad filter is an error on a missing collection too
  if (!c) return [];
  let candidates: Set<string> | null = null;
  const conds: [string, unknown][] = [];
  // Index keys compare strings binary: under a collation every document is examined.
  if (filter && !collation.current) {
    for (const [k, v] of Object.entries(filter)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) for (const e of Object.entries(sub)) if (!e[0].startsWith('$')) conds.push(e);
      } else if (!k.startsWith('$')) conds.push([k, v]);
    }
  }
  const eq = new Map<string, unknown[]>();
  const provable = filter && !collation.current ? provableFields(filter) : null;
  // whether every candidate is known to match the whole filter (see provableFields)
  let proven = false;
  for (const [k, v] of conds) {
    const vals = equalityValues(v);
    if (!vals) continue;
    // two equality conditions on one field: the index may use either; keep the first
    if (!eq.has(k)) eq.set(k, vals);
    const hit = c.lookup(k, vals);
    if (hit && (!candidates || hit.size < candidates.size)) {
      candidates = hit;
      proven = !!provable && provable.size === 1 && provable.has(k);
    }
  }
  if (eq.size >= 2) {
    const info = { covered: [] as string[] };
    const hit = c.lookupCompound(eq, info);
    if (hit && (!candidates || hit.size < candidates.size)) {
      candidates = hit;
      proven = !!provable && provable.size === info.covered.length && info.covered.every((f) => provable.has(f));
    }
  }
  const out: [string, Doc][] = [];
  if (candidates) {
    // Keep natural (insertion) order among candidates when the set is large.
    if (proven) provenStats.docs += candidates.size;
    let i = 0;
    for (const k of candidates) {
      if (++i % SLICE_DOCS === 0) yield;
      const d = c.docs.get(k);
      scanStats.examined++;
      if (d && (proven || pred(d))) out.push([k, d]);
    }
  } else {
    scanStats.examined += c.docs.size;
    let i = 0;
    for (const [k, d] of c.docs) {
      if (++i % SLICE_DOCS === 0) yield;
      if (pred(d)) out.push([k, d]);
    }
  }
  return out;
}

/** Projection tree node: true = the whole field; a node = only these sub-paths. */
type PNode = { [k: string]: true | PNode };

/** Thrown by the fast path for a document it does not handle (nested arrays); mingo takes it. */
const NOT_SIMPLE = Symbol('not simple');

/**
 * Plain inclusion/exclusion projection ({a: 1, 'b.c': 1, _id: 0} / {a: 0, 'b.c': 0}): a tree of
 * paths plus the mode, or null when anything else is involved (operators, literals, positional
 * `$`, path collisions, mixed modes) — those go through mingo.
 */
function compileSimpleProjection(projection: Doc): { include: boolean; tree: PNode; keepId: boolean } | null {
  let include: boolean | null = null;
  let keepId = true;
  let idIncluded = false;
  const tree: PNode = Object.create(null);
  for (const [path, v] of Object.entries(projection)) {
    let on: boolean;
    if (typeof v === 'boolean') on = v;
    else if (typeof v === 'number' && Number.isFinite(v)) on = v !== 0;
    else return null;
    if (path === '_id') {
      keepId = on;
      idIncluded = on;
      continue;
    }
    if (path === '' || path.startsWith('$') || path.startsWith('_id.')) return null;
    const parts = path.split('.');
    if (parts.some((p) => p === '' || p.startsWith('$') || p === '__proto__')) return null;
    if (include === null) include = on;
    else if (include !== on) return null;
    let node = tree;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const cur = node[p];
      if (i === parts.length - 1) {
        if (cur !== undefined) return null; // collision ('a' with 'a.b', or duplicate)
        node[p] = true;
      } else {
        if (cur === true) return null;
        node = (cur ?? (node[p] = Object.create(null))) as PNode;
      }
    }
  }
  if (include === null) include = idIncluded; // only _id given: {_id: 1} includes, {_id: 0} excludes
  if (!include && idIncluded) return null; // exclusion with an explicit _id: 1 — leave it to mingo
  return { include, tree, keepId };
}

const isSubDoc = (v: unknown): v is Doc => isPlainObject(v);

function includeNode(doc: Doc, node: PNode): Doc {
  const out: Doc = {};
  for (const k of Object.keys(doc)) {
    if (k === '__proto__') throw NOT_SIMPLE;
    const spec = node[k];
    if (spec === undefined) continue;
    const v = doc[k];
    if (spec === true) out[k] = v;
    else if (isSubDoc(v)) out[k] = includeNode(v, spec);
    else if (Array.isArray(v)) out[k] = includeArray(v, spec);
  }
  return out;
}

function includeArray(arr: unknown[], node: PNode): unknown[] {
  const out: unknown[] = [];
  for (const el of arr) {
    if (isSubDoc(el)) out.push(includeNode(el, node));
    else if (Array.isArray(el)) throw NOT_SIMPLE;
  }
  return out;
}

function excludeNode(doc: Doc, node: PNode): Doc {
  const out: Doc = {};
  for (const k of Object.keys(doc)) {
    if (k === '__proto__') throw NOT_SIMPLE;
    const spec = node[k];
    const v = doc[k];
    if (spec === undefined) out[k] = v;
    else if (spec === true) continue;
    else if (isSubDoc(v)) out[k] = excludeNode(v, spec);
    else if (Array.isArray(v)) out[k] = excludeArray(v, spec);
    else out[k] = v;
  }
  return out;
}

function excludeArray(arr: unknown[], node: PNode): unknown[] {
  return arr.map((el) => {
    if (isSubDoc(el)) return excludeNode(el, node);
    if (Array.isArray(el)) throw NOT_SIMPLE;
    return el;
  });
}

function mingoProject(docs: Doc[], projection: Doc): Doc[] {
  try {
    return new MingoQuery({}, mingoOptions()).find(docs, projection).all() as Doc[];
  } catch (e) {
    throw err('BadValue', (e as Error).message);
  }
}

/** `_id` first, as MongoDB returns it (mingo puts it where the projection names it). */
function idFirst(d: Doc): Doc {
  if (!Object.prototype.hasOwnProperty.call(d, '_id') || Object.keys(d)[0] === '_id') return d;
  const out: Doc = { _id: d._id };
  for (const k of Object.keys(d)) if (k !== '_id') out[k] = d[k];
  return out;
}

interface SpecialProjection {
  /** the plain inclusion / exclusion part (the special fields included, in inclusion mode) */
  base: Doc;
  slices: [string[], unknown][];
  elemMatch: [string, Pred][];
  /** 'a.$': the array's path */
  positional: string | null;
}

/**
 * Projections with `$slice`, `$elemMatch` or positional `a.$` beside plain 0/1 fields, with
 * MongoDB's rules: `$slice` takes the mode of the other fields (alone, every field is kept);
 * `$elemMatch` and `a.$` include their field; the `$elemMatch` field comes after the others.
 * Null for anything else (computed fields, $meta): mingo.
 */
function specialProjection(projection: Doc): SpecialProjection | null {
  const base: Doc = {};
  const slices: [string[], unknown][] = [];
  const elemMatch: [string, Pred][] = [];
  let positional: string | null = null;
  let special = false;
  let inclusion = false;
  for (const [k, v] of Object.entries(projection)) {
    if (k.endsWith('.$')) {
      if (positional !== null) throw err('BadValue', 'Cannot specify more than one positional projection per query.');
      if (v !== 1 && v !== true) return null;
      positional = k.slice(0, -2);
      special = inclusion = true;
      continue;
    }
    if (isPlainObject(v) && Object.keys(v).length === 1 && '$slice' in v) {
      const a = v.$slice;
      const okNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
      if (Array.isArray(a)) {
        if (a.length !== 2 || !okNum(a[0]) || !okNum(a[1])) throw err('BadValue', '$slice array argument must be an array of two numbers');
        if ((a[1] as number) <= 0) throw err('BadValue', `$slice limit must be positive`);
      } else if (!okNum(a)) throw err('BadValue', '$slice only supports numbers and [skip, limit] arrays');
      slices.push([k.split('.'), a]);
      special = true;
      continue;
    }
    if (isPlainObject(v) && Object.keys(v).length === 1 && '$elemMatch' in v) {
      if (k.includes('.')) throw err('BadValue', `Cannot use $elemMatch projection on a nested field.`);
      if (!isPlainObject(v.$elemMatch)) throw err('BadValue', 'elemMatch: Invalid argument, object required.');
      const cond = v.$elemMatch;
      const pred = compileFilter({ v: { $elemMatch: cond } });
      elemMatch.push([k, (el: Doc) => pred({ v: [el] })]);
      special = inclusion = true;
      continue;
    }
    if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
      base[k] = v;
      if (k !== '_id' && v) inclusion = true;
      continue;
    }
    return null;
  }
  if (!special) return null;
  if (inclusion) {
    for (const [parts] of slices) base[parts.join('.')] = 1;
    for (const [k] of elemMatch) base[k] = 1;
    if (positional !== null) base[positional] = 1;
  }
  return { base, slices, elemMatch, positional };
}

function sliceArray(arr: unknown[], a: unknown): unknown[] {
  if (Array.isArray(a)) {
    let skip = a[0] as number;
    const limit = a[1] as number;
    if (skip < 0) skip = Math.max(0, arr.length + skip);
    return arr.slice(skip, skip + limit);
  }
  const n = a as number;
  return n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
}

/** A copy of `v` with $slice applied at the path (through subdocuments and arrays of them). */
function sliceAt(v: unknown, parts: string[], i: number, a: unknown): unknown {
  if (i === parts.length) return Array.isArray(v) ? sliceArray(v, a) : v;
  if (Array.isArray(v)) return v.map((el) => (isPlainObject(el) ? sliceAt(el, parts, i, a) : el));
  if (isPlainObject(v) && Object.prototype.hasOwnProperty.call(v, parts[i])) {
    const out: Doc = { ...v };
    out[parts[i]] = sliceAt(v[parts[i]], parts, i + 1, a);
    return out;
  }
  return v;
}

function applySpecial(d: Doc, projected: Doc, sp: SpecialProjection, filter: Doc | undefined): Doc {
  let r = projected;
  for (const [parts, a] of sp.slices) r = sliceAt(r, parts, 0, a) as Doc;
  if (sp.positional !== null) {
    const i = filter ? positionalIndex(d, filter, sp.positional) : null;
    if (i === null) throw err('Location51246', "Executor error during find command :: caused by :: positional operator '.$' couldn't find a matching element in the array");
    const parts = sp.positional.split('.');
    const arr = parts.reduce<unknown>((o, p) => (isPlainObject(o) ? o[p] : undefined), d) as unknown[];
    r = { ...r };
    let o: Doc = r;
    for (let j = 0; j < parts.length - 1; j++) o = o[parts[j]] = { ...(o[parts[j]] as Doc) };
    o[parts[parts.length - 1]] = [arr[i]];
  }
  if (sp.elemMatch.length) {
    r = { ...r };
    for (const [k, pred] of sp.elemMatch) {
      const arr = d[k];
      delete r[k];
      const hit = Array.isArray(arr) ? arr.find((el) => pred(el as Doc)) : undefined;
      if (hit !== undefined) r[k] = [hit];
    }
  }
  return r;
}

export function project(docs: Doc[], projection: Doc | undefined | null, filter?: Doc): Doc[] {
  if (!projection || Object.keys(projection).length === 0) return docs;
  const sp = specialProjection(projection);
  if (sp) {
    const base = Object.keys(sp.base).length ? project(docs, sp.base) : docs;
    return base.map((p, i) => applySpecial(docs[i], p, sp, filter));
  }
  const simple = compileSimpleProjection(projection);
  if (!simple) return mingoProject(docs, projection).map(idFirst);
  const { include, tree, keepId } = simple;
  const out: Doc[] = new Array(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    try {
      let r: Doc;
      if (include) {
        r = includeNode(d, tree);
        if (keepId && d._id !== undefined) r = { _id: d._id, ...r };
      } else {
        r = excludeNode(d, tree);
        if (!keepId) delete r._id;
      }
      out[i] = r;
    } catch (e) {
      if (e !== NOT_SIMPLE) throw e;
      out[i] = mingoProject([d], projection)[0];
    }
  }
  return out;
}

/** MongoDB stages mingo does not run: refused by name (72) rather than answered as unknown. */
const UNSUPPORTED_STAGES = new Set([
  '$geoNear', '$search', '$searchMeta', '$vectorSearch', '$collStats', '$indexStats', '$planCacheStats', '$currentOp',
  '$listSessions', '$listLocalSessions', '$changeStream', '$changeStreamSplitLargeEvent', '$listSearchIndexes', '$shardedDataDistribution',
  '$documents',
]);

/**
 * Checks the stages of an aggregation pipeline as MongoDB parses them: exactly one field per
 * stage (40323), a known stage name (40324); `$out` / `$merge` and the stages above are refused.
 */
export function checkPipeline(pipeline: Doc[]): void {
  for (const stage of pipeline) {
    const keys = Object.keys(stage);
    if (keys.length !== 1) throw err('Location40323', 'A pipeline stage specification object must contain exactly one field.');
    const name = keys[0];
    if (name === '$out' || name === '$merge') throw err('IllegalOperation', `${name} is not supported by the embedded engine`);
    if (UNSUPPORTED_STAGES.has(name)) throw err('InvalidOptions', `aggregation stage ${name} is not supported by the embedded engine`);
    if (!Object.prototype.hasOwnProperty.call(pipelineOps, name)) throw err('Location40324', `Unrecognized pipeline stage name: '${name}'`);
    if (name === '$facet' && isPlainObject(stage.$facet)) for (const sub of Object.values(stage.$facet)) if (Array.isArray(sub)) checkPipeline(sub);
    if ((name === '$lookup' || name === '$unionWith') && isPlainObject(stage[name]) && Array.isArray(stage[name].pipeline)) checkPipeline(stage[name].pipeline);
  }
}

/** A pipeline with its regexes compiled: filters of $match stages, regex expressions elsewhere. */
export function convertPipelineRegexes(pipeline: Doc[]): Doc[] {
  const out = pipeline.map((stage) => {
    const name = Object.keys(stage)[0];
    const v = stage[name];
    if (name === '$match' && isPlainObject(v)) {
      const c = convertFilterRegexes(v);
      return c === v ? stage : { $match: c };
    }
    if (name === '$facet' && isPlainObject(v)) {
      const f: Doc = {};
      let changed = false;
      for (const [k, sub] of Object.entries(v)) {
        f[k] = Array.isArray(sub) ? convertPipelineRegexes(sub) : sub;
        changed ||= f[k] !== sub;
      }
      return changed ? { $facet: f } : stage;
    }
    if ((name === '$lookup' || name === '$unionWith') && isPlainObject(v) && Array.isArray(v.pipeline)) {
      const p = convertPipelineRegexes(v.pipeline);
      return p === v.pipeline ? stage : { [name]: { ...v, pipeline: p } };
    }
    const c = convertExprRegexes(v);
    return c === v ? stage : { [name]: c };
  });
  return out.some((s, i) => s !== pipeline[i]) ? out : pipeline;
}

export { bsonType };

/**
 * The index of the array element at `prefix` that the filter matched (what positional `$` means
 * in updates and projections), or null. Conditions on `prefix` or on paths below it (top level
 * and inside `$and`; `$elemMatch` included) are tried on each element in turn; as in MongoDB,
 * when several conditions name the array, the last one decides (MongoDB documents the
 * combination as ambiguous), and its first matching element is taken.
 */
export function positionalIndex(doc: Doc, filter: Doc, prefix: string): number | null {
  let arr: unknown = doc;
  for (const p of prefix.split('.')) {
    if (!isPlainObject(arr) && !Array.isArray(arr)) return null;
    arr = Array.isArray(arr) ? (/^\d+$/.test(p) ? arr[Number(p)] : undefined) : Object.prototype.hasOwnProperty.call(arr, p) ? (arr as Doc)[p] : undefined;
  }
  if (!Array.isArray(arr)) return null;
  const conds: Doc[] = [];
  const visit = (f: Doc) => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) visit(sub);
      } else if (k === prefix || k.startsWith(prefix + '.')) conds.push({ [k]: v });
    }
  };
  visit(filter);
  if (!conds.length) {
    // no condition names the array directly: a matching branch of a top-level $or may
    for (const branch of Array.isArray(filter.$or) ? filter.$or : []) {
      if (!isPlainObject(branch)) continue;
      const i = positionalIndex(doc, branch, prefix);
      if (i !== null && compileFilter(branch)(doc)) return i;
    }
    return null;
  }
  const probe = (el: unknown): Doc => {
    const out: Doc = {};
    let o = out;
    const parts = prefix.split('.');
    for (let i = 0; i < parts.length - 1; i++) o = o[parts[i]] = {};
    o[parts[parts.length - 1]] = [el];
    return out;
  };
  let found: number | null = null;
  for (const c of conds) {
    const pred = compileFilter(c);
    for (let i = 0; i < arr.length; i++) {
      if (pred(probe(arr[i]))) {
        found = i;
        break;
      }
    }
  }
  return found;
}

// ---- collation -------------------------------------------------------------------------------

const COLLATION_FIELDS = new Set(['locale', 'caseLevel', 'caseFirst', 'strength', 'numericOrdering', 'alternate', 'maxVariable', 'normalization', 'backwards', 'version']);
const ICU_KEYWORDS: Record<string, string> = { phonebook: 'phonebk', traditional: 'trad', gb2312han: 'gb2312', big5han: 'big5han', pinyin: 'pinyin', stroke: 'stroke', unihan: 'unihan', zhuyin: 'zhuyin', search: 'search', standard: 'standard', compat: 'compat', eor: 'eor', emoji: 'emoji' };

function unsupportedCollation(what: string): Error {
  return err('InvalidOptions', `collation ${what} is not supported by the embedded engine`);
}

/**
 * A collation document → an Intl.Collator that compares exactly as MongoDB's ICU collation does
 * (locale, strength 1–3, caseLevel with strength 1, caseFirst, numericOrdering), null for the
 * simple collation; anything Intl cannot reproduce (strength 4/5, caseLevel with strength 2,
 * alternate 'shifted', backwards, normalization) is refused (72).
 */
export function parseCollation(spec: unknown): Intl.Collator | null {
  if (spec === undefined || spec === null) return null;
  if (!isPlainObject(spec)) throw err('TypeMismatch', "BSON field 'collation' is the wrong type, expected type 'object'");
  for (const k of Object.keys(spec)) if (!COLLATION_FIELDS.has(k)) throw err('Location40415', `BSON field 'collation.${k}' is an unknown field.`);
  const { locale } = spec;
  if (typeof locale !== 'string') throw err('FailedToParse', "BSON field 'collation.locale' is missing but a required field");
  if (locale === 'simple') {
    if (Object.keys(spec).length > 1) throw err('BadValue', 'If "locale" is set to "simple", then no other fields may be specified');
    return null;
  }
  const strength = spec.strength === undefined ? 3 : Number(spec.strength);
  if (![1, 2, 3, 4, 5].includes(strength)) throw err('BadValue', `Field 'strength' must be an integer 1 through 5. Got: ${String(spec.strength)}`);
  if (strength > 3) throw unsupportedCollation(`strength ${strength}`);
  if (spec.caseLevel === true && strength === 2) throw unsupportedCollation('caseLevel with strength 2');
  if (spec.alternate !== undefined && spec.alternate !== 'non-ignorable') {
    if (spec.alternate !== 'shifted') throw err('FailedToParse', `Field 'alternate' must be 'non-ignorable' or 'shifted'. Got: ${String(spec.alternate)}`);
    throw unsupportedCollation("alternate 'shifted'");
  }
  if (spec.maxVariable !== undefined && spec.maxVariable !== 'punct' && spec.maxVariable !== 'space') throw err('FailedToParse', `Field 'maxVariable' must be 'punct' or 'space'. Got: ${String(spec.maxVariable)}`);
  if (spec.backwards === true) throw unsupportedCollation('backwards');
  if (spec.normalization === true) throw unsupportedCollation('normalization');
  const caseFirst = spec.caseFirst ?? 'off';
  if (!['upper', 'lower', 'off'].includes(caseFirst)) throw err('FailedToParse', `Field 'caseFirst' must be 'upper', 'lower', or 'off'. Got: ${String(caseFirst)}`);
  const m = /^([A-Za-z]{2,3}(?:_[A-Za-z0-9]+)*)(?:@collation=([a-z0-9]+))?$/.exec(locale);
  const tag = m ? m[1].replace(/_/g, '-') + (m[2] ? `-u-co-${ICU_KEYWORDS[m[2]] ?? m[2]}` : '') : '';
  if (!m || (m[2] && !ICU_KEYWORDS[m[2]]) || Intl.Collator.supportedLocalesOf([tag]).length === 0) {
    throw err('BadValue', `Field 'locale' is invalid in: { locale: "${locale}" }`);
  }
  const c = new Intl.Collator(tag, {
    usage: 'sort',
    sensitivity: strength === 1 ? (spec.caseLevel ? 'case' : 'base') : strength === 2 ? 'accent' : 'variant',
    caseFirst: caseFirst === 'off' ? 'false' : caseFirst,
    numeric: spec.numericOrdering === true,
    ignorePunctuation: false,
  });
  if (m[2] && c.resolvedOptions().collation !== (ICU_KEYWORDS[m[2]] ?? m[2])) throw err('BadValue', `Field 'locale' is invalid in: { locale: "${locale}" }`);
  return c;
}

/** Whether a filter / stage uses expression operators (mingo's comparison, which knows no collation). */
function usesExpressions(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(usesExpressions);
  if (!isPlainObject(v)) return false;
  return Object.entries(v).some(([k, x]) => k === '$expr' || k === '$where' || k === '$function' || k === '$accumulator' || usesExpressions(x));
}

/** Aggregation stages that only use the engine's own (collation-aware) comparison. */
const COLLATION_STAGES = new Set(['$match', '$sort', '$skip', '$limit', '$count', '$unwind']);

/**
 * Refuses (72) what the engine cannot run exactly under a non-simple collation: expression
 * operators in a filter ($expr, $where) and aggregation stages other than $match / $sort /
 * $skip / $limit / $count / $unwind / plain $project.
 */
export function checkCollationUse(opts: { filter?: unknown; pipeline?: Doc[] }): void {
  if (opts.filter !== undefined && usesExpressions(opts.filter)) throw unsupportedCollation('with $expr / $where in the filter');
  for (const stage of opts.pipeline ?? []) {
    const name = Object.keys(stage)[0];
    if (COLLATION_STAGES.has(name) && !usesExpressions(stage[name])) continue;
    if ((name === '$project' || name === '$unset') && (name === '$unset' || Object.values(stage[name] as Doc).every((x) => typeof x === 'number' || typeof x === 'boolean'))) continue;
    if (name === '$group' && isCountGroup(stage.$group)) continue; // countDocuments' {_id: 1, n: {$sum: 1}}
    throw unsupportedCollation(`with aggregation stage ${name}`);
  }
}

/**
 * The `let` option: constants the filter's `$expr` (and pipeline updates / aggregation) read as
 * `$$name`. Expressions as values are refused (72) — the engine does not evaluate them there.
 */
export function parseLet(v: unknown): Doc | null {
  if (v === undefined || v === null) return null;
  if (!isPlainObject(v)) throw err('TypeMismatch', "BSON field 'let' is the wrong type, expected type 'object'");
  for (const [k, x] of Object.entries(v)) {
    if (!/^[a-z][A-Za-z0-9_]*$/.test(k)) throw err('FailedToParse', `'${k}' starts with an invalid character for a user variable name`);
    if (usesOperators(x)) throw err('InvalidOptions', `let variable '${k}' is an expression, which is not supported by the embedded engine (use a constant)`);
  }
  return v;
}

function usesOperators(v: unknown): boolean {
  if (typeof v === 'string') return v.startsWith('$');
  if (Array.isArray(v)) return v.some(usesOperators);
  if (!isPlainObject(v)) return false;
  return Object.entries(v).some(([k, x]) => k.startsWith('$') || usesOperators(x));
}

/** A $group with a constant key and only `$sum` of constants: no value is compared. */
function isCountGroup(g: unknown): boolean {
  if (!isPlainObject(g)) return false;
  return Object.entries(g).every(([k, v]) =>
    k === '_id' ? v === null || typeof v === 'number' : isPlainObject(v) && Object.keys(v).length === 1 && typeof v.$sum === 'number',
  );
}

/** Runs `fn` with the command's collation and `let` variables in effect. */
export function withCommand<T>(opts: { collation?: Intl.Collator | null; vars?: Doc | null }, fn: () => T): T {
  const prevC = collation.current;
  const prevV = letVars.current;
  collation.current = opts.collation ?? null;
  letVars.current = opts.vars ?? null;
  try {
    return fn();
  } finally {
    collation.current = prevC;
    letVars.current = prevV;
  }
}

/** withCommand for a generator (a command's slices): the collation and `let` variables stay in effect across its yields. */
export function* withCommandSteps<T>(opts: { collation?: Intl.Collator | null; vars?: Doc | null }, fn: () => Generator<void, T, void>): Generator<void, T, void> {
  const prevC = collation.current;
  const prevV = letVars.current;
  collation.current = opts.collation ?? null;
  letVars.current = opts.vars ?? null;
  try {
    return yield* fn();
  } finally {
    collation.current = prevC;
    letVars.current = prevV;
  }
}
