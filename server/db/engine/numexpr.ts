// Aggregation expression operators over MongoDB's numeric types (int32, double, Long, Decimal128),
// with MongoDB's type rules, in place of mingo's (which know JS numbers only): $divide, $mod,
// $abs, $ceil, $floor, $round, $trunc, $sqrt, $exp, $ln, $log, $log10, $pow, the conversions
// ($toInt, $toLong, $toDouble, $toDecimal, $toBool, $toString, $convert), $isNumber, $type and
// $in. The other mingo operators that take numbers or values (trigonometry, $bit*, sets, array
// indexes, substrings, dates) are guarded: a Long, Decimal128 or integral-double operand is
// refused (72) with the operator's name instead of being computed differently.
import { evalExpr } from 'mingo/core';
import { Decimal128, Double, Long } from 'bson';
import { asDouble, bsonType, bsonTypeCode, compareValues, decimalDivide, decimalOf, isDoubleValue, isNumeric, toDecimal128, toNumber, typeRank, type Doc } from './bsonutil.ts';
import { err } from './errors.ts';

type Opts = any;
type ExprOp = (obj: Doc, expr: unknown, options: Opts) => unknown;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX && !Object.is(v, -0);
const isLong = (v: unknown): v is Long => bsonType(v) === 'Long';
const isDec = (v: unknown): v is Decimal128 => bsonType(v) === 'Decimal128';
const nullish = (v: unknown) => v === null || v === undefined;

function typeName(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  return TYPE_NAMES[bsonTypeCode(v)!] ?? 'object';
}

const TYPE_NAMES: Record<number, string> = {
  1: 'double', 2: 'string', 3: 'object', 4: 'array', 5: 'binData', 6: 'undefined', 7: 'objectId', 8: 'bool', 9: 'date', 10: 'null',
  11: 'regex', 12: 'dbPointer', 13: 'javascript', 14: 'symbol', 15: 'javascriptWithScope', 16: 'int', 17: 'timestamp', 18: 'long',
  19: 'decimal', [-1]: 'minKey', 127: 'maxKey',
};

/** The evaluated operands of an operator taking `n` arguments (an array, or one value for n = 1). */
function args(name: string, obj: Doc, expr: unknown, options: Opts, n: number): unknown[] {
  const list = Array.isArray(expr) ? expr : [expr];
  if (list.length !== n) throw err('Location16020', `Expression ${name} takes exactly ${n} arguments. ${list.length} were passed in.`);
  return list.map((e) => evalExpr(obj, e, options));
}

function needNumbers(name: string, code: 'Location16609' | 'Location16611' | 'Location28765', vals: unknown[]): void {
  for (const v of vals) if (!isNumeric(v)) throw err(code, `${name} only supports numeric types, not ${vals.map(typeName).join(' and ')}`);
}

/** BigInt of an integral int32 / Long. */
const big = (v: unknown): bigint => (isLong(v) ? BigInt(v.toString()) : BigInt(v as number));
const longOrInt = (b: bigint, asLong: boolean): unknown => (!asLong && b >= BigInt(INT32_MIN) && b <= BigInt(INT32_MAX) ? Number(b) : Long.fromBigInt(BigInt.asIntN(64, b)));

function unsupported(name: string, v: unknown): Error {
  return err('InvalidOptions', `${name} of a ${typeName(v)} value is not supported by the embedded engine`);
}

// ---- arithmetic -------------------------------------------------------------------------------

const $divide: ExprOp = (obj, expr, options) => {
  const [a, b] = args('$divide', obj, expr, options, 2);
  if (nullish(a) || nullish(b)) return null;
  needNumbers('$divide', 'Location16609', [a, b]);
  if (isDec(a) || isDec(b)) {
    if (decimalOf(b).isZero) throw err('Location16608', "can't $divide by zero");
    return decimalDivide(a, b);
  }
  const y = toNumber(b);
  if (y === 0) throw err('Location16608', "can't $divide by zero");
  return asDouble(toNumber(a) / y);
};

