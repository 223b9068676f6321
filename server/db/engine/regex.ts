// MongoDB regular expressions (PCRE2, options i m s u x) run as JavaScript RegExps. A pattern is
// translated construct by construct into an equivalent JS pattern (compiled with the `u` flag, so
// it works on code points as PCRE's UTF mode does): `.`, `^`, `$`, `\s`, `\v`, `\h`, `\A`, `\z`,
// `\Z` get PCRE's meaning (newline = LF only; `$` also before a final newline), the `x` option's
// whitespace and comments are removed, `m` and `s` are rewritten into the pattern. Anything
// JavaScript cannot express exactly (possessive quantifiers, atomic groups, inline options,
// recursion, \Q…\E, \p{…}, POSIX classes, …) is refused (72) rather than matched differently.
import { BSONRegExp } from 'bson';
import { err } from './errors.ts';
import { bsonType } from './bsonutil.ts';

/** The BSON regex a compiled RegExp stands for (pattern and alphabetised options). */
const ORIGIN = new WeakMap<RegExp, { pattern: string; options: string }>();

/**
 * A regex condition of a filter: the JS RegExp that matches strings as PCRE would, and the BSON
 * regex it came from (a stored regex value with the same pattern and options also matches).
 * A class instance, so mingo's cloning of a filter keeps it as it is.
 */
export class CompiledRegex {
  constructor(
    readonly re: RegExp,
    readonly pattern: string,
    readonly options: string,
  ) {}

  /** A stored value the condition matches: a string it matches, or the same regex. */
  matches(v: unknown): boolean {
    if (typeof v === 'string') return this.re.test(v);
    if (bsonType(v) === 'BSONRegExp') return (v as BSONRegExp).pattern === this.pattern && sortedOptions((v as BSONRegExp).options) === this.options;
    if (v instanceof RegExp) return v.source === this.pattern && sortedOptions(v.flags) === this.options;
    return false;
  }
}

const sortedOptions = (s: string) => [...new Set(s)].sort().join('');

function condition(re: RegExp): CompiledRegex {
  const o = ORIGIN.get(re)!;
  return new CompiledRegex(re, o.pattern, o.options);
}

const PCRE_SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r', '\u0085', '\u200e', '\u200f', '\u2028', '\u2029']);
const S_CHARS = '\\t\\n\\v\\f\\r ';
const V_CHARS = '\\n\\v\\f\\r\\u0085\\u2028\\u2029';
const H_CHARS = '\\t \\u00a0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000';
const SYNTAX = new Set([...'^$\\.*+?()[]{}|/']);
const START = '(?<![\\s\\S])';
const END = '(?![\\s\\S])';

function unsupported(what: string): Error {
  return err('InvalidOptions', `regular expression ${what} is not supported by the embedded engine`);
}

function invalid(pattern: string, why: string): Error {
  return err('Location51091', `Regular expression is invalid: ${why} (in /${pattern}/)`);
}

/** Checks MongoDB's regex options (i, m, s, u, x) and returns them alphabetised, without duplicates. */
export function checkOptions(options: string): string {
  for (const c of options) if (!'imsux'.includes(c)) throw err('Location51108', `invalid flag in regex options: ${c}`);
  return [...new Set(options)].sort().join('');
}

const literal = (c: string) => (SYNTAX.has(c) ? '\\' + c : c);
const classLiteral = (c: string) => ('\\]^-['.includes(c) ? '\\' + c : c);

/**
 * The escape at chars[i] (the character after the backslash) outside or inside a class:
 * [JS text, characters consumed, whether it is a class of characters rather than one].
 */
