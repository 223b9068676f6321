// Units (SPEC §1): list, create / update (upsert by code), import a unit list from Excel.
import { AppError, notFound, unprocessable } from '../domain/errors.ts';
import { readUnitListOffThread } from '../excel/off-thread.ts';
import { splitAliases, type UnitListError } from '../excel/unit-list.ts';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type UnitCategory } from '../domain/fields.ts';
import { Unit } from '../models/unit.ts';
import { audit, type Actor } from './audit.ts';
import { markStale } from './periods.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export interface UnitView {
  code: string;
  name: string;
  category: UnitCategory;
  parent: string | null;
  active: boolean;
  /** Other names the unit goes by (简称), matched silently by an upload's unit-name column (always set by toUnitView). */
  aliases?: string[];
}

export interface UnitInput {
  name?: unknown;
  category?: unknown;
  parent?: unknown;
  active?: unknown;
  /** An array of names (API), or one text of names separated by 、 , ; (forms, the unit import). Absent: unchanged. */
  aliases?: unknown;
}

export const MAX_ALIASES = 20;

const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export function toUnitView(u: { code: string; name: string; category: string; parent?: string | null; active?: boolean | null; aliases?: string[] | null }): UnitView {
  return { code: u.code, name: u.name, category: u.category as UnitCategory, parent: u.parent ?? null, active: u.active !== false, aliases: [...(u.aliases ?? [])] };
}

export async function listUnits(opts: { activeOnly?: boolean; category?: UnitCategory } = {}): Promise<UnitView[]> {
  const filter: Record<string, unknown> = {};
  if (opts.activeOnly) filter.active = { $ne: false };
  if (opts.category) filter.category = opts.category;
  const docs = await Unit.find(filter).sort({ code: 1 }).batchSize(DOCS_PER_COMMAND).lean();
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
  aliases?: string[];
}

const normName = (s: string) => s.normalize('NFKC').replace(/[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]/g, '').toLowerCase();

/** Aliases from an array or a text; the unit's own name and repeats dropped. */
function checkAliases(raw: unknown, name: string): { ok: true; aliases: string[] } | { ok: false; message: string } {
  let list: string[];
  if (typeof raw === 'string') list = splitAliases(raw);
  else if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) list = raw.map((x: string) => x.trim()).filter((x) => x !== '');
  else return { ok: false, message: '简称（aliases）应为字符串数组，如 ["省发改委"]' };
  const out: string[] = [];
  const seen = new Set([normName(name)]);
  for (const a of list) {
    if (a.length > 100) return { ok: false, message: `简称「${a.slice(0, 20)}…」不能超过 100 个字` };
    const k = normName(a);
    if (!k || seen.has(k)) continue;
    seen.add(k);
    out.push(a);
  }
  if (out.length > MAX_ALIASES) return { ok: false, message: `简称最多 ${MAX_ALIASES} 个` };
  return { ok: true, aliases: out };
}

/**
 * A unit's name or alias that is another unit's name or alias makes an upload's name column ambiguous:
 * refused, naming the other unit. `pending`: the other units of the same import, by code.
 */
type NamedUnits = Map<string, { name: string; aliases?: string[] }>;

/** Every unit's name and aliases by code (one projected read). */
async function namedUnits(): Promise<NamedUnits> {
  const out: NamedUnits = new Map();
  for (const u of await Unit.find({}, { _id: 0, code: 1, name: 1, aliases: 1 }).batchSize(DOCS_PER_COMMAND).lean()) out.set(u.code, { name: u.name, aliases: u.aliases ?? [] });
  return out;
}

