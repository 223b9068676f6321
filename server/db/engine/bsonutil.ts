// BSON value helpers: canonical index keys, MongoDB's comparison order, cloning and
// path access. Values are what `decodeBson` produces: JS numbers for int32 and for doubles that
// a JS number keeps as a double (see isAmbiguousDouble), `Double` for the others, `Long`,
// `Decimal128`, `Binary`.
import { Long, ObjectId, Decimal128, Binary, Timestamp, Double, deserialize } from 'bson';

export type Doc = Record<string, any>;

// ---- decoding with the exact BSON numeric types ------------------------------------------------
// A JS number is serialised as int32 when integral and in the int32 range (and not -0), else as a
// double. So a stored double whose value is integral and in that range (5.0) would come back as
// int32 if decoded to a JS number: such doubles are kept as `Double` values, everything else as
// before (int32 and other doubles as JS numbers, Long, Decimal128, Binary as objects).

/** Whether a double with this value would be serialised back as int32 if held as a JS number. */
export function isAmbiguousDouble(v: number): boolean {
  return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 && !Object.is(v, -0);
}

/** A double result: a `Double` where a JS number would be taken for an int32. */
export function asDouble(v: number): number | Double {
  return isAmbiguousDouble(v) ? new Double(v) : v;
}

/** The options every stored and received document is decoded with (see decodeBson). */
export const DESERIALIZE_OPTS = { promoteLongs: false, promoteValues: true, promoteBuffers: false, bsonRegExp: true } as const;
const EXACT_OPTS = { promoteLongs: false, promoteValues: false, promoteBuffers: false, bsonRegExp: true } as const;

/**
 * Whether the BSON document `b` may hold a double that decodeBson must keep as `Double` (an
 * integral double in the int32 range). A linear scan over the elements; anything unexpected
 * (including malformed bytes) answers true, leaving it to the exact decoding (which validates).
 */
export function mayHoldAmbiguousDouble(b: Uint8Array): boolean {
  const end = b.length;
  if (end < 5) return true;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    let p = 4;
    while (p < end) {
      const t = b[p++];
      if (t === 0) continue; // end of a (sub)document
      while (p < end && b[p] !== 0) p++;
      p++;
      let len: number;
      switch (t) {
        case 0x01:
          if (isAmbiguousDouble(dv.getFloat64(p, true))) return true;
          p += 8;
          break;
        case 0x02: // string, code, symbol
        case 0x0d:
        case 0x0e:
          len = dv.getInt32(p, true);
          if (len < 1) return true;
          p += 4 + len;
          break;
        case 0x03: // document, array: their elements follow
        case 0x04:
          p += 4;
          break;
        case 0x05:
          len = dv.getInt32(p, true);
          if (len < 0) return true;
          p += 5 + len;
          break;
        case 0x06:
        case 0x0a:
        case 0x7f:
        case 0xff:
          break;
        case 0x07:
          p += 12;
          break;
        case 0x08:
          p += 1;
          break;
        case 0x09:
        case 0x11:
        case 0x12:
          p += 8;
          break;
        case 0x0b: // regex: two cstrings
          while (p < end && b[p] !== 0) p++;
          p++;
          while (p < end && b[p] !== 0) p++;
          p++;
          break;
        case 0x10:
          p += 4;
          break;
        case 0x13:
          p += 16;
          break;
        default: // code with scope, DBPointer, unknown
          return true;
      }
    }
    return false;
  } catch {
    return true;
  }
}

/** An exactly decoded value → the engine's representation (Int32 → number, Double → number where exact). */
function fromExact(v: any): any {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = fromExact(v[i]);
    return v;
  }
  switch (v._bsontype) {
    case undefined:
      break;
    case 'Int32':
      return v.value;
    case 'Double':
      return isAmbiguousDouble(v.value) ? v : v.value;
    case 'BSONSymbol':
      return v.value; // as promoteValues does
    default:
      return v;
  }
  if (v instanceof Date || v instanceof RegExp) return v;
  for (const k of Object.keys(v)) {
    const x = v[k];
    const y = fromExact(x);
    if (y !== x) setOwn(v, k, y);
  }
  return v;
}

