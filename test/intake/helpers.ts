// Helpers for the intake tests: real xlsx files built with exceljs, valid values, unit setup.
import ExcelJS from 'exceljs';
import { FIELD_KEYS, FIELD_LABELS, type FieldKey } from '../../server/domain/fields.ts';
import { validValues } from '../fixtures/build-fixtures.ts';
import type { TestApp } from '../helpers/app.ts';

export type Vals = Record<FieldKey, number>;

/** A valid return, deterministic in i (every ≤ rule holds): the fixture corpus's values, with `over` on top. */
export function vals(i = 0, over: Partial<Record<FieldKey, unknown>> = {}): Vals {
  return { ...validValues(i), ...(over as object) } as Vals;
}

export interface SheetRow {
  code: unknown;
  name?: unknown;
  values: Partial<Record<FieldKey, unknown>>;
}

/** A returns workbook like the template: title row, header row with labels, one row per unit. */
export async function buildWorkbook(rows: SheetRow[], opts: { title?: string; header?: 'label' | 'key' } = {}): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('填报');
  ws.addRow([opts.title ?? '2026年第3季度 数据共享考核指标填报表']);
  const head = opts.header === 'key' ? ['unit_code', 'unit_name', ...FIELD_KEYS] : ['单位代码', '单位名称', ...FIELD_KEYS.map((k) => FIELD_LABELS[k])];
  ws.addRow(head);
  for (const r of rows) ws.addRow([r.code, r.name ?? null, ...FIELD_KEYS.map((k) => (r.values[k] === undefined ? null : r.values[k]))] as ExcelJS.CellValue[]);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export const UNITS = [
  { code: 'D001', name: '省发展和改革委员会', category: 'department' },
  { code: 'D002', name: '省教育厅', category: 'department' },
  { code: 'D003', name: '省公安厅', category: 'department' },
  { code: 'C0571', name: '杭州市', category: 'city' },
  { code: 'X330102', name: '上城区', category: 'county', parent: 'C0571' },
];

export async function createUnits(t: TestApp, adminToken: string, units: { code: string; name: string; category: string; parent?: string }[] = UNITS) {
  for (const u of units) {
    const r = await t.api(adminToken).put(`/api/v1/units/${u.code}`, { name: u.name, category: u.category, ...(u.parent ? { parent: u.parent } : {}) });
    if (r.status !== 201 && r.status !== 200) throw new Error(`unit ${u.code}: ${r.status} ${r.text}`);
  }
}

/**
 * The harness and the clock, loaded with import(): the test then holds the same module instances
 * (clock, models) as the app it starts, however mocha itself loaded the test file.
 */
export async function harness() {
  const app = await import('../helpers/app.ts');
  const { clock } = await import('../../server/clock.ts');
  return { startTestApp: app.startTestApp, clock };
}

/**
 * Starts the test app (as harness() does) and logs the admin in: → { t, admin } with admin's token.
 * Should the login fail, the app is stopped before the error goes on (the suite's after() never sees it).
 */
export async function startWithAdmin(): Promise<{ t: TestApp; admin: string }> {
  const h = await harness();
  const t = await h.startTestApp();
  try {
    return { t, admin: await t.tokenFor('admin') };
  } catch (err) {
    await t.stop();
    throw err;
  }
}
