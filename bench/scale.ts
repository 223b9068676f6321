// Deterministic scale generator for the benchmarks (and the load / fault tests): n units shaped like a
// province or a country (≈10% departments, ≈5% cities, the rest counties under the cities) and their
// returns, from a seeded PRNG — the same n and seed always give the same units, values and files.
import ExcelJS from 'exceljs';
import { PassThrough } from 'node:stream';
import { FIELD_KEYS, FIELD_LABELS, type ReturnValues, type UnitCategory } from '../server/domain/fields.ts';
import { prng } from '../server/services/demo/generator.ts';

export interface ScaleUnit {
  code: string;
  name: string;
  category: UnitCategory;
  parent: string | null;
}

export interface ScaleReturn {
  code: string;
  name: string;
  values: ReturnValues;
}


const DEPT_WORDS = ['发展和改革委员会', '教育厅', '科学技术厅', '公安厅', '民政厅', '司法厅', '财政厅', '人力资源和社会保障厅', '自然资源厅', '生态环境厅', '住房和城乡建设厅', '交通运输厅', '水利厅', '农业农村厅', '商务厅', '文化和旅游厅', '卫生健康委员会', '应急管理厅', '审计厅', '市场监督管理局', '统计局', '医疗保障局'];
const CITY_WORDS = ['江', '湖', '山', '海', '云', '金', '安', '宁', '平', '清', '明', '华', '兴', '昌', '泰', '嘉'];

/** The category split for n units: ≈10% departments, ≈5% cities (at least one each), the rest counties. */
export function categoryCounts(n: number): { department: number; city: number; county: number } {
  if (n < 3) return { department: n, city: 0, county: 0 };
  const department = Math.max(1, Math.round(n * 0.1));
  const city = Math.max(1, Math.round(n * 0.05));
  return { department, city, county: n - department - city };
}

/** n units, in code order within each category; codes and names are unique. */
export function scaleUnits(n: number): ScaleUnit[] {
  const c = categoryCounts(n);
  const out: ScaleUnit[] = [];
  for (let i = 1; i <= c.department; i++) {
    const w = DEPT_WORDS[(i - 1) % DEPT_WORDS.length]!;
    const round = Math.floor((i - 1) / DEPT_WORDS.length);
    out.push({ code: `D${String(i).padStart(5, '0')}`, name: `省${w}${round ? `第${round + 1}分局` : ''}`, category: 'department', parent: null });
  }
  const cities: string[] = [];
  for (let i = 1; i <= c.city; i++) {
    const code = `C${String(i).padStart(5, '0')}`;
    cities.push(code);
    out.push({ code, name: `${CITY_WORDS[(i - 1) % CITY_WORDS.length]}${CITY_WORDS[(i * 7) % CITY_WORDS.length]}市${i}`, category: 'city', parent: null });
  }
  for (let i = 1; i <= c.county; i++) {
    const parent = cities.length ? cities[(i - 1) % cities.length]! : null;
    out.push({ code: `X${String(i).padStart(6, '0')}`, name: `${CITY_WORDS[(i * 3) % CITY_WORDS.length]}${CITY_WORDS[(i * 5) % CITY_WORDS.length]}县${i}`, category: 'county', parent });
  }
  return out;
}

/** One unit's valid return values (every ≤ rule holds; some denominators are 0 → not applicable). */
export function scaleValues(index: number, seed = 1): ReturnValues {
  const r = prng((seed * 0x9e3779b1) ^ (index * 2654435761));
  const int = (max: number) => Math.floor(r() * (max + 1));
  const part = (whole: number, lo: number) => Math.min(whole, Math.floor(whole * (lo + (1 - lo) * r())));
  const systems_total = r() < 0.03 ? 0 : 1 + int(60);
  const networks_private = int(8);
  const catalogue_items = r() < 0.02 ? 0 : 20 + int(1500);
  const requests_received = r() < 0.05 ? 0 : int(400);
  const duties_total = r() < 0.02 ? 0 : 50 + int(900);
  return {
    systems_total,
    systems_extranet: part(systems_total, 0.2),
    systems_cloud: part(systems_total, 0.1),
    networks_private,
    networks_standalone: int(networks_private),
    catalogue_items,
    catalogue_shared: part(catalogue_items, 0.3),
    requests_received,
    requests_on_time: part(requests_received, 0.5),
    duties_total,
    duties_with_data: part(duties_total, 0.4),
  };
}

/** Returns for the units: ≈3% of units (deterministically) have none. `variant` shifts the values. */
export function scaleReturns(units: readonly ScaleUnit[], opts: { seed?: number; missingRate?: number } = {}): ScaleReturn[] {
  const seed = opts.seed ?? 1;
  const missing = opts.missingRate ?? 0.03;
  const skip = prng(seed * 31 + 7);
  const out: ScaleReturn[] = [];
  units.forEach((u, i) => {
    if (skip() < missing) return;
    out.push({ code: u.code, name: u.name, values: scaleValues(i, seed) });
  });
  return out;
}

/**
 * A many-unit returns workbook as a reporter's office would upload it: a title row, the header row of
 * labels (单位代码, 单位名称, the 11 field labels), one row per return. Written with exceljs's
 * streaming writer with shared strings (as Excel saves).
 */
export async function scaleWorkbook(rows: readonly ScaleReturn[], title = '数据共享考核指标填报表'): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    sink.on('end', () => resolve());
    sink.on('error', reject);
  });
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: sink, useSharedStrings: true, useStyles: false });
  const ws = wb.addWorksheet('填报');
  ws.addRow([title]).commit();
  ws.addRow(['单位代码', '单位名称', ...FIELD_KEYS.map((k) => FIELD_LABELS[k])]).commit();
  for (const r of rows) ws.addRow([r.code, r.name, ...FIELD_KEYS.map((k) => r.values[k])]).commit();
  ws.commit();
  await wb.commit();
  await done;
  return Buffer.concat(chunks);
}