/**
 * Decodes a BSON document keeping every value's BSON type: what `deserialize` with
 * DESERIALIZE_OPTS gives, except that integral doubles in the int32 range are `Double` values
 * (a JS number would be serialised back as int32). Throws what `deserialize` throws.
 */
export function decodeBson(b: Uint8Array): Doc {
  if (!mayHoldAmbiguousDouble(b)) return deserialize(b, DESERIALIZE_OPTS);
  return fromExact(deserialize(b, EXACT_OPTS));
}

export function bsonType(v: unknown): string | undefined {
  return v !== null && typeof v === 'object' ? (v as { _bsontype?: string })._bsontype : undefined;
}

export function isPlainObject(v: unknown): v is Doc {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

export function isNumeric(v: unknown): boolean {
  if (typeof v === 'number' || typeof v === 'bigint') return true;
  const t = bsonType(v);
  return t === 'Long' || t === 'Decimal128' || t === 'Int32' || t === 'Double';
}

/** A JS number for a numeric BSON value (Decimal128/Long may lose precision). */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  const t = bsonType(v);
  if (t === 'Long') return (v as Long).toNumber();
  if (t === 'Decimal128') return Number((v as Decimal128).toString());
  if (t === 'Int32' || t === 'Double') return (v as { value: number }).value;
  return NaN;
}

/** MongoDB's canonical type order used for comparisons and sorting. */
export function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 2;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 3;
    case 'string':
      return 4;
    case 'boolean':
      return 9;
  }
  if (v instanceof Date) return 10;
  if (v instanceof RegExp) return 12;
  if (Array.isArray(v)) return 6;
  if (v instanceof Uint8Array) return 7;
  switch (bsonType(v)) {
    case 'MinKey':
      return 1;
    case 'Long':
    case 'Decimal128':
    case 'Int32':
    case 'Double':
      return 3;
    case 'BSONSymbol':
      return 4;
    case 'Binary':
      return 7;
    case 'ObjectId':
      return 8;
    case 'Timestamp':
      return 11;
    case 'BSONRegExp':
      return 12;
    case 'MaxKey':
      return 14;
    case 'Code':
      return 13;
  }
  return 5;
}

