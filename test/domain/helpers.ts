// Test helpers for the scoring core (no assertions here).
import type { ReturnValues, UnitCategory } from '../../server/domain/fields.ts';
import type { UnitInput, UnitResult } from '../../server/domain/scoring/index.ts';

/** All-zero return, overridden by `v`. (All zero: only I3 applies, with value 1.) */
export function vals(v: Partial<ReturnValues> = {}): ReturnValues {
  return {
    systems_total: 0,
    systems_extranet: 0,
    systems_cloud: 0,
    networks_private: 0,
    networks_standalone: 0,
    catalogue_items: 0,
    catalogue_shared: 0,
    requests_received: 0,
    requests_on_time: 0,
    duties_total: 0,
    duties_with_data: 0,
    ...v,
  };
}

/** A return where every indicator is applicable and has ratio 1 (total 100). */
export function perfect(v: Partial<ReturnValues> = {}): ReturnValues {
  return vals({
    systems_total: 10,
    systems_extranet: 10,
    systems_cloud: 10,
    networks_private: 4,
    networks_standalone: 0,
    catalogue_items: 10,
    catalogue_shared: 10,
    requests_received: 10,
    requests_on_time: 10,
    duties_total: 10,
    duties_with_data: 10,
    ...v,
  });
}

/**
 * A return whose default-scheme total is exactly `pct` for an integer pct in [0, 100]:
 * systems_total 100 with I1 = I5 = pct/100 and every other ratio pct/100 too.
 */
export function worth(pct: number): ReturnValues {
  return vals({
    systems_total: 100,
    systems_extranet: pct,
    systems_cloud: pct,
    networks_private: 100,
    networks_standalone: 100 - pct,
    catalogue_items: 100,
    catalogue_shared: pct,
    requests_received: 100,
    requests_on_time: pct,
    duties_total: 100,
    duties_with_data: pct,
  });
}

export function unit(code: string, values: ReturnValues | null, extra: Partial<UnitInput> = {}, category: UnitCategory = 'department'): UnitInput {
  return { unit: code, name: `单位${code}`, category, values, ...extra };
}

export function byUnit(rows: readonly UnitResult[]): Record<string, UnitResult> {
  return Object.fromEntries(rows.map((r) => [r.unit, r]));
}