const $mod: ExprOp = (obj, expr, options) => {
  const [a, b] = args('$mod', obj, expr, options, 2);
  if (nullish(a) || nullish(b)) return null;
  needNumbers('$mod', 'Location16611', [a, b]);
  if (isDec(a) || isDec(b)) throw unsupported('$mod', isDec(a) ? a : b);
  if (isDoubleValue(a) || isDoubleValue(b)) {
    const y = toNumber(b);
    if (y === 0) throw err('Location16610', "can't $mod by zero");
    return asDouble(toNumber(a) % y); // fmod: the sign of the dividend
  }
  const y = big(b);
  if (y === 0n) throw err('Location16610', "can't $mod by zero");
  return longOrInt(big(a) % y, isLong(a) || isLong(b));
};

function unary(name: string, fn: (v: unknown) => unknown): ExprOp {
  return (obj, expr, options) => {
    const [v] = args(name, obj, expr, options, 1);
    if (nullish(v)) return null;
    if (!isNumeric(v)) throw err('Location28765', `${name} only supports numeric types, not ${typeName(v)}`);
    return fn(v);
  };
}

/** Operators whose result is a double computed from the operand as a double; Decimal128 refused. */
function doubleUnary(name: string, f: (x: number) => number, check?: (x: number) => void): ExprOp {
  return unary(name, (v) => {
    if (isDec(v)) throw unsupported(name, v);
    const x = toNumber(v);
    check?.(x);
    return asDouble(f(x));
  });
}

const $abs = unary('$abs', (v) => {
  if (isDec(v)) return v.toString().startsWith('-') ? Decimal128.fromString(v.toString().slice(1)) : v;
  if (isLong(v)) {
    const b = big(v);
    if (b === -(2n ** 63n)) throw err('Location28680', "can't take $abs of long long min");
    return Long.fromBigInt(b < 0n ? -b : b);
  }
  if (isInt(v)) return v === INT32_MIN ? Long.fromNumber(2 ** 31) : Math.abs(v);
  return asDouble(Math.abs(toNumber(v)));
});

function integral(name: string, f: (x: number) => number): ExprOp {
  return unary(name, (v) => {
    if (isDec(v)) throw unsupported(name, v);
    if (isLong(v) || isInt(v)) return v;
    return asDouble(f(toNumber(v)));
  });
}

// ---- $round / $trunc --------------------------------------------------------------------------

/** The exact decimal expansion of a finite double: digits × 10^exp. */
function exactDecimal(x: number): { c: bigint; e: number } {
  if (x === 0) return { c: 0n, e: 0 };
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  const neg = bits >> 63n === 1n;
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e2: number;
  if (expBits === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = expBits - 1075;
  }
  let c: bigint;
  let e: number;
  if (e2 >= 0) {
    c = mant << BigInt(e2);
    e = 0;
  } else {
    c = mant * 5n ** BigInt(-e2);
    e = e2;
  }
  return { c: neg ? -c : c, e };
}

/** c × 10^e rounded to a multiple of 10^exp (half to even, or toward zero). */
function quantize(c: bigint, e: number, exp: number, mode: 'even' | 'trunc'): { c: bigint; e: number } {
  if (e >= exp) return { c, e };
  const d = 10n ** BigInt(exp - e);
  let q = c / d; // toward zero
  const r = c % d;
  if (mode === 'even' && r !== 0n) {
    const twice = 2n * (r < 0n ? -r : r);
    if (twice > d || (twice === d && q % 2n !== 0n)) q += c < 0n ? -1n : 1n;
  }
  return { c: q, e: exp };
}

/** Rounded to 34 significant digits (half to even), as MongoDB converts a double for $round. */
function to34Digits(v: { c: bigint; e: number }): { c: bigint; e: number } {
  const digits = (v.c < 0n ? -v.c : v.c).toString().length;
  return digits > 34 ? quantize(v.c, v.e, v.e + digits - 34, 'even') : v;
}