function cmpNum(a: unknown, b: unknown): number {
  const ta = bsonType(a);
  const tb = bsonType(b);
  if (ta === 'Long' && tb === 'Long') return (a as Long).compare(b as Long);
  if (ta === 'Decimal128' || tb === 'Decimal128') {
    // Compare through exact decimal strings when possible.
    const x = toNumber(a);
    const y = toNumber(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ta === 'Long' || tb === 'Long') {
    const la = ta === 'Long' ? (a as Long) : null;
    const lb = tb === 'Long' ? (b as Long) : null;
    const other = la ? toNumber(b) : toNumber(a);
    if (Number.isInteger(other) && Number.isSafeInteger(other)) {
      const r = la ? la.compare(Long.fromNumber(other)) : Long.fromNumber(other).compare(lb!);
      return r;
    }
  }
  const x = toNumber(a);
  const y = toNumber(b);
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1; // NaN sorts before all numbers
  if (Number.isNaN(y)) return 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length < 0 ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * The collation of the command running now (commands run synchronously, one at a time), or
 * null for MongoDB's simple binary comparison. compareValues compares strings with it; canonical
 * index keys (canon) never do — indexes have the simple collation.
 */
export const collation: { current: Intl.Collator | null } = { current: null };

/** Total order over BSON values, as MongoDB compares them. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case 2:
    case 14:
      return 0;
    case 3:
      return cmpNum(a, b);
    case 4: {
      const x = String(a);
      const y = String(b);
      if (collation.current) return Math.sign(collation.current.compare(x, y));
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 5: {
      const ka = Object.keys(a as Doc);
      const kb = Object.keys(b as Doc);
      const n = Math.min(ka.length, kb.length);
      for (let i = 0; i < n; i++) {
        const va = (a as Doc)[ka[i]];
        const vb = (b as Doc)[kb[i]];
        const rt = typeRank(va) - typeRank(vb);
        if (rt !== 0) return rt < 0 ? -1 : 1;
        if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
        const c = compareValues(va, vb);
        if (c !== 0) return c;
      }
      return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
    }
    case 6: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    case 7: {
      const ba = a instanceof Uint8Array ? a : (a as Binary).buffer;
      const bb = b instanceof Uint8Array ? b : (b as Binary).buffer;
      if (ba.length !== bb.length) return ba.length < bb.length ? -1 : 1;
      const sa = a instanceof Uint8Array ? 0 : (a as Binary).sub_type;
      const sb = b instanceof Uint8Array ? 0 : (b as Binary).sub_type;
      if (sa !== sb) return sa < sb ? -1 : 1;
      return cmpBytes(ba, bb);
    }
    case 8:
      return cmpBytes((a as ObjectId).id, (b as ObjectId).id);
    case 9:
      return a === b ? 0 : a ? 1 : -1;
    case 10: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 11:
      return (a as Timestamp).compare(b as Timestamp);
    case 12: {
      // pattern, then options (a JS RegExp built inside the engine: its source and flags)
      const pa = a instanceof RegExp ? a.source : (a as { pattern: string }).pattern;
      const pb = b instanceof RegExp ? b.source : (b as { pattern: string }).pattern;
      if (pa !== pb) return pa < pb ? -1 : 1;
      const oa = a instanceof RegExp ? a.flags : (a as { options: string }).options;
      const ob = b instanceof RegExp ? b.flags : (b as { options: string }).options;
      return oa < ob ? -1 : oa > ob ? 1 : 0;
    }
    default: {
      const x = String(a);
      const y = String(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}

/**
 * Canonical string of a value for index maps: values MongoDB considers equal in an index
 * (1, 1.0, Long(1); missing and null) get the same key.
 */
export function canon(v: unknown): string {
  if (v === undefined || v === null) return 'n';
  switch (typeof v) {
    case 'number':
      return 'd' + (Object.is(v, -0) ? '0' : String(v));
    case 'bigint':
      return 'd' + String(Number.isSafeInteger(Number(v)) ? Number(v) : v);
    case 'string':
      return 's' + v;
    case 'boolean':
      return v ? 'b1' : 'b0';
  }
  if (v instanceof Date) return 't' + v.getTime();
  if (v instanceof RegExp) return 'r/' + v.source + '/' + v.flags;
  if (Array.isArray(v)) return 'a' + JSON.stringify(v.map(canon));
  if (v instanceof Uint8Array) return 'B0:' + Buffer.from(v).toString('base64');
  switch (bsonType(v)) {
    case 'ObjectId':
      return 'o' + (v as ObjectId).toHexString();
    case 'Long': {
      const n = (v as Long).toNumber();
      return 'd' + (Number.isSafeInteger(n) ? String(n) : (v as Long).toString());
    }
    case 'Int32':
    case 'Double':
      return canon((v as { value: number }).value);
    case 'Decimal128': {
      const s = (v as Decimal128).toString();
      const n = Number(s);
      return Number.isFinite(n) && String(n) === s.replace(/\.?0+$/, '').replace(/^-0$/, '0') ? 'd' + n : 'D' + s;
    }
    case 'Binary':
      return 'B' + (v as Binary).sub_type + ':' + Buffer.from((v as Binary).buffer).toString('base64');
    case 'Timestamp':
      return 'T' + (v as Timestamp).toString();
    case 'MinKey':
      return '<min';
    case 'MaxKey':
      return '>max';
  }
  if (typeof v === 'object') {
    return 'm' + JSON.stringify(Object.entries(v as Doc).map(([k, x]) => [k, canon(x)]));
  }
  return '?' + String(v);
}

/**
 * canon(a) === canon(b), without building the strings: arrays and plain objects (same keys in
 * the same order) are compared element by element, anything else by its canonical string.
 */
export function sameCanon(a: unknown, b: unknown): boolean {
  if (a === b) return true; // the same value, or the same (never mutated) object
  const aa = Array.isArray(a);
  const ba = Array.isArray(b);
  if (aa || ba) {
    if (!(aa && ba)) return false;
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!sameCanon(x[i], y[i])) return false;
    return true;
  }
  const ao = canonIsEntries(a);
  const bo = canonIsEntries(b);
  if (ao || bo) {
    if (!(ao && bo)) return false;
    const ka = Object.keys(a as Doc);
    const kb = Object.keys(b as Doc);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i++) {
      if (ka[i] !== kb[i] || !sameCanon((a as Doc)[ka[i]], (b as Doc)[kb[i]])) return false;
    }
    return true;
  }
  return canon(a) === canon(b);
}

