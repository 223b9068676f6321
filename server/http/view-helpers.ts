// Handlebars helpers available in every view. Formatting is zh-CN, in the configured time zone.
import { actorLabel } from '../domain/vocabulary.ts';
import { UNIT_CATEGORY_LABELS, type UnitCategory } from '../domain/fields.ts';
import { ROLE_LABELS } from '../domain/vocabulary.ts';
import type { Role } from '../domain/fields.ts';

type HelperOptions = { hash?: Record<string, unknown> };

function isOptions(v: unknown): v is HelperOptions {
  return typeof v === 'object' && v !== null && 'hash' in v && 'data' in v;
}

/** Drops the trailing Handlebars options argument. */
function args(list: unknown[]): unknown[] {
  return list.length && isOptions(list[list.length - 1]) ? list.slice(0, -1) : list;
}

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined || v === '') return null;
  const d = v instanceof Date ? v : new Date(v as string | number);
  return Number.isNaN(d.getTime()) ? null : d;
}

function toNumber(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(typeof v === 'object' ? String(v) : v);
  return Number.isFinite(n) ? n : null;
}

// Building an Intl.NumberFormat costs far more than using one (it dominated table rendering), so one
// formatter per digits setting is kept.
const numberFormats = new Map<number | undefined, Intl.NumberFormat>();
export function numberFormat(digits: number | undefined): Intl.NumberFormat {
  let f = numberFormats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat(
      'zh-CN',
      digits === undefined ? { maximumFractionDigits: 2 } : { minimumFractionDigits: digits, maximumFractionDigits: digits },
    );
    numberFormats.set(digits, f);
  }
  return f;
}
const percentFormat = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 1 });

/**
 * A CSS string literal for any text: letters, digits, spaces and common CJK punctuation as they are,
 * every other character as a hex escape (so no quote, backslash, newline or `<` survives).
 */
export function cssString(text: string): string {
  return `"${text.replace(/[^\p{L}\p{N} ·（）、，：—]/gu, (c) => `\\${c.codePointAt(0)!.toString(16)} `)}"`;
}

export function makeHelpers(tz: string): Record<string, (...a: unknown[]) => unknown> {
  const dateFmt = new Intl.DateTimeFormat('zh-CN', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
  const dateTimeFmt = new Intl.DateTimeFormat('zh-CN', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  });
  return {
    /** {{eq a b}} — strict equality (numbers and numeric strings compare as numbers). */
    eq: (...a) => {
      const [x, y] = args(a);
      return x === y || (typeof x !== typeof y && x !== null && y !== null && String(x) === String(y));
    },
    ne: (...a) => {
      const [x, y] = args(a);
      return !(x === y || (x !== null && y !== null && String(x) === String(y)));
    },
    and: (...a) => args(a).every(Boolean),
    or: (...a) => args(a).some(Boolean),
    not: (...a) => !args(a)[0],
    /** {{includes list value}} */
    includes: (...a) => {
      const [list, v] = args(a);
      return Array.isArray(list) && list.includes(v);
    },
    /** {{formatNumber n digits=2}} — 12,345.68; '—' when absent. */
    formatNumber: (...a) => {
      const [v] = args(a);
      const n = toNumber(v);
      if (n === null) return '—';
      const last = a[a.length - 1];
      const digits = isOptions(last) && typeof last.hash?.digits === 'number' ? last.hash.digits : undefined;
      return numberFormat(digits).format(n);
    },
    /** {{formatPercent ratio}} — 0.875 → 87.5%; '—' when absent. */
    formatPercent: (...a) => {
      const [v] = args(a);
      const n = toNumber(v);
      if (n === null) return '—';
      return `${percentFormat.format(n * 100)}%`;
    },
    /** {{formatDate d}} — 2026/10/15 */
    formatDate: (...a) => {
      const d = toDate(args(a)[0]);
      return d ? dateFmt.format(d) : '—';
    },
    /** {{formatDateTime d}} — 2026/10/15 23:59 */
    formatDateTime: (...a) => {
      const d = toDate(args(a)[0]);
      return d ? dateTimeFmt.format(d) : '—';
    },
    /** {{isoDate d}} — for datetime attributes / inputs. */
    isoDate: (...a) => {
      const d = toDate(args(a)[0]);
      return d ? d.toISOString() : '';
    },
    /** {{json value}} — JSON text, HTML-escaped by Handlebars: safe in attributes (data-chart="{{json x}}"). */
    json: (...a) => {
      const s = JSON.stringify(args(a)[0] ?? null);
      return s.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
    },
    /** Who did it: the system's own actions read 系统自动. */
    actorLabel: (...a) => actorLabel(args(a)[0] as string | null | undefined),
    roleLabel: (...a) => ROLE_LABELS[args(a)[0] as Role] ?? String(args(a)[0] ?? ''),
    categoryLabel: (...a) => UNIT_CATEGORY_LABELS[args(a)[0] as UnitCategory] ?? String(args(a)[0] ?? ''),
    /** {{cssString text}} — a quoted CSS string (print.css margin boxes read it from a custom property). */
    cssString: (...a) => cssString(String(args(a)[0] ?? '')),
  };
}
