// Units (SPEC §1): list, create / update (upsert by code), import a unit list from Excel.
import ExcelJS from 'exceljs';
import { AppError, notFound, unprocessable } from '../domain/errors.ts';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type UnitCategory } from '../domain/fields.ts';
import { Unit } from '../models/unit.ts';
import { audit, type Actor } from './audit.ts';
import { markStale } from './periods.ts';

export interface UnitView {
  code: string;
  name: string;
  category: UnitCategory;
  parent: string | null;
  active: boolean;
}

export interface UnitInput {
  name?: unknown;
  category?: unknown;
  parent?: unknown;
  active?: unknown;
}

const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export function toUnitView(u: { code: string; name: string; category: string; parent?: string | null; active?: boolean | null }): UnitView {
  return { code: u.code, name: u.name, category: u.category as UnitCategory, parent: u.parent ?? null, active: u.active !== false };
}

export async function listUnits(opts: { activeOnly?: boolean; category?: UnitCategory } = {}): Promise<UnitView[]> {
  const filter: Record<string, unknown> = {};
  if (opts.activeOnly) filter.active = { $ne: false };
  if (opts.category) filter.category = opts.category;
  const docs = await Unit.find(filter).sort({ code: 1 }).lean();
  return docs.map(toUnitView);
}

export async function getUnit(code: string): Promise<UnitView | null> {
  const doc = await Unit.findOne({ code }).lean();
  return doc ? toUnitView(doc) : null;
}

export async function requireUnit(code: string): Promise<UnitView> {
  const u = await getUnit(code);
  if (!u) throw notFound('unit_not_found', `单位「${code}」不存在`);
  return u;
}

/** Accepts a category key or its Chinese label (also 省直部门 / 设区市 / 县(市、区) with full-width brackets). */
export function parseCategory(raw: unknown): UnitCategory | null {
  if (typeof raw !== 'string') return null;
  const s = raw.replace(/[\s\u3000]/g, '').replace(/（/g, '(').replace(/）/g, ')').replace(/，/g, '、').toLowerCase();
  for (const c of UNIT_CATEGORIES) {
    if (s === c) return c;
    if (s === UNIT_CATEGORY_LABELS[c].replace(/\s/g, '')) return c;
  }
  if (s === '部门' || s === '省直') return 'department';
  if (s === '市' || s === '地市') return 'city';
  if (s === '县' || s === '县区' || s === '县(市、区)' || s === '县市区') return 'county';
  return null;
}

interface CleanUnit {
  name: string;
  category: UnitCategory;
  parent: string | null;
  active?: boolean;
}

/** Field-level checks of one unit; returns problems as {field, message}. */
function checkUnitInput(code: string, input: UnitInput): { ok: true; unit: CleanUnit } | { ok: false; errors: { field: string; message: string }[] } {
  const errors: { field: string; message: string }[] = [];
  if (!CODE_RE.test(code)) errors.push({ field: 'code', message: `单位代码「${code}」无效：应为 1-32 位字母、数字、下划线或连字符` });
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) errors.push({ field: 'name', message: '单位名称不能为空' });
  else if (name.length > 100) errors.push({ field: 'name', message: '单位名称不能超过 100 个字' });
  const category = parseCategory(input.category);
  if (!category) errors.push({ field: 'category', message: '单位类别应为 department（省直部门）、city（设区市）或 county（县(市、区)）' });
  let parent: string | null = null;
  if (input.parent !== undefined && input.parent !== null && input.parent !== '') {
    if (typeof input.parent !== 'string' || !CODE_RE.test(input.parent.trim())) errors.push({ field: 'parent', message: '上级单位代码无效' });
    else parent = input.parent.trim();
  }
  if (parent === code) errors.push({ field: 'parent', message: '上级单位不能是本单位' });
  let active: boolean | undefined;
  if (input.active !== undefined) {
    if (typeof input.active === 'boolean') active = input.active;
    else errors.push({ field: 'active', message: 'active 应为 true 或 false' });
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, unit: { name, category: category!, parent, ...(active === undefined ? {} : { active }) } };
}