/** Whether canon() renders `v` as the list of its entries ('m…'). */
function canonIsEntries(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (v instanceof Date || v instanceof RegExp || Array.isArray(v) || v instanceof Uint8Array) return false;
  switch (bsonType(v)) {
    case 'ObjectId':
    case 'Long':
    case 'Int32':
    case 'Double':
    case 'Decimal128':
    case 'Binary':
    case 'Timestamp':
    case 'MinKey':
    case 'MaxKey':
      return false;
  }
  return true;
}

/**
 * Sets an own property, also one named `__proto__` (which plain assignment would take as the
 * object's prototype: MongoDB stores such a field like any other).
 */
export function setOwn(o: Doc, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/** Deep copy of plain objects and arrays; BSON value objects are immutable and shared. */
export function cloneDoc<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneDoc) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (isPlainObject(v)) {
    const out: Doc = {};
    for (const k of Object.keys(v)) {
      if (k === '__proto__') setOwn(out, k, cloneDoc((v as Doc)[k]));
      else out[k] = cloneDoc((v as Doc)[k]);
    }
    return out as T;
  }
  return v;
}

/**
 * Values at a dotted path, descending into arrays as MongoDB does for index keys and sorts.
 * Returns [] when the path is missing.
 */
export function pathValues(doc: unknown, path: string): unknown[] {
  const parts = path.split('.');
  const out: unknown[] = [];
  const walk = (v: unknown, i: number) => {
    if (i === parts.length) {
      out.push(v);
      return;
    }
    if (Array.isArray(v)) {
      const p = parts[i];
      if (/^\d+$/.test(p) && Number(p) < v.length) walk(v[Number(p)], i + 1);
      for (const el of v) if (el !== null && typeof el === 'object' && !Array.isArray(el)) walk(el, i);
      return;
    }
    if (v !== null && typeof v === 'object' && !bsonType(v) && !(v instanceof Date)) {
      const o = v as Doc;
      if (Object.prototype.hasOwnProperty.call(o, parts[i])) walk(o[parts[i]], i + 1);
    }
  };
  walk(doc, 0);
  return out;
}

/** Marker of singleValue: the path reaches an array (multikey) — pathValues' traversal applies. */
export const MULTI: unique symbol = Symbol('multi');

/**
 * The single value at the path `parts` when no array is on the way or at the end: exactly what
 * pathValues would yield as its only element (undefined when pathValues yields nothing), or
 * MULTI when an array is met.
 */
export function singleValue(doc: unknown, parts: string[]): unknown {
  let v: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    if (Array.isArray(v)) return MULTI;
    if (v === null || typeof v !== 'object' || bsonType(v) || v instanceof Date) return undefined;
    const o = v as Doc;
    if (!Object.prototype.hasOwnProperty.call(o, parts[i])) return undefined;
    v = o[parts[i]];
  }
  return Array.isArray(v) ? MULTI : v;
}

/** The single value at a dotted path without array traversal (undefined when missing). */
export function getPath(doc: unknown, path: string): unknown {
  let v: any = doc;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[p];
  }
  return v;
}

export function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let o: any = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    if (o[parts[i]] === null || typeof o[parts[i]] !== 'object') o[parts[i]] = {};
    o = o[parts[i]];
  }
  o[parts[parts.length - 1]] = value;
}

/** Render a value like mongod does in error messages: { name: "x" }. */
export function show(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (Array.isArray(v)) return '[ ' + v.map(show).join(', ') + ' ]';
  switch (bsonType(v)) {
    case 'ObjectId':
      return `ObjectId('${(v as ObjectId).toHexString()}')`;
    case 'Long':
      return (v as Long).toString();
    case 'Double': {
      const n = (v as Double).value;
      return Number.isInteger(n) ? `${n}.0` : String(n);
    }
    case 'Decimal128':
      return `Decimal128("${(v as Decimal128).toString()}")`;
    case 'Binary':
      return `BinData(${(v as Binary).sub_type}, ${Buffer.from((v as Binary).buffer).toString('hex').toUpperCase()})`;
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Doc);
    return entries.length ? '{ ' + entries.map(([k, x]) => `${k}: ${show(x)}`).join(', ') + ' }' : '{}';
  }
  return String(v);
}