function escape(chars: string[], i: number, inClass: boolean, pattern: string): [string, number, boolean] {
  const e = chars[i];
  if (e === undefined) throw invalid(pattern, '\\ at end of pattern');
  switch (e) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
      return ['\\' + e, 1, true];
    case 's':
      return [inClass ? S_CHARS : `[${S_CHARS}]`, 1, true];
    case 'v':
      return [inClass ? V_CHARS : `[${V_CHARS}]`, 1, true];
    case 'h':
      return [inClass ? H_CHARS : `[${H_CHARS}]`, 1, true];
    case 'S':
    case 'V':
    case 'H':
      if (inClass) throw unsupported(`\\${e} inside a character class`);
      return [`[^${e === 'S' ? S_CHARS : e === 'V' ? V_CHARS : H_CHARS}]`, 1, true];
    case 'b':
      return [inClass ? '\\x08' : '\\b', 1, inClass ? false : true];
    case 'B':
      if (inClass) throw invalid(pattern, '\\B in a character class');
      return ['\\B', 1, true];
    case 'n':
    case 'r':
    case 't':
    case 'f':
      return ['\\' + e, 1, false];
    case 'a':
      return ['\\x07', 1, false];
    case 'e':
      return ['\\x1b', 1, false];
    case 'A':
    case 'z':
    case 'Z':
      if (inClass) throw unsupported(`\\${e} inside a character class`);
      return [e === 'A' ? START : e === 'z' ? END : `(?=\\n?${END})`, 1, true];
    case 'x': {
      if (chars[i + 1] === '{') {
        let j = i + 2;
        let hex = '';
        while (j < chars.length && /[0-9a-fA-F]/.test(chars[j])) hex += chars[j++];
        if (chars[j] !== '}' || !hex || parseInt(hex, 16) > 0x10ffff) throw invalid(pattern, 'bad \\x{…} escape');
        return [`\\u{${hex}}`, j - i + 1, false];
      }
      let hex = '';
      let j = i + 1;
      while (j < chars.length && hex.length < 2 && /[0-9a-fA-F]/.test(chars[j])) hex += chars[j++];
      return [`\\x${hex.padStart(2, '0')}`, j - i, false];
    }
    case 'c': {
      const c = chars[i + 1];
      if (c === undefined || !/[A-Za-z]/.test(c)) throw unsupported(`\\c${c ?? ''}`);
      return [`\\c${c}`, 2, false];
    }
  }
  if (/[1-9]/.test(e)) {
    if (inClass) throw unsupported('an octal escape in a character class');
    let j = i;
    let n = '';
    while (j < chars.length && /[0-9]/.test(chars[j])) n += chars[j++];
    return [`(?:\\${n})`, j - i, true]; // grouped: a following digit is not part of the number
  }
  if (e === '0') {
    if (/[0-7]/.test(chars[i + 1] ?? '')) throw unsupported('octal escapes');
    return ['\\x00', 1, false];
  }
  if (/[A-Za-z0-9]/.test(e)) throw unsupported(`escape \\${e}`);
  return [inClass ? classLiteral(e) : literal(e), 1, false];
}

