// Shared set-up for the results / jobs tests: units and returns through the real API.
import { expect } from 'chai';
import { clock } from '../../server/clock.ts';
import { FIELD_KEYS, type ReturnValues } from '../../server/domain/fields.ts';
import type { ApiClient, TestApp } from '../helpers/app.ts';

export const ZERO: ReturnValues = Object.fromEntries(FIELD_KEYS.map((k) => [k, 0])) as ReturnValues;

/** Values with every ratio indicator applicable: each ratio given as [numerator, denominator]. */
export function ratios(r: { i1?: [number, number]; i2?: [number, number]; i3?: [number, number]; i4?: [number, number]; i5cloud?: number; i6?: [number, number] }): ReturnValues {
  const v = { ...ZERO };
  if (r.i1) [v.systems_extranet, v.systems_total] = r.i1;
  if (r.i5cloud !== undefined) v.systems_cloud = r.i5cloud;
  if (r.i2) [v.catalogue_shared, v.catalogue_items] = r.i2;
  // I3 value = (private − standalone) / private: give [integrated, private]
  if (r.i3) {
    v.networks_private = r.i3[1];
    v.networks_standalone = r.i3[1] - r.i3[0];
  }
  if (r.i4) [v.requests_on_time, v.requests_received] = r.i4;
  if (r.i6) [v.duties_with_data, v.duties_total] = r.i6;
  return v;
}

export const PERFECT = ratios({ i1: [10, 10], i2: [10, 10], i3: [4, 4], i4: [10, 10], i5cloud: 10, i6: [10, 10] });

/** Every indicator at value `num/den` (I3 too), so the base is 100 × num/den. */
export function uniform(num: number, den: number): ReturnValues {
  return ratios({ i1: [num, den], i2: [num, den], i3: [num, den], i4: [num, den], i5cloud: num, i6: [num, den] });
}

/** Sets the fake clock to a fixed instant. */
export function at(iso: string): void {
  const d = new Date(iso);
  clock.set(() => d);
}

export async function putUnit(api: ApiClient, code: string, category: 'department' | 'city' | 'county', name = `单位${code}`): Promise<void> {
  const r = await api.put(`/api/v1/units/${code}`, { name, category });
  expect(r.status, r.text).to.be.oneOf([200, 201]);
}

export async function submit(api: ApiClient, period: string, unit: string, values: ReturnValues): Promise<number> {
  const r = await api.put(`/api/v1/returns/${period}/${unit}`, { values });
  expect(r.status, r.text).to.equal(200);
  return r.body.revision as number;
}

export async function results(api: ApiClient, period: string) {
  const r = await api.get(`/api/v1/results/${period}`);
  expect(r.status, r.text).to.equal(200);
  return r.body as {
    period: string;
    status: string;
    schemeVersion: number;
    results: { unit: string; total: number | null; grade: string | null; rank: number | null; rankChange: number | null; flags: string[]; base: number | null; deductions: number | null; indicators: Record<string, { value: number | null; score: number | null; applicable: boolean }>; category: string; name: string }[];
  };
}

export function byUnit<T extends { unit: string }>(rows: T[]): Record<string, T> {
  return Object.fromEntries(rows.map((r) => [r.unit, r]));
}

export async function runJob(t: TestApp, admin: string, name: string, period?: string) {
  const r = await t.api(admin).post(`/api/v1/jobs/${name}/run`, period ? { period } : {});
  expect(r.status, r.text).to.equal(200);
  expect(r.body.outcome, JSON.stringify(r.body)).to.equal('success');
  return r.body;
}