export { Long, ObjectId, Decimal128, Binary, Timestamp, Double };

// ---- arithmetic with MongoDB's numeric types ---------------------------------------------------
// int32 (a JS number that is integral and in range) op int32 → number; anything with a double →
// double; Long with integers → Long; anything with a Decimal128 → Decimal128, computed exactly
// (a double is first rounded to 15 significant digits, as MongoDB converts it).

const isInt32Num = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;

interface Dec {
  c: bigint;
  e: number;
}

function decOf(v: unknown): Dec | number {
  let s: string;
  if (bsonType(v) === 'Decimal128') s = (v as Decimal128).toString();
  else if (bsonType(v) === 'Long') s = (v as Long).toString();
  else if (typeof v === 'bigint') s = v.toString();
  else {
    const n = toNumber(v);
    if (!Number.isFinite(n)) return n;
    // an int32 converts exactly; a double (also an integral one held as Double) to 15 digits
    s = typeof v === 'number' && isInt32Num(n) ? String(n) : n.toPrecision(15);
  }
  if (/^-?(NaN|Inf)/i.test(s)) return s.startsWith('-') ? -Infinity : /NaN/i.test(s) ? NaN : Infinity;
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return NaN;
  const frac = m[3] ?? '';
  const c = BigInt((m[1] || '') + ((m[2] || '') + frac || '0'));
  return { c, e: Number(m[4] ?? 0) - frac.length };
}

function decValue(d: Dec | number): Decimal128 {
  if (typeof d === 'number') return Decimal128.fromString(Number.isNaN(d) ? 'NaN' : d > 0 ? 'Infinity' : '-Infinity');
  let { c, e } = d;
  const neg = c < 0n;
  let digits = (neg ? -c : c).toString();
  if (digits.length > 34) {
    // round half to even to 34 significant digits
    const drop = digits.length - 34;
    const keep = BigInt(digits.slice(0, 34));
    const rest = digits.slice(34);
    const half = '5' + '0'.repeat(drop - 1);
    let k = keep;
    if (rest > half || (rest === half && keep % 2n === 1n)) k += 1n;
    digits = k.toString();
    e += drop + (digits.length > 34 ? 1 : 0);
    if (digits.length > 34) digits = digits.slice(0, 34);
    c = BigInt(digits) * (neg ? -1n : 1n);
  }
  return Decimal128.fromString(`${c}E${e >= 0 ? '+' : ''}${e}`);
}

function decArith(op: 'add' | 'mul', a: unknown, b: unknown): Decimal128 {
  const x = decOf(a);
  const y = decOf(b);
  if (typeof x === 'number' || typeof y === 'number') {
    const fx = typeof x === 'number' ? x : 1;
    const fy = typeof y === 'number' ? y : 1;
    return decValue(op === 'add' ? fx + fy : fx * fy);
  }
  if (op === 'mul') return decValue({ c: x.c * y.c, e: x.e + y.e });
  const e = Math.min(x.e, y.e);
  return decValue({ c: x.c * 10n ** BigInt(x.e - e) + y.c * 10n ** BigInt(y.e - e), e });
}

/** A numeric value as a decimal c × 10^e (a double to 15 significant digits, as MongoDB converts it). */
export function decimalOf(v: unknown): { c: bigint; e: number; finite: boolean; isZero: boolean } {
  const d = decOf(v);
  if (typeof d === 'number') return { c: 0n, e: 0, finite: false, isZero: false };
  return { ...d, finite: true, isZero: d.c === 0n };
}

/** A numeric value as a Decimal128, as MongoDB converts it ($toDecimal, arithmetic). */
export function toDecimal128(v: unknown): Decimal128 {
  return decValue(decOf(v));
}

/**
 * a ÷ b as a Decimal128 (IEEE 754 decimal division, as MongoDB's $divide with a Decimal128
 * operand): rounded half to even to 34 digits; an exact quotient takes the exponent closest to
 * the preferred one (a's exponent − b's). b must not be zero.
 */