/** A PCRE pattern with MongoDB's options → an equivalent JS RegExp (see the file comment). */
export function compileRegex(pattern: string, options: string): RegExp {
  const opts = checkOptions(options);
  const multi = opts.includes('m');
  const dotAll = opts.includes('s');
  const extended = opts.includes('x');
  const chars = [...pattern];
  let out = '';
  /** whether what was emitted last can take a quantifier */
  let quantifiable = false;
  let i = 0;
  const quantifierSuffix = () => {
    if (chars[i] === '+') throw unsupported('possessive quantifiers');
    if (chars[i] === '?') {
      out += '?';
      i++;
    }
  };
  while (i < chars.length) {
    const c = chars[i];
    if (extended && PCRE_SPACE.has(c)) {
      i++;
      continue;
    }
    if (extended && c === '#') {
      while (i < chars.length && chars[i] !== '\n') i++;
      continue;
    }
    switch (c) {
      case '\\': {
        const [js, n] = escape(chars, i + 1, false, pattern);
        if (chars[i + 1] === 'Q' || chars[i + 1] === 'E') throw unsupported('\\Q…\\E');
        out += js;
        i += 1 + n;
        quantifiable = !['A', 'z', 'Z', 'b', 'B'].includes(chars[i - n]);
        continue;
      }
      case '.':
        out += dotAll ? '[\\s\\S]' : '[^\\n]';
        quantifiable = true;
        i++;
        continue;
      case '^':
        out += multi ? `(?:${START}|(?<=\\n)(?=[\\s\\S]))` : START;
        quantifiable = false;
        i++;
        continue;
      case '$':
        out += multi ? `(?=\\n|${END})` : `(?=\\n?${END})`;
        quantifiable = false;
        i++;
        continue;
      case '(': {
        const rest = chars.slice(i + 1, i + 4).join('');
        if (rest.startsWith('?#')) {
          const close = chars.indexOf(')', i);
          if (close < 0) throw invalid(pattern, 'missing ) after (?# comment');
          i = close + 1;
          continue;
        }
        let open: string;
        let skip: number;
        if (rest.startsWith('?:') || rest.startsWith('?=') || rest.startsWith('?!')) [open, skip] = ['(' + rest.slice(0, 2), 3];
        else if (rest.startsWith('?<=') || rest.startsWith('?<!')) [open, skip] = ['(' + rest, 4];
        else if (rest.startsWith('?<') || rest.startsWith('?P<')) [open, skip] = ['(?<', rest.startsWith('?P<') ? 4 : 3];
        else if (rest.startsWith("?'")) {
          const close = chars.indexOf("'", i + 3);
          if (close < 0) throw invalid(pattern, 'bad group name');
          out += `(?<${chars.slice(i + 3, close).join('')}>`;
          i = close + 1;
          quantifiable = false;
          continue;
        } else if (rest.startsWith('?') || rest.startsWith('*')) throw unsupported(`group (${rest.slice(0, 2)}…`);
        else [open, skip] = ['(', 1];
        out += open;
        i += skip;
        quantifiable = false;
        continue;
      }
      case ')':
        out += ')';
        quantifiable = true;
        i++;
        continue;
      case '|':
        out += '|';
        quantifiable = false;
        i++;
        continue;
      case '*':
      case '+':
      case '?':
        if (!quantifiable) throw invalid(pattern, 'quantifier does not follow a repeatable item');
        out += c;
        i++;
        quantifierSuffix();
        quantifiable = false;
        continue;
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(chars.slice(i, i + 24).join(''));
        if (m && quantifiable) {
          out += m[0];
          i += m[0].length;
          quantifierSuffix();
          quantifiable = false;
        } else {
          out += '\\{';
          i++;
          quantifiable = true;
        }
        continue;
      }
      case '[': {
        const [js, next] = charClass(chars, i, pattern);
        out += js;
        i = next;
        quantifiable = true;
        continue;
      }
      default:
        out += literal(c);
        quantifiable = true;
        i++;
    }
  }
  let re: RegExp;
  try {
    re = new RegExp(out, opts.includes('i') ? 'iu' : 'u');
  } catch (e) {
    throw invalid(pattern, (e as Error).message);
  }
  ORIGIN.set(re, { pattern, options: opts });
  return re;
}