async function checkParentChain(code: string, parent: string | null, pending = new Map<string, string | null>()): Promise<string | null> {
  if (!parent) return null;
  const seen = new Set([code]);
  let cur: string | null = parent;
  while (cur) {
    if (seen.has(cur)) return `上级单位「${parent}」会形成循环的隶属关系`;
    seen.add(cur);
    let next: string | null | undefined = pending.get(cur);
    if (next === undefined) {
      const doc: { parent?: string | null } | null = await Unit.findOne({ code: cur }, { parent: 1 }).lean();
      if (!doc) return cur === parent ? `上级单位「${parent}」不存在` : null;
      next = doc.parent ?? null;
    }
    cur = next;
  }
  return null;
}

/** PUT /units/:code — creates or updates; `created` tells which. */
export async function upsertUnit(actor: Actor, code: string, input: UnitInput): Promise<{ created: boolean; unit: UnitView }> {
  const checked = checkUnitInput(code, input);
  if (!checked.ok) throw unprocessable('invalid_unit', checked.errors.map((e) => e.message).join('；'), { errors: checked.errors });
  const parentProblem = await checkParentChain(code, checked.unit.parent);
  if (parentProblem) throw unprocessable('invalid_unit', parentProblem, { errors: [{ field: 'parent', message: parentProblem }] });
  const before = await Unit.findOne({ code }).lean();
  const after = await Unit.findOneAndUpdate(
    { code },
    { $set: checked.unit, $setOnInsert: { code, ...(checked.unit.active === undefined ? { active: true } : {}) } },
    { upsert: true, returnDocument: 'after', runValidators: true },
  ).lean();
  if (!after) throw new AppError(500, 'internal', '保存单位失败');
  const view = toUnitView(after);
  await audit(actor, {
    action: before ? 'unit.update' : 'unit.create',
    entity: 'unit',
    entityId: code,
    before: before ? toUnitView(before) : null,
    after: view,
  });
  // Every unpublished period's results list the units (published ones are frozen snapshots).
  await markStale('unpublished');
  return { created: !before, unit: view };
}

// ---- import from Excel ----

export interface ImportRowError {
  sheet: string;
  row: number;
  column: string;
  field: string;
  message: string;
}

const HEADERS: Record<string, string[]> = {
  code: ['单位代码', 'code', 'unit_code'],
  name: ['单位名称', 'name', 'unit_name'],
  category: ['单位类别', '类别', 'category'],
  parent: ['上级单位代码', '上级单位', 'parent'],
};

const norm = (s: unknown) => String(s ?? '').replace(/[\s\u3000]/g, '').toLowerCase();

function cellText(v: ExcelJS.CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    if ('result' in v) return cellText((v as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue);
    if ('richText' in v) return (v as ExcelJS.CellRichTextValue).richText.map((r) => r.text).join('');
    if ('text' in v) return String((v as ExcelJS.CellHyperlinkValue).text);
    if (v instanceof Date) return v.toISOString();
    return '';
  }
  return String(v).trim();
}