export function decimalDivide(a: unknown, b: unknown): Decimal128 {
  const x = decOf(a);
  const y = decOf(b);
  if (typeof x === 'number' || typeof y === 'number') {
    const fx = typeof x === 'number' ? x : Number(`${x.c}e${x.e}`);
    const fy = typeof y === 'number' ? y : Number(`${y.c}e${y.e}`);
    const r = fx / fy;
    return Number.isFinite(r) ? Decimal128.fromString(r === 0 ? (Object.is(r, -0) ? '-0' : '0') : String(r)) : decValue(r);
  }
  const neg = x.c < 0n !== y.c < 0n;
  const ax = x.c < 0n ? -x.c : x.c;
  const ay = y.c < 0n ? -y.c : y.c;
  const preferred = x.e - y.e;
  const k = Math.max(0, 36 + ay.toString().length - ax.toString().length);
  const num = ax * 10n ** BigInt(k);
  let q = num / ay;
  const r = num % ay;
  let e = preferred - k;
  if (r === 0n) {
    while (e < preferred && q % 10n === 0n) {
      q /= 10n;
      e++;
    }
  } else {
    q = q * 10n + 1n; // sticky digit: the quotient is above q, below q + 1
    e--;
  }
  if (q === 0n) return Decimal128.fromString(`${neg ? '-' : ''}0E${preferred >= 0 ? '+' : ''}${preferred}`);
  return decValue({ c: neg ? -q : q, e });
}

/** Whether a numeric value is a BSON double (a JS number outside int32, or a Double). */
export function isDoubleValue(x: unknown): boolean {
  return (typeof x === 'number' && !isAmbiguousDouble(x)) || bsonType(x) === 'Double';
}

/** a + b or a × b with MongoDB's numeric type rules (both numeric). */
export function numArith(op: 'add' | 'mul', a: unknown, b: unknown): unknown {
  if (bsonType(a) === 'Decimal128' || bsonType(b) === 'Decimal128') return decArith(op, a, b);
  // anything with a double is a double (kept a double when its value is integral)
  if (isDoubleValue(a) || isDoubleValue(b)) return asDouble(op === 'add' ? toNumber(a) + toNumber(b) : toNumber(a) * toNumber(b));
  if (bsonType(a) === 'Long' || bsonType(b) === 'Long') {
    const x = bsonType(a) === 'Long' ? (a as Long) : Long.fromNumber(toNumber(a));
    const y = bsonType(b) === 'Long' ? (b as Long) : Long.fromNumber(toNumber(b));
    return op === 'add' ? x.add(y) : x.multiply(y);
  }
  // int32 op int32 that leaves the int32 range is a Long in MongoDB (not a double)
  const r = op === 'add' ? (a as number) + (b as number) : (a as number) * (b as number);
  if (isInt32Num(r)) return r;
  return Long.fromBigInt(op === 'add' ? BigInt(a as number) + BigInt(b as number) : BigInt(a as number) * BigInt(b as number));
}

/** The BSON type number a value is stored as (a JS number: int32 when integral and in range). */
export function bsonTypeCode(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (v === null) return 10;
  switch (typeof v) {
    case 'number':
      return isAmbiguousDouble(v) ? 16 : 1; // as serialize stores it (-0 is a double)
    case 'bigint':
      return 18;
    case 'string':
      return 2;
    case 'boolean':
      return 8;
  }
  if (Array.isArray(v)) return 4;
  if (v instanceof Date) return 9;
  if (v instanceof RegExp) return 11;
  if (v instanceof Uint8Array) return 5;
  switch (bsonType(v)) {
    case 'Double':
      return 1;
    case 'Binary':
      return 5;
    case 'ObjectId':
      return 7;
    case 'BSONRegExp':
      return 11;
    case 'DBPointer':
      return 12;
    case 'Code':
      return (v as { scope?: unknown }).scope ? 15 : 13;
    case 'BSONSymbol':
      return 14;
    case 'Int32':
      return 16;
    case 'Timestamp':
      return 17;
    case 'Long':
      return 18;
    case 'Decimal128':
      return 19;
    case 'MinKey':
      return -1;
    case 'MaxKey':
      return 127;
  }
  return 3;
}