/** The class starting at chars[start] ('['): [JS class, index after its ']']. */
function charClass(chars: string[], start: number, pattern: string): [string, number] {
  let i = start + 1;
  let out = '[';
  if (chars[i] === '^') {
    out += '^';
    i++;
  }
  if (chars[i] === '[' && chars[i + 1] === ':') throw unsupported('POSIX character classes');
  let first = true;
  /** the previous item was one character (a range may follow) */
  let prevChar = false;
  while (i < chars.length) {
    const c = chars[i];
    if (c === ']' && !first) return [out + ']', i + 1];
    first = false;
    if (c === '[' && (chars[i + 1] === ':' || chars[i + 1] === '.' || chars[i + 1] === '=')) throw unsupported('POSIX character classes');
    if (c === '\\') {
      const [js, n, isClass] = escape(chars, i + 1, true, pattern);
      if (chars[i + 1] === 'Q' || chars[i + 1] === 'E') throw unsupported('\\Q…\\E');
      out += js;
      i += 1 + n;
      prevChar = !isClass;
      continue;
    }
    if (c === '-') {
      const next = chars[i + 1];
      const rangeEnd = next !== undefined && next !== ']' && !(next === '\\' && /[dDwWsSvVhH]/.test(chars[i + 2] ?? ''));
      if (prevChar && rangeEnd) {
        out += '-';
        prevChar = false;
        i++;
        // the range's end
        if (next === '\\') {
          const [js, n] = escape(chars, i + 1, true, pattern);
          out += js;
          i += 1 + n;
        } else {
          if (next === '[' && chars[i + 1] === ':') throw unsupported('POSIX character classes');
          out += classLiteral(next);
          i++;
        }
        continue;
      }
      out += '\\-';
      prevChar = false;
      i++;
      continue;
    }
    out += classLiteral(c);
    prevChar = true;
    i++;
  }
  throw invalid(pattern, 'missing terminating ] for character class');
}

/** A JS RegExp or BSON regex value → the compiled RegExp with MongoDB's meaning; null for anything else. */
export function regexOf(v: unknown, extraOptions = ''): RegExp | null {
  if (bsonType(v) === 'BSONRegExp') return compileRegex((v as BSONRegExp).pattern, (v as BSONRegExp).options + extraOptions);
  if (v instanceof RegExp) {
    if (ORIGIN.has(v) && !extraOptions) return v;
    // a JS RegExp built inside the engine: its flags in MongoDB's letters
    const o = ORIGIN.get(v);
    if (o) return compileRegex(o.pattern, o.options + extraOptions);
    return compileRegex(v.source, [...v.flags].filter((f) => 'imsx'.includes(f)).join('') + extraOptions);
  }
  return null;
}

const isRegexValue = (v: unknown) => v instanceof RegExp || bsonType(v) === 'BSONRegExp';

/** The engine's private query operator for a compiled regex (mingo would rebuild a `$regex`). */
export const REGEX_OP = '$__engineRegex';

const isObj = (v: unknown): v is Record<string, any> => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** {$regex, $options} → the compiled RegExp (code 51075 when both carry options, 51074 / 51091 as MongoDB). */
function regexCondition(v: Record<string, any>): RegExp {
  const r = v.$regex;
  const o = v.$options;
  if (o !== undefined && typeof o !== 'string') throw err('BadValue', '$options has to be a string');
  if (typeof r === 'string') return compileRegex(r, o ?? '');
  if (isRegexValue(r)) {
    const own = bsonType(r) === 'BSONRegExp' ? (r as BSONRegExp).options : (r as RegExp).flags;
    if (o && own) throw err('Location51075', 'options set on the $regex regular expression and in $options');
    return regexOf(r, o ?? '')!;
  }
  throw err('BadValue', '$regex has to be a string');
}

/** One field condition with its regexes compiled (the same object when it holds none). */
function convertCondition(v: unknown): unknown {
  if (isRegexValue(v)) return { [REGEX_OP]: condition(regexOf(v)!) };
  if (!isObj(v)) return v;
  const keys = Object.keys(v);
  if (!keys.some((k) => k.startsWith('$'))) return v; // a document: equality
  let out: Record<string, any> | null = null;
  const set = (k: string, x: unknown) => {
    out ??= { ...v };
    out[k] = x;
  };
  for (const k of keys) {
    const x = v[k];
    if (k === REGEX_OP) throw err('BadValue', `unknown operator: ${k}`);
    if (k === '$regex') {
      out ??= { ...v };
      delete out.$regex;
      delete out.$options;
      out[REGEX_OP] = condition(regexCondition(v));
    } else if (k === '$options') {
      if (!('$regex' in v)) throw err('BadValue', '$options needs a $regex');
    } else if (k === '$not') {
      const c = convertCondition(x);
      if (c !== x) set(k, c);
    } else if ((k === '$in' || k === '$nin' || k === '$all') && Array.isArray(x)) {
      const m = x.map((el) => (isRegexValue(el) ? condition(regexOf(el)!) : k === '$all' && isObj(el) && isObj(el.$elemMatch) ? { $elemMatch: convertElemMatch(el.$elemMatch) } : el));
      if (m.some((el, i) => el !== x[i])) set(k, m);
    } else if (k === '$elemMatch' && isObj(x)) {
      const c = convertElemMatch(x);
      if (c !== x) set(k, c);
    }
  }
  return out ?? v;
}