function colLetter(n: number): string {
  let s = '';
  while (n > 0) {
    const m = (n - 1) % 26;
    s = String.fromCharCode(65 + m) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

/**
 * Imports a unit list (columns 单位代码, 单位名称, 单位类别, optional 上级单位代码; header row among the first 20).
 * All rows are checked first; any problem refuses the whole file (422, every problem listed).
 * Then each unit is upserted (idempotent: re-running the same file gives the same result).
 */
export async function importUnits(actor: Actor, buffer: Buffer): Promise<{ created: number; updated: number }> {
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(buffer as unknown as ArrayBuffer);
  } catch {
    throw unprocessable('invalid_file', '无法读取该文件，请上传 .xlsx 格式的单位清单');
  }
  const ws = wb.worksheets[0];
  if (!ws) throw unprocessable('invalid_file', '文件中没有工作表');
  let headerRow = 0;
  const cols: Partial<Record<keyof typeof HEADERS, number>> = {};
  for (let r = 1; r <= Math.min(20, ws.rowCount); r++) {
    const row = ws.getRow(r);
    const found: Partial<Record<keyof typeof HEADERS, number>> = {};
    row.eachCell((cell, c) => {
      const t = norm(cellText(cell.value));
      for (const [k, names] of Object.entries(HEADERS)) if (names.some((n) => norm(n) === t) && !found[k as keyof typeof HEADERS]) found[k as keyof typeof HEADERS] = c;
    });
    if (found.code) {
      headerRow = r;
      Object.assign(cols, found);
      break;
    }
  }
  const sheet = ws.name;
  const errors: ImportRowError[] = [];
  if (!headerRow) {
    throw unprocessable('invalid_file', '前 20 行中没有找到「单位代码」表头', { errors: [{ sheet, row: 0, column: '', field: 'code', message: '前 20 行中没有找到「单位代码」表头' }] });
  }
  for (const k of ['name', 'category'] as const) {
    if (!cols[k]) errors.push({ sheet, row: headerRow, column: '', field: k, message: `缺少「${HEADERS[k]![0]}」列` });
  }
  if (errors.length) throw unprocessable('invalid_file', errors.map((e) => e.message).join('；'), { errors });

  const rows: { row: number; code: string; unit: CleanUnit }[] = [];
  const seen = new Map<string, number>();
  for (let r = headerRow + 1; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    const get = (k: keyof typeof HEADERS) => (cols[k] ? cellText(row.getCell(cols[k]!).value) : '');
    const code = get('code');
    const name = get('name');
    const category = get('category');
    const parent = get('parent');
    if (!code && !name && !category && !parent) continue;
    if (!code) {
      errors.push({ sheet, row: r, column: colLetter(cols.code!), field: 'code', message: `第${r}行 单位代码为空` });
      continue;
    }
    const prev = seen.get(code);
    if (prev) {
      errors.push({ sheet, row: r, column: colLetter(cols.code!), field: 'code', message: `第${r}行 单位「${code}」与第${prev}行重复` });
      continue;
    }
    seen.set(code, r);
    const checked = checkUnitInput(code, { name, category, parent: parent || null });
    if (!checked.ok) {
      for (const e of checked.errors) {
        const col = cols[e.field as keyof typeof HEADERS];
        errors.push({ sheet, row: r, column: col ? colLetter(col) : '', field: e.field, message: `第${r}行 ${e.message}` });
      }
      continue;
    }
    rows.push({ row: r, code, unit: checked.unit });
  }
  if (!rows.length && !errors.length) throw unprocessable('invalid_file', '文件中没有单位数据');
  const pendingParents = new Map(rows.map((x) => [x.code, x.unit.parent]));
  for (const x of rows) {
    if (!x.unit.parent) continue;
    if (!pendingParents.has(x.unit.parent) && !(await Unit.exists({ code: x.unit.parent }))) {
      errors.push({ sheet, row: x.row, column: cols.parent ? colLetter(cols.parent) : '', field: 'parent', message: `第${x.row}行 上级单位「${x.unit.parent}」不存在` });
      continue;
    }
    const cyc = await checkParentChain(x.code, x.unit.parent, pendingParents);
    if (cyc) errors.push({ sheet, row: x.row, column: cols.parent ? colLetter(cols.parent) : '', field: 'parent', message: `第${x.row}行 ${cyc}` });
  }
  if (errors.length) throw unprocessable('invalid_file', `单位清单有 ${errors.length} 处错误，未导入任何单位`, { errors });

  let created = 0;
  let updated = 0;
  // Parents first so that each upsert's parent check passes.
  const order = [...rows].sort((a, b) => depth(a.code, pendingParents) - depth(b.code, pendingParents));
  for (const x of order) {
    const r = await upsertUnitUnchecked(actor, x.code, x.unit);
    if (r) created++;
    else updated++;
  }
  if (order.length) await markStale('unpublished');
  return { created, updated };
}

function depth(code: string, parents: Map<string, string | null>): number {
  let d = 0;
  let cur = parents.get(code) ?? null;
  while (cur && parents.has(cur) && d < 100) {
    d++;
    cur = parents.get(cur) ?? null;
  }
  return d;
}

async function upsertUnitUnchecked(actor: Actor, code: string, unit: CleanUnit): Promise<boolean> {
  const before = await Unit.findOne({ code }).lean();
  const after = await Unit.findOneAndUpdate({ code }, { $set: unit, $setOnInsert: { code, active: true } }, { upsert: true, returnDocument: 'after' }).lean();
  await audit(actor, { action: before ? 'unit.update' : 'unit.create', entity: 'unit', entityId: code, before: before ? toUnitView(before) : null, after: after ? toUnitView(after) : null });
  return !before;
}


/** Every unit (active or not) as scoring takes it in: code, name, category, active — in stored order. */
export async function listUnitInputs(): Promise<{ code: string; name: string; category: UnitCategory; active: boolean }[]> {
  const docs = await Unit.find({}, { _id: 0, code: 1, name: 1, category: 1, active: 1 }).lean();
  return docs.map((u) => ({ code: u.code, name: u.name, category: u.category as UnitCategory, active: u.active !== false }));
}
