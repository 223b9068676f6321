// Validation of return values (SPEC §3): whole numbers ≥ 0 and the "≤" rules.
// Pure: shared by the web form, the API and the Excel upload so that all three say the same thing.

import { AT_MOST_RULES, FIELD_KEYS, FIELD_LABELS, isFieldKey, type FieldKey, type ReturnValues } from './fields.ts';

export type NumberProblem = 'blank' | 'negative' | 'fraction' | 'not_number' | 'not_finite' | 'too_large' | 'bad_grouping';

export type ParsedNumber =
  | { ok: true; value: number }
  | {
      ok: false;
      problem: NumberProblem;
      /** The value as the user wrote it, ready to put in a message (text is quoted “…”). */
      shown: string;
      /** Chinese, without the field name: e.g. "-3 为负数，应填写不小于 0 的整数". */
      message: string;
    };

const HINT = '应填写不小于 0 的整数';

/** Full-width and look-alike characters people paste from Word, WPS or Chinese input methods. */
const CHAR_MAP: Record<string, string> = {
  '０': '0', '１': '1', '２': '2', '３': '3', '４': '4', '５': '5', '６': '6', '７': '7', '８': '8', '９': '9',
  '，': ',', '．': '.', '。': '.', '－': '-', '−': '-', '‐': '-', '‒': '-', '–': '-', '﹣': '-', '＋': '+',
  '（': '(', '）': ')',
};

// Whitespace of every kind: ordinary, tab, NBSP, ideographic space, thin / narrow spaces, zero-width.
const SPACES = /[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]/g;

/** Largest whole number accepted: Number.MAX_SAFE_INTEGER (above it a number can't be stored exactly). */
export const MAX_WHOLE = Number.MAX_SAFE_INTEGER;

function showText(s: string): string {
  const t = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return `“${t}”`;
}

function fail(problem: NumberProblem, shown0: string): ParsedNumber {
  let message: string;
  const shown = shown0.endsWith('”') ? shown0 : `${shown0} `;
  switch (problem) {
    case 'blank':
      message = `未填写，${HINT}（没有请填 0）`;
      break;
    case 'negative':
      message = `${shown}为负数，${HINT}`;
      break;
    case 'fraction':
      message = `${shown}不是整数，${HINT}`;
      break;
    case 'not_finite':
      message = `${shown}不是有效的数值，${HINT}`;
      break;
    case 'too_large':
      message = `${shown}超出允许的最大值 ${MAX_WHOLE}`;
      break;
    case 'bad_grouping':
      message = `${shown}的千位分隔符位置不正确，${HINT}（如 1,234）`;
      break;
    default:
      message = `${shown}不是数字，${HINT}（没有请填 0）`;
  }
  return { ok: false, problem, shown: shown0, message };
}

/**
 * Parses one value as a whole number ≥ 0.
 * Accepts numbers and numeric text: surrounding spaces, full-width digits (０-９), thousands separators
 * (1,234 / 1，234 / 1 234, correctly grouped), a trailing ".0"/".00" on text, and a leading "+".
 * Refuses negatives (also "(5)" accounting style), fractions, non-numeric text, NaN / Infinity,
 * values beyond Number.MAX_SAFE_INTEGER, booleans, dates and objects.
 *
 * A JS number that is within 15 significant digits of a whole number (what Excel shows, e.g. a
 * formula's cached 2.9999999999999996) counts as that whole number.
 */
export function parseWholeNumber(raw: unknown): ParsedNumber {
  if (raw === null || raw === undefined) return fail('blank', '');
  if (typeof raw === 'number') return parseNumber(raw);
  if (typeof raw === 'bigint') {
    if (raw < 0n) return fail('negative', raw.toString());
    if (raw > BigInt(MAX_WHOLE)) return fail('too_large', raw.toString());
    return { ok: true, value: Number(raw) };
  }
  if (typeof raw === 'string') return parseText(raw);
  if (typeof raw === 'boolean') return fail('not_number', raw ? 'TRUE' : 'FALSE');
  if (raw instanceof Date) {
    const shown = Number.isNaN(raw.getTime()) ? '日期' : `日期 ${raw.toISOString().slice(0, 10)}`;
    return fail('not_number', shown);
  }
  return fail('not_number', describe(raw));
}

/**
 * What a value that is neither number nor text was, for a message. Never calls the value's own
 * toString / valueOf: a JSON or form body can make those anything ({"toString": 1} made String() throw).
 */
function describe(raw: unknown): string {
  if (Array.isArray(raw)) return '列表';
  if (typeof raw === 'object') return '对象';
  if (typeof raw === 'function') return '函数';
  if (typeof raw === 'symbol') return '符号';
  return '该值';
}

/** A submitted value as a message quotes it: text and numbers as they are (text cut at 40), anything else by its kind. */
export function shownValue(raw: unknown): string {
  if (typeof raw === 'string') return raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  if (typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean' || raw === null || raw === undefined) return String(raw);
  return describe(raw);
}

/** A whole submitted form, to fill it in again after a refusal: every value through formValue. */
export function formValues(body: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.keys(body).map((k) => [k, formValue(body[k])]));
}

/** A submitted value as the web form shows it again after a refusal: text and numbers as they were, anything else blank. */
export function formValue(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'bigint') return String(raw);
  return '';
}

