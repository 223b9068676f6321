// The scheme's indicator values of what is typed in the web form (issue 14 item 4): shown next to the
// form and recomputed in the browser as numbers are typed (public/js/return-form.js does the same
// arithmetic on the same definitions, sent in the page as data). Pure; display only — scores are
// always computed by server/domain/scoring from stored revisions.
import { parseWholeNumber } from './validation.ts';
import type { FieldExpr, IndicatorDef } from './scoring/scheme.ts';
import { applicabilityText, formulaText } from './scoring/scheme.ts';
import type { FieldKey } from './fields.ts';

/** What the page script needs of an indicator. */
export interface FormIndicator {
  id: string;
  name: string;
  formula: string;
  applicability: string;
  numerator: FieldExpr;
  denominator: FieldExpr;
  notApplicableWhen: { zero: FieldExpr } | null;
  zeroDenominatorValue: number | null;
}

export interface FormRatio extends FormIndicator {
  /** The ratio in [0, …], or null when a field it needs is blank / not a valid number, or not applicable. */
  value: number | null;
  /** '不适用' / '待填写' / null when there is a value. */
  note: string | null;
}

export function formIndicators(indicators: readonly IndicatorDef[]): FormIndicator[] {
  return indicators.map((d) => ({
    id: d.id,
    name: d.name,
    formula: formulaText(d),
    applicability: applicabilityText(d),
    numerator: d.numerator,
    denominator: d.denominator,
    notApplicableWhen: d.notApplicableWhen,
    zeroDenominatorValue: d.zeroDenominatorValue,
  }));
}

function sum(e: FieldExpr, v: (k: FieldKey) => number | null): number | null {
  let r = 0;
  for (const k of e.add) {
    const x = v(k);
    if (x === null) return null;
    r += x;
  }
  for (const k of e.subtract ?? []) {
    const x = v(k);
    if (x === null) return null;
    r -= x;
  }
  return r;
}

/** Each indicator's value for the raw form values (text as typed, or numbers). */
export function formRatios(indicators: readonly FormIndicator[], raw: Readonly<Record<string, unknown>>): FormRatio[] {
  const v = (k: FieldKey): number | null => {
    const p = parseWholeNumber(typeof raw[k] === 'string' && (raw[k] as string).trim() === '' ? null : raw[k]);
    return p.ok ? p.value : null;
  };
  return indicators.map((d) => {
    const na = d.notApplicableWhen ? sum(d.notApplicableWhen.zero, v) : 1;
    const num = sum(d.numerator, v);
    const den = sum(d.denominator, v);
    if (na === 0) return { ...d, value: null, note: '不适用' };
    if (na === null || num === null || den === null) return { ...d, value: null, note: '待填写' };
    if (den === 0) {
      if (d.zeroDenominatorValue === null) return { ...d, value: null, note: '不适用' };
      return { ...d, value: d.zeroDenominatorValue, note: null };
    }
    return { ...d, value: num / den, note: null };
  });
}