function convertElemMatch(v: Record<string, any>): Record<string, any> {
  const keys = Object.keys(v);
  if (keys.length && keys.every((k) => k.startsWith('$') && k !== '$and' && k !== '$or' && k !== '$nor' && k !== '$expr' && k !== '$where')) {
    return convertCondition(v) as Record<string, any>;
  }
  return convertFilterRegexes(v);
}

/** A filter with every regex compiled for matching (see REGEX_OP); the same object when it has none. */
export function convertFilterRegexes(filter: Record<string, any>): Record<string, any> {
  let out: Record<string, any> | null = null;
  for (const k of Object.keys(filter)) {
    const v = filter[k];
    let c: unknown = v;
    if ((k === '$and' || k === '$or' || k === '$nor') && Array.isArray(v)) {
      const m = v.map((sub) => (isObj(sub) ? convertFilterRegexes(sub) : sub));
      if (m.some((x, i) => x !== v[i])) c = m;
    } else if (k === '$expr') c = convertExprRegexes(v);
    else if (!k.startsWith('$')) c = convertCondition(v);
    if (c !== v) {
      if (!out) {
        out = {};
        for (const kk of Object.keys(filter)) Object.defineProperty(out, kk, { value: filter[kk], enumerable: true, writable: true, configurable: true });
      }
      Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
    }
  }
  return out ?? filter;
}

const REGEX_EXPRS = new Set(['$regexMatch', '$regexFind', '$regexFindAll']);

/**
 * An expression with the `regex` of $regexMatch / $regexFind / $regexFindAll compiled (a BSON
 * regex or a pattern string, with `options` folded in); the same object when there is none.
 */
export function convertExprRegexes(v: unknown): unknown {
  if (Array.isArray(v)) {
    const m = v.map(convertExprRegexes);
    return m.some((x, i) => x !== v[i]) ? m : v;
  }
  if (!isObj(v)) return v;
  let out: Record<string, any> | null = null;
  for (const k of Object.keys(v)) {
    const x = v[k];
    let c: unknown;
    if (k === '$literal') c = x;
    else if (REGEX_EXPRS.has(k) && isObj(x) && (typeof x.regex === 'string' || isRegexValue(x.regex))) {
      const o = x.options;
      if (o !== undefined && typeof o !== 'string') throw err('Location51106', `${k} needs 'options' to be of type string`);
      let re: RegExp;
      if (typeof x.regex === 'string') re = compileRegex(x.regex, o ?? '');
      else {
        const own = bsonType(x.regex) === 'BSONRegExp' ? (x.regex as BSONRegExp).options : (x.regex as RegExp).flags;
        if (o && own) throw err('Location51107', `${k}: found regex option(s) specified in both 'regex' and 'option' fields`);
        re = regexOf(x.regex, o ?? '')!;
      }
      const { options: _o, ...rest } = x;
      c = { ...(convertExprRegexes(rest) as object), regex: condition(re) }; // a class instance: mingo does not clone it
    } else c = convertExprRegexes(x);
    if (c !== x) (out ??= { ...v })[k] = c;
  }
  return out ?? v;
}