function nameClashes(code: string, unit: { name: string; aliases?: string[] }, others: NamedUnits): string[] {
  const mine = new Map<string, string>();
  for (const n of unit.aliases ?? []) mine.set(normName(n), n);
  if (!mine.size) return [];
  const problems: string[] = [];
  for (const [c, u] of others) {
    if (c === code) continue;
    for (const n of [u.name, ...(u.aliases ?? [])]) {
      const hit = mine.get(normName(n));
      if (hit !== undefined) problems.push(`简称「${hit}」已是单位 ${c}（${u.name}）的${n === u.name ? '名称' : '简称'}`);
    }
  }
  return problems;
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
  let aliases: string[] | undefined;
  if (input.aliases !== undefined && input.aliases !== null) {
    const a = checkAliases(input.aliases, name);
    if (a.ok) aliases = a.aliases;
    else errors.push({ field: 'aliases', message: a.message });
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, unit: { name, category: category!, parent, ...(active === undefined ? {} : { active }), ...(aliases === undefined ? {} : { aliases }) } };
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
  const clashes = checked.unit.aliases?.length ? nameClashes(code, checked.unit, await namedUnits()) : [];
  if (clashes.length) throw unprocessable('invalid_unit', clashes.join('；'), { errors: clashes.map((message) => ({ field: 'aliases', message })) });
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

export type ImportRowError = UnitListError;

/** Errors listed for a refused unit list (the rest are counted). */
const MAX_IMPORT_ERRORS = 1000;

const HEADER_LABEL = { code: '单位代码', name: '单位名称', category: '单位类别', parent: '上级单位代码', aliases: '简称' } as const;

/**
 * Imports a unit list (columns 单位代码, 单位名称, 单位类别, optional 上级单位代码 and 简称 / 别名; the first
 * visible sheet with a header row among its first 20 rows), read off the event loop within bounds.
 * All rows are checked first; any problem refuses the whole file (422, every problem listed).
 * Then each unit is upserted (idempotent: re-running the same file gives the same result). A file
 * without an aliases column leaves the units' aliases as they are; an empty aliases cell clears them.
 */
export async function importUnits(actor: Actor, buffer: Buffer): Promise<{ created: number; updated: number }> {
  const list = await readUnitListOffThread(buffer);
  if (!list.ok) throw unprocessable(list.code, list.message, { errors: list.errors });
  const { sheet, columns: cols } = list;
  const errors: ImportRowError[] = [];
  const rows: { row: number; code: string; unit: CleanUnit }[] = [];
  const seen = new Map<string, number>();
  for (const x of list.rows) {
    const r = x.row;
    const { code, name, category, parent } = x;
    if (!code && !name && !category && !parent && !x.aliases.length) continue;
    if (!code) {
      errors.push({ sheet, row: r, column: cols.code ?? null, field: 'code', message: `第${r}行 单位代码为空` });
      continue;
    }
    const prev = seen.get(code);
    if (prev) {
      errors.push({ sheet, row: r, column: cols.code ?? null, field: 'code', message: `第${r}行 单位「${code}」与第${prev}行重复` });
      continue;
    }
    seen.set(code, r);
    const checked = checkUnitInput(code, { name, category, parent: parent || null, ...(cols.aliases ? { aliases: x.aliases } : {}) });
    if (!checked.ok) {
      for (const e of checked.errors) {
        errors.push({ sheet, row: r, column: cols[e.field as keyof typeof HEADER_LABEL] ?? null, field: e.field, message: `第${r}行 ${e.message}` });
      }
      continue;
    }
    rows.push({ row: r, code, unit: checked.unit });
  }
  if (!rows.length && !errors.length) throw unprocessable('invalid_file', '文件中没有单位数据');
  const pendingParents = new Map(rows.map((x) => [x.code, x.unit.parent]));
  // Names and aliases as they will be after the import: the file's units over the stored ones.
  const named = rows.some((x) => x.unit.aliases?.length) ? await namedUnits() : new Map() as NamedUnits;
  for (const x of rows) if (named.size) named.set(x.code, { name: x.unit.name, aliases: x.unit.aliases ?? named.get(x.code)?.aliases ?? [] });
  for (const x of rows) {
    for (const message of nameClashes(x.code, x.unit, named)) {
      errors.push({ sheet, row: x.row, column: cols.aliases ?? null, field: 'aliases', message: `第${x.row}行 ${message}` });
    }
    if (!x.unit.parent) continue;
    if (!pendingParents.has(x.unit.parent) && !(await Unit.exists({ code: x.unit.parent }))) {
      errors.push({ sheet, row: x.row, column: cols.parent ?? null, field: 'parent', message: `第${x.row}行 上级单位「${x.unit.parent}」不存在` });
      continue;
    }
    const cyc = await checkParentChain(x.code, x.unit.parent, pendingParents);
    if (cyc) errors.push({ sheet, row: x.row, column: cols.parent ?? null, field: 'parent', message: `第${x.row}行 ${cyc}` });
  }
  if (errors.length) {
    const listed = errors.slice(0, MAX_IMPORT_ERRORS);
    if (errors.length > MAX_IMPORT_ERRORS) listed.push({ sheet, row: null, column: null, field: null, message: `错误过多，另有 ${errors.length - MAX_IMPORT_ERRORS} 处错误未列出` });
    throw unprocessable('invalid_file', `单位清单有 ${errors.length} 处错误，未导入任何单位`, { errors: listed });
  }

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
  const docs = await Unit.find({}, { _id: 0, code: 1, name: 1, category: 1, active: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  return docs.map((u) => ({ code: u.code, name: u.name, category: u.category as UnitCategory, active: u.active !== false }));
}