function parseNumber(n: number): ParsedNumber {
  if (Number.isNaN(n)) return fail('not_finite', 'NaN');
  if (!Number.isFinite(n)) return fail('not_finite', n > 0 ? 'Infinity' : '-Infinity');
  const shown = String(n);
  if (n < 0) {
    // -0 and -0.0000000000000001 (float noise) are 0; anything else below zero is negative.
    if (Number(n.toPrecision(15)) === 0) return { ok: true, value: 0 };
    return fail('negative', shown);
  }
  if (n > MAX_WHOLE) return fail('too_large', shown);
  if (Number.isInteger(n)) return { ok: true, value: n === 0 ? 0 : n };
  const rounded = Number(n.toPrecision(15));
  if (Number.isInteger(rounded) && rounded <= MAX_WHOLE) return { ok: true, value: rounded };
  return fail('fraction', shown);
}

function parseText(input: string): ParsedNumber {
  let s = '';
  for (const ch of input) s += CHAR_MAP[ch] ?? ch;
  const trimmed = s.replace(SPACES, ' ').trim();
  if (trimmed === '') return fail('blank', '');
  const shown = showText(input.trim());

  let t = trimmed;
  let negative = false;
  // Accounting negatives "(5)".
  const paren = /^\((.*)\)$/.exec(t);
  if (paren) {
    negative = true;
    t = paren[1]!.trim();
  }
  if (t.startsWith('-')) {
    negative = !negative;
    t = t.slice(1).trim();
  } else if (t.startsWith('+')) {
    t = t.slice(1).trim();
  }
  if (/^(nan)$/i.test(t)) return fail('not_finite', shown);
  if (/^(inf|infinity|∞)$/i.test(t)) return fail('not_finite', shown);

  // integer part (digits, optionally grouped by , or spaces) and an optional decimal part.
  const m = /^([0-9][0-9, ]*)?(?:\.([0-9]*))?$/.exec(t);
  if (!m || (m[1] === undefined && !m[2])) return fail('not_number', shown);
  const intPart = (m[1] ?? '0').trimEnd();
  const fracPart = m[2] ?? '';
  let digits: string;
  if (/[, ]/.test(intPart)) {
    // Every group after the first has exactly 3 digits; separators are single (", " counts as one).
    const groups = intPart.split(/ *, *| +/);
    if (!/^[0-9]{1,3}$/.test(groups[0]!) || groups.slice(1).some((g) => !/^[0-9]{3}$/.test(g))) {
      return fail('bad_grouping', shown);
    }
    digits = groups.join('');
  } else {
    digits = intPart;
  }
  const isZero = /^0*$/.test(digits) && /^0*$/.test(fracPart);
  if (negative && !isZero) return fail('negative', shown);
  if (/[1-9]/.test(fracPart)) return fail('fraction', shown);
  const stripped = digits.replace(/^0+(?=\d)/, '');
  if (stripped.length > 16 || (stripped.length === 16 && stripped > String(MAX_WHOLE))) {
    return fail('too_large', shown);
  }
  return { ok: true, value: Number(stripped) };
}

// ---- the ≤ rules ----

export interface AtMostViolation {
  field: FieldKey;
  bound: FieldKey;
  value: number;
  boundValue: number;
  /** e.g. "「已接入电子政务外网的系统数」12 大于「信息系统总数」10" */
  message: string;
}

export function atMostMessage(field: FieldKey, value: number, bound: FieldKey, boundValue: number): string {
  return `「${FIELD_LABELS[field]}」${value} 大于「${FIELD_LABELS[bound]}」${boundValue}`;
}

/** Checks every "≤" rule among the values present (a rule with a missing side is skipped). */
export function checkAtMostRules(values: Partial<Record<FieldKey, number>>): AtMostViolation[] {
  const out: AtMostViolation[] = [];
  for (const [field, bound] of AT_MOST_RULES) {
    const v = values[field];
    const b = values[bound];
    if (typeof v === 'number' && typeof b === 'number' && v > b) {
      out.push({ field, bound, value: v, boundValue: b, message: atMostMessage(field, v, bound, b) });
    }
  }
  return out;
}

// ---- a whole return (web form / API) ----

export interface FieldError {
  /** A field key, or "values" for a problem with the input as a whole. */
  field: string;
  message: string;
}

export type ValidationResult = { ok: true; values: ReturnValues } | { ok: false; errors: FieldError[] };

export interface ValidateOptions {
  /** Ignore keys that are not return fields (e.g. a form's _csrf). Default false: they are errors. */
  allowUnknown?: boolean;
}

/**
 * Validates the 11 values of one return: every key required, whole numbers ≥ 0 (numbers or numeric
 * text as {@link parseWholeNumber} accepts), and the ≤ rules. Lists every problem, in field order.
 */
export function validateReturnValues(input: unknown, options: ValidateOptions = {}): ValidationResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: [{ field: 'values', message: '填报数据应为由 11 项指标组成的对象' }] };
  }
  const record = input as Record<string, unknown>;
  const errors: FieldError[] = [];
  const values: Partial<Record<FieldKey, number>> = {};
  for (const key of FIELD_KEYS) {
    const label = FIELD_LABELS[key];
    const raw = Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
    if (raw === undefined || raw === null) {
      errors.push({ field: key, message: `「${label}」未填写，${HINT}（没有请填 0）` });
      continue;
    }
    const parsed = parseWholeNumber(raw);
    if (parsed.ok) values[key] = parsed.value;
    else errors.push({ field: key, message: `「${label}」${parsed.message}` });
  }
  if (!options.allowUnknown) {
    for (const key of Object.keys(record)) {
      if (!isFieldKey(key)) errors.push({ field: key, message: `未知的填报指标「${key}」` });
    }
  }
  for (const v of checkAtMostRules(values)) errors.push({ field: v.field, message: v.message });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, values: values as ReturnValues };
}