// ---- $regexMatch / $regexFind / $regexFindAll ------------------------------------------------
// (mingo's restart each search on a substring, which moves `^`, `\b` and lookbehinds, counts idx
// in UTF-16 units and loops forever on an empty match; these search the whole input, count code
// points, and refuse an empty match in $regexFindAll rather than guess where MongoDB resumes.)

type ExprFn = (obj: Record<string, any>, expr: unknown, options: any) => unknown;

function typeLabel(v: unknown): string {
  return v === null ? 'null' : v === undefined ? 'missing' : Array.isArray(v) ? 'array' : typeof v === 'object' ? (bsonType(v) ?? 'object') : typeof v;
}

/** The code point index of the UTF-16 offset `i` in `s`. */
function codePoints(s: string, i: number): number {
  let n = 0;
  for (let j = 0; j < i; j++) {
    const c = s.charCodeAt(j);
    if (c < 0xd800 || c > 0xdbff || j + 1 >= i) n++;
    else {
      n++;
      j++;
    }
  }
  return n;
}

function regexExpr(name: string, mode: 'match' | 'find' | 'all', evalExpr: ExprFn): ExprFn {
  return (obj, expr, options) => {
    if (!isObj(expr)) throw err('Location51103', `${name} expects an object of named arguments but found: ${typeLabel(expr)}`);
    for (const k of Object.keys(expr)) if (!['input', 'regex', 'options'].includes(k)) throw err('Location31024', `${name} found an unknown argument: ${k}`);
    const input = evalExpr(obj, expr.input, options);
    const regex = expr.regex instanceof CompiledRegex ? expr.regex : evalExpr(obj, expr.regex, options);
    const opts = expr.options === undefined ? undefined : evalExpr(obj, expr.options, options);
    if (opts !== undefined && opts !== null && typeof opts !== 'string') throw err('Location51106', `${name} needs 'options' to be of type string`);
    const none = mode === 'match' ? false : mode === 'find' ? null : [];
    if (input === null || input === undefined) return none;
    if (typeof input !== 'string') throw err('Location51104', `${name} needs 'input' to be of type string`);
    if (regex === null || regex === undefined) return none;
    let re: RegExp;
    if (regex instanceof CompiledRegex) re = opts ? compileRegex(regex.pattern, regex.options + opts) : regex.re;
    else if (regex instanceof RegExp) re = regexOf(regex, typeof opts === 'string' ? opts : '')!;
    else if (typeof regex === 'string') re = compileRegex(regex, typeof opts === 'string' ? opts : '');
    else if (bsonType(regex) === 'BSONRegExp') {
      if (opts && (regex as BSONRegExp).options) throw err('Location51107', `${name}: found regex option(s) specified in both 'regex' and 'option' fields`);
      re = regexOf(regex, typeof opts === 'string' ? opts : '')!;
    } else throw err('Location51105', `${name} needs 'regex' to be of type string or regex`);
    const g = new RegExp(re.source, re.flags + 'g');
    const out: { match: string; idx: number; captures: (string | null)[] }[] = [];
    for (;;) {
      const m = g.exec(input);
      if (!m) break;
      if (mode === 'match') return true;
      out.push({ match: m[0], idx: codePoints(input, m.index), captures: m.slice(1).map((x) => x ?? null) });
      if (mode === 'find') break;
      if (m[0] === '') throw err('InvalidOptions', `${name} with a regex that matches the empty string is not supported by the embedded engine`);
    }
    if (mode === 'match') return false;
    if (mode === 'find') return out[0] ?? null;
    return out;
  };
}

/** The engine's regex expression operators (evalExpr: mingo's evaluator). */
export function regexExpressions(evalExpr: ExprFn): Record<string, ExprFn> {
  return {
    $regexMatch: regexExpr('$regexMatch', 'match', evalExpr),
    $regexFind: regexExpr('$regexFind', 'find', evalExpr),
    $regexFindAll: regexExpr('$regexFindAll', 'all', evalExpr),
  };
}