function roundOrTrunc(name: '$round' | '$trunc', mode: 'even' | 'trunc'): ExprOp {
  return (obj, expr, options) => {
    const list = Array.isArray(expr) ? expr : [expr];
    if (list.length < 1 || list.length > 2) throw err('Location16020', `Expression ${name} takes at least 1 argument, and at most 2.`);
    const v = evalExpr(obj, list[0], options);
    const p = list.length > 1 ? evalExpr(obj, list[1], options) : 0;
    if (nullish(v) || nullish(p)) return null;
    if (!isNumeric(v)) throw err('Location51081', `${name} only supports numeric types, not ${typeName(v)}`);
    if (!isNumeric(p) || !Number.isInteger(toNumber(p))) throw err('Location51082', `precision argument to ${name} must be a integral value`);
    const place = toNumber(p);
    if (place < -20 || place > 100) throw err('Location51083', `cannot apply ${name} with precision value ${place} value must be in [-20, 100]`);
    if (isDec(v)) throw unsupported(name, v);
    if (isInt(v) || isLong(v)) {
      if (place >= 0) return v;
      const q = quantize(big(v), 0, -place, mode);
      const r = q.c * 10n ** BigInt(q.e);
      if (isLong(v) && (r > 2n ** 63n - 1n || r < -(2n ** 63n))) throw err('Location51080', `invalid conversion from Decimal128 result in ${name} resulting from arguments: [${v.toString()}, ${place}]`);
      return longOrInt(r, isLong(v));
    }
    const x = toNumber(v);
    if (!Number.isFinite(x)) return asDouble(x);
    const d = to34Digits(exactDecimal(x));
    const q = quantize(d.c, d.e, -place, mode);
    const r = Number(`${q.c}e${q.e}`);
    return asDouble(Object.is(r, 0) && x < 0 ? -0 : r);
  };
}

// ---- conversions ------------------------------------------------------------------------------

const CONVERSION_FAILURE = 'ConversionFailure';

function conversionError(msg: string): Error {
  return err(CONVERSION_FAILURE, msg);
}

const TO_ALIASES: Record<string, string> = { double: 'double', string: 'string', objectId: 'objectId', bool: 'bool', date: 'date', int: 'int', long: 'long', decimal: 'decimal' };
const TO_CODES: Record<number, string> = { 1: 'double', 2: 'string', 7: 'objectId', 8: 'bool', 9: 'date', 16: 'int', 18: 'long', 19: 'decimal' };

function parseIntegral(s: string, target: 'int' | 'long'): bigint {
  if (!/^[+-]?\d+$/.test(s)) throw conversionError(`Failed to parse number '${s}' in $convert with no onError value: Did not consume whole string.`);
  const b = BigInt(s);
  const [lo, hi] = target === 'int' ? [BigInt(INT32_MIN), BigInt(INT32_MAX)] : [-(2n ** 63n), 2n ** 63n - 1n];
  if (b < lo || b > hi) throw conversionError(`Failed to parse number '${s}' in $convert with no onError value: Overflow`);
  return b;
}

/** v converted to one of the numeric / bool / string targets, as $convert does; undefined: not handled here. */
function convertTo(v: unknown, to: string): unknown {
  const dec = isDec(v);
  switch (to) {
    case 'int':
    case 'long': {
      const asLong = to === 'long';
      if (typeof v === 'boolean') return longOrInt(v ? 1n : 0n, asLong);
      if (typeof v === 'string') return longOrInt(parseIntegral(v, to), asLong);
      if (v instanceof Date) {
        if (!asLong) throw conversionError(`Unsupported conversion from date to int in $convert with no onError value`);
        return Long.fromNumber(v.getTime());
      }
      if (isInt(v) || isLong(v)) {
        const b = big(v);
        if (!asLong && (b < BigInt(INT32_MIN) || b > BigInt(INT32_MAX))) throw conversionError(`Conversion would overflow target type in $convert with no onError value: ${b}`);
        return longOrInt(b, asLong);
      }
      if (dec || isDoubleValue(v)) {
        let b: bigint;
        if (dec) {
          const d = decimalOf(v);
          if (!d.finite) throw conversionError(`Attempt to convert NaN or Infinity value to integer type in $convert with no onError value: ${v.toString()}`);
          b = quantize(d.c, d.e, 0, 'trunc').c;
        } else {
          const x = toNumber(v);
          if (!Number.isFinite(x)) throw conversionError(`Attempt to convert NaN or Infinity value to integer type in $convert with no onError value: ${x}`);
          b = BigInt(Math.trunc(x));
        }
        const [lo, hi] = asLong ? [-(2n ** 63n), 2n ** 63n - 1n] : [BigInt(INT32_MIN), BigInt(INT32_MAX)];
        if (b < lo || b > hi) throw conversionError(`Conversion would overflow target type in $convert with no onError value: ${String(v)}`);
        return longOrInt(b, asLong);
      }
      break;
    }
    case 'double': {
      if (typeof v === 'boolean') return new Double(v ? 1 : 0);
      if (v instanceof Date) return asDouble(v.getTime());
      if (typeof v === 'string') {
        const t = v.trim();
        if (t !== v || t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i.test(t)) throw conversionError(`Failed to parse number '${v}' in $convert with no onError value: Did not consume whole string.`);
        const n = /nan/i.test(t) ? NaN : /inf/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : Number(t);
        return asDouble(n);
      }
      if (dec) {
        const n = toNumber(v);
        if (!Number.isFinite(n) && decimalOf(v).finite) throw conversionError(`Conversion would overflow target type in $convert with no onError value: ${v.toString()}`);
        return asDouble(n);
      }
      if (isNumeric(v)) return asDouble(toNumber(v));
      break;
    }
    case 'decimal': {
      if (typeof v === 'boolean') return Decimal128.fromString(v ? '1' : '0');
      if (v instanceof Date) return Decimal128.fromString(String(v.getTime()));
      if (typeof v === 'string') {
        try {
          return Decimal128.fromString(v);
        } catch {
          throw conversionError(`Failed to parse number '${v}' in $convert with no onError value: Failed to parse string to decimal`);
        }
      }
      if (dec) return v;
      if (isNumeric(v)) return toDecimal128(v);
      break;
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (dec) return !decimalOf(v).isZero;
      if (isNumeric(v)) return toNumber(v) !== 0;
      return true; // every other non-null value is true
    case 'string':
      if (typeof v === 'string') return v;
      if (isLong(v) || dec) return String(v);
      if (isInt(v)) return String(v);
      // doubles: mingo's formatting for JS numbers; a Double (integral) is refused by conversion()
      if (typeof v === 'boolean') return String(v);
      break;
  }
  return undefined;
}

function targetName(to: unknown): string {
  if (typeof to === 'string') {
    if (TO_ALIASES[to]) return to;
    throw err('BadValue', `Unknown type name: ${to}`);
  }
  if (isNumeric(to) && TO_CODES[toNumber(to)]) return TO_CODES[toNumber(to)];
  throw err('FailedToParse', `$convert's 'to' argument must be a string or number, but is ${typeName(to)}`);
}

/** Whether mingo can convert `v` exactly (a plain JS value, no BSON number wrapper). */
const mingoSafe = (v: unknown) => !isLong(v) && !isDec(v) && bsonType(v) !== 'Double';

function conversion(name: string, to: string, mingoOp: ExprOp): ExprOp {
  return (obj, expr, options) => {
    const [v] = args(name, obj, expr, options, 1);
    if (nullish(v)) return null;
    const r = convertTo(v, to);
    if (r !== undefined) return r;
    if (mingoSafe(v)) return mingoOp(obj, expr, options);
    throw unsupported(name, v);
  };
}

function $convertOp(mingoConvert: ExprOp): ExprOp {
  return (obj, expr, options) => {
    if (expr === null || typeof expr !== 'object' || Array.isArray(expr)) throw err('FailedToParse', '$convert expects an object of named arguments but found: ' + typeName(expr));
    const spec = expr as Doc;
    for (const k of Object.keys(spec)) if (!['input', 'to', 'onError', 'onNull'].includes(k)) throw err('FailedToParse', `$convert found an unknown argument: ${k}`);
    if (!('input' in spec)) throw err('FailedToParse', "Missing 'input' parameter to $convert");
    if (!('to' in spec)) throw err('FailedToParse', "Missing 'to' parameter to $convert");
    const input = evalExpr(obj, spec.input, options);
    const to = evalExpr(obj, spec.to, options);
    if (nullish(to)) return null;
    if (nullish(input)) return 'onNull' in spec ? evalExpr(obj, spec.onNull, options) : null;
    const target = targetName(to);
    try {
      const r = convertTo(input, target);
      if (r !== undefined) return r;
      if (mingoSafe(input)) return mingoConvert(obj, expr, options);
      throw unsupported('$convert', input);
    } catch (e) {
      if ((e as { codeName?: string }).codeName === CONVERSION_FAILURE && 'onError' in spec) return evalExpr(obj, spec.onError, options);
      throw e;
    }
  };
}

// ---- value inspection -------------------------------------------------------------------------

const $isNumber: ExprOp = (obj, expr, options) => isNumeric(args('$isNumber', obj, expr, options, 1)[0]);

const $type: ExprOp = (obj, expr, options) => {
  const [v] = args('$type', obj, expr, options, 1);
  return v === undefined ? 'missing' : typeName(v);
};

/** $in with BSON equality (1, 1.0, Long(1) and Decimal128(1) are equal; regexes are values here). */
const $in: ExprOp = (obj, expr, options) => {
  const [v, list] = args('$in', obj, expr, options, 2);
  if (!Array.isArray(list)) throw err('Location40081', `$in requires an array as a second argument, found: ${typeName(list)}`);
  const x = v === undefined ? null : v;
  return list.some((el) => {
    const y = el === undefined ? null : el;
    return typeRank(x) === typeRank(y) && compareValues(x, y) === 0;
  });
};

// ---- the guard for the rest -------------------------------------------------------------------

/** A BSON number wrapper in a value (one level into arrays and documents). */
function wrapperIn(v: unknown, depth = 0): unknown {
  if (isLong(v) || isDec(v) || bsonType(v) === 'Double') return v;
  if (depth > 1 || v === null || typeof v !== 'object') return undefined;
  const items = Array.isArray(v) ? v : bsonType(v) || v instanceof Date ? [] : Object.values(v as Doc);
  for (const x of items) {
    const w = wrapperIn(x, depth + 1);
    if (w !== undefined) return w;
  }
  return undefined;
}

/**
 * mingo operators that evaluate all their operands and would mistake a Long / Decimal128 /
 * Double for something else (or compare them by JS rules): refused when one is met.
 */
export const GUARDED_EXPRESSIONS = [
  '$sin', '$cos', '$tan', '$asin', '$acos', '$atan', '$atan2', '$asinh', '$acosh', '$atanh', '$sinh', '$cosh', '$tanh',
  '$degreesToRadians', '$radiansToDegrees', '$bitAnd', '$bitOr', '$bitXor', '$bitNot', '$sigmoid',
  '$setEquals', '$setIntersection', '$setUnion', '$setDifference', '$setIsSubset', '$indexOfArray', '$arrayElemAt',
  '$slice', '$range', '$firstN', '$lastN', '$maxN', '$minN', '$substr', '$substrBytes', '$substrCP', '$indexOfBytes', '$indexOfCP',
  '$dateAdd', '$dateSubtract', '$toDate', '$dateFromParts', '$arrayToObject', '$zip', '$sortArray', '$median', '$percentile',
  '$concat', '$strcasecmp', '$toLower', '$toUpper', '$split', '$replaceOne', '$replaceAll',
];

function guarded(name: string, op: ExprOp): ExprOp {
  return (obj, expr, options) => {
    // an accumulator form ($firstN … over a group) gets the group's documents: not an operand list
    if (!Array.isArray(obj)) {
      const w = wrapperIn(evalExpr(obj, expr, options));
      if (w !== undefined) throw unsupported(name, w);
    }
    return op(obj, expr, options);
  };
}

/** The engine's numeric expression operators, and guarded versions of mingo's (from `mingoOps`). */
export function numericExpressions(mingoOps: Record<string, ExprOp>): Record<string, ExprOp> {
  const out: Record<string, ExprOp> = {
    $divide,
    $mod,
    $abs,
    $ceil: integral('$ceil', Math.ceil),
    $floor: integral('$floor', Math.floor),
    $round: roundOrTrunc('$round', 'even'),
    $trunc: roundOrTrunc('$trunc', 'trunc'),
    $sqrt: doubleUnary('$sqrt', Math.sqrt, (x) => {
      if (x < 0) throw err('Location28714', "$sqrt's argument must be greater than or equal to 0");
    }),
    $exp: doubleUnary('$exp', Math.exp),
    $ln: doubleUnary('$ln', Math.log, (x) => {
      if (!(x > 0)) throw err('Location28766', `$ln's argument must be a positive number, but is ${x}`);
    }),
    $log10: doubleUnary('$log10', Math.log10, (x) => {
      if (!(x > 0)) throw err('Location28761', `$log10's argument must be a positive number, but is ${x}`);
    }),
    $log: (obj, expr, options) => {
      const [a, b] = args('$log', obj, expr, options, 2);
      if (nullish(a) || nullish(b)) return null;
      needNumbers('$log', 'Location28765', [a, b]);
      if (isDec(a) || isDec(b)) throw unsupported('$log', isDec(a) ? a : b);
      const x = toNumber(a);
      const base = toNumber(b);
      if (!(x > 0)) throw err('Location28758', `$log's argument must be a positive number, but is ${x}`);
      if (!(base > 0) || base === 1) throw err('Location28759', `$log's base must be a positive number not equal to 1, but is ${base}`);
      return asDouble(Math.log(x) / Math.log(base));
    },
    $pow: (obj, expr, options) => {
      const [a, b] = args('$pow', obj, expr, options, 2);
      if (nullish(a) || nullish(b)) return null;
      needNumbers('$pow', 'Location28765', [a, b]);
      if (isDec(a) || isDec(b)) throw unsupported('$pow', isDec(a) ? a : b);
      if (toNumber(a) === 0 && toNumber(b) < 0) throw err('Location28764', '$pow cannot take a base of 0 and a negative exponent');
      if (isDoubleValue(a) || isDoubleValue(b)) return asDouble(toNumber(a) ** toNumber(b));
      // integers: an integral result stays int / long when it fits, as MongoDB
      const base = big(a);
      const e = big(b);
      if (e < 0n) return base === 1n ? longOrInt(1n, isLong(a) || isLong(b)) : base === -1n ? longOrInt(e % 2n === 0n ? 1n : -1n, isLong(a) || isLong(b)) : asDouble(toNumber(a) ** toNumber(b));
      if (e > 64n && base !== 0n && base !== 1n && base !== -1n) return asDouble(toNumber(a) ** toNumber(b));
      const r = base ** e;
      const asLong = isLong(a) || isLong(b);
      if (r >= BigInt(INT32_MIN) && r <= BigInt(INT32_MAX)) return longOrInt(r, asLong);
      if (r >= -(2n ** 63n) && r < 2n ** 63n) return Long.fromBigInt(r);
      return asDouble(toNumber(a) ** toNumber(b));
    },
    $toInt: conversion('$toInt', 'int', mingoOps.$toInt),
    $toLong: conversion('$toLong', 'long', mingoOps.$toLong),
    $toDouble: conversion('$toDouble', 'double', mingoOps.$toDouble),
    $toDecimal: conversion('$toDecimal', 'decimal', mingoOps.$toDecimal),
    $toBool: conversion('$toBool', 'bool', mingoOps.$toBool),
    $toString: conversion('$toString', 'string', mingoOps.$toString),
    $convert: $convertOp(mingoOps.$convert),
    $isNumber,
    $type,
    $in,
  };
  for (const name of GUARDED_EXPRESSIONS) if (mingoOps[name]) out[name] = guarded(name, mingoOps[name]);
  return out;
}
