// Parses an uploaded returns workbook (SPEC §6). Buffer + plain context in, plain data out.
// All-or-nothing: either every data row is valid and returned, or every problem is listed.
//
// Rules (where the spec was silent, the decision is written here):
// - The sheet read (the data sheet) is the first VISIBLE worksheet in tab order with a header row among
//   its first 20 rows: instructions, covers and hidden sheets before it are skipped (SPEC §6); a file
//   without one gets one error naming every sheet looked at (and the hidden ones skipped).
// - The file is read by the bounded streaming reader (xlsx-reader.ts), never by exceljs: a data sheet
//   whose declared dimension, content or merged ranges go past 20 000 rows / 200 columns is refused
//   (code sheet_too_large) before anything is expanded.
// - Header row: the first row among the first 20 with a cell `单位代码` or `unit_code` (spaces,
//   line breaks, case, full-width letters, a trailing "*" and a bracketed note like "（必填）" ignored).
//   Rows right below it whose unit-code cell is again a header word (the template's key line
//   `unit_code / systems_total / …`) are further header lines: a column not recognised in the
//   first header line may be recognised there. Rows above the header (titles) are ignored.
// - A column matches a field by its Chinese label or key, ignoring spaces, case, "_" and "-";
//   a bracketed suffix is tolerated ("信息系统总数（个）", "信息系统总数 (systems_total)").
//   Columns matching nothing are ignored; two columns for one field is an error.
// - Data rows: every row below the header with a unit code or with any value. Skipped silently:
//   wholly blank rows, rows with neither a unit code nor any value (notes in other columns), rows with
//   a unit code but all 11 values blank (a unit not being reported in a many-unit template), and
//   total rows whose unit-code cell says 合计 / 总计 / 小计.
// - Unit name column (单位名称 / unit_name) is optional, a cross-check (SPEC §6): a name equal to the
//   unit's registered name or one of its aliases (简称), after ignoring spaces / full-width / case, is
//   silent; a name that is ANOTHER unit's registered name or alias is an error (code and name point to
//   different units); any other name is a warning (units write their names informally). Blank: no
//   check (ctx.checkNames = false turns it off).
// - Formula cells count by their cached result; a formula with no cached result (written by a tool
//   that does not calculate) or an error result (#DIV/0!) is an error.
// - A value cell that is the non-first cell of a merged range is an error (it has no value of its own).

import { AT_MOST_RULES, FIELD_KEYS, FIELD_LABELS, RETURN_FIELDS, type FieldKey, type ReturnValues } from '../domain/fields.ts';
import { atMostMessage, parseWholeNumber } from '../domain/validation.ts';
import { checkUpload, type UploadLimits } from './upload-check.ts';
import { columnLetter, readDataSheet, SheetTooLarge, type CellRead, type SheetLimits, type SheetRow } from './xlsx-reader.ts';

export { columnLetter };

export interface UnitInfo {
  code?: string;
  name: string;
  /** Other names the unit goes by (简称): they match its name silently. */
  aliases?: readonly string[];
}

export type UnitLookup = ReadonlyMap<string, UnitInfo> | ((code: string) => UnitInfo | undefined | null);

export interface ParseContext {
  /** Known units by code. */
  units: UnitLookup;
  /** When set (a reporter's upload), the only unit code whose rows may be in the file. */
  onlyUnit?: string;
  /** Check a filled-in unit name against the registered one. Default true. */
  checkNames?: boolean;
  /** Limits for the pre-parse checks (size, zip). */
  limits?: Partial<UploadLimits>;
  /** The caller already ran checkUpload on this buffer: don't run it (and its bounded inflate) twice. */
  prechecked?: boolean;
  /** Stop listing after this many errors (one more entry says how many were left out). Default 1000. */
  maxErrors?: number;
  /**
   * Every unit's registered name and aliases → its code, to tell "another unit's name" (an error) from an
   * informal name (a warning). Built from `units` when that is a Map; give it with a function lookup.
   */
  knownNames?: ReadonlyMap<string, string> | ((name: string) => string | undefined | null);
  /** Size limits of the data sheet (20 000 rows, 200 columns). */
  sheetLimits?: Partial<SheetLimits>;
}

export interface ParsedRow {
  unit: string;
  name: string;
  values: ReturnValues;
  /** 1-based worksheet row number. */
  row: number;
}

export interface UploadError {
  sheet: string | null;
  row: number | null;
  column: string | null;
  /** A field key, `unit_code`, `unit_name`, or null for a problem with the file or a whole row. */
  field: string | null;
  message: string;
}

/** The column letter of each field in the data sheet (from its header row), e.g. {systems_total: 'E', …}. */
export type FieldColumns = Readonly<Record<FieldKey, string>>;

export type ParseResult =
  | { ok: true; sheet: string; headerRow: number; rows: ParsedRow[]; warnings: UploadError[]; columns: FieldColumns }
  | { ok: false; errors: UploadError[]; warnings?: UploadError[]; code?: string };

export const HEADER_SEARCH_ROWS = 20;

// ---- cell reading ----

/** Text of a header cell (any type), '' if none. */
function cellText(read: CellRead | undefined): string {
  if (!read || read.kind !== 'value') return '';
  return read.raw instanceof Date ? '' : String(read.raw);
}

const SPACE_RE = /[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]/g;

/** Header normalisation: NFKC (full-width → half-width), no spaces / "_" / "-", lower case, no "*". */
function normHeader(s: string): string {
  return s.normalize('NFKC').replace(SPACE_RE, '').replace(/[_\-*]/g, '').toLowerCase();
}

/** The forms a header cell may match by: the whole text, the text before a bracket, the bracketed text. */
function headerCandidates(text: string): string[] {
  const t = text.normalize('NFKC').replace(SPACE_RE, '');
  const out = [normHeader(t)];
  const m = /^(.+?)[([【<](.*?)[)\]】>]?$/.exec(t);
  if (m) {
    out.push(normHeader(m[1]!));
    if (m[2]) out.push(normHeader(m[2]));
  }
  return out.filter((s) => s !== '');
}

type ColumnRole = FieldKey | 'unit_code' | 'unit_name';

const HEADER_MAP: ReadonlyMap<string, ColumnRole> = new Map<string, ColumnRole>([
  [normHeader('单位代码'), 'unit_code'],
  [normHeader('unit_code'), 'unit_code'],
  [normHeader('单位名称'), 'unit_name'],
  [normHeader('unit_name'), 'unit_name'],
  ...RETURN_FIELDS.flatMap((f) => [
    [normHeader(f.label), f.key] as [string, ColumnRole],
    [normHeader(f.key), f.key] as [string, ColumnRole],
  ]),
]);

function roleOf(text: string): ColumnRole | undefined {
  for (const c of headerCandidates(text)) {
    const r = HEADER_MAP.get(c);
    if (r) return r;
  }
  return undefined;
}

const TOTAL_ROW_WORDS = new Set(['合计', '总计', '小计', '合计数']);

/** Printable ASCII without spaces: unchanged by NFKC and by removing spaces (the usual unit code). */
const PLAIN_ASCII_RE = /^[\x21-\x7e]*$/;

function normCode(s: string): string {
  if (PLAIN_ASCII_RE.test(s)) return s;
  return s.normalize('NFKC').replace(SPACE_RE, '');
}

function normName(s: string): string {
  return s.normalize('NFKC').replace(SPACE_RE, '').toLowerCase();
}

function lookupUnit(units: UnitLookup, code: string): { code: string; name: string; aliases?: readonly string[] } | undefined {
  const tryOne = (c: string) => {
    const u = typeof units === 'function' ? units(c) : units.get(c);
    return u ? { code: u.code ?? c, name: u.name, ...(u.aliases ? { aliases: u.aliases } : {}) } : undefined;
  };
  return tryOne(code) ?? (code.toUpperCase() !== code ? tryOne(code.toUpperCase()) : undefined);
}

/** normName(name or alias) → code, for every unit of a Map lookup. */
function namesIndexOf(units: UnitLookup): Map<string, string> | null {
  if (typeof units === 'function') return null;
  const out = new Map<string, string>();
  for (const [key, u] of units) {
    const code = u.code ?? key;
    for (const n of [u.name, ...(u.aliases ?? [])]) {
      const k = normName(n);
      if (k && !out.has(k)) out.set(k, code);
    }
  }
  return out;
}

// ---- the parser ----

/**
 * Parses a returns workbook. Runs {@link checkUpload} first: problems with the file itself (size,
 * format, corrupt, zip bomb) are thrown as AppError; problems with its content are returned as
 * {ok: false, errors} — every one of them, in row order — and a sheet past the size limits as
 * {ok: false, code: 'sheet_too_large', errors: [one]}.
 */
export async function parseReturnsWorkbook(buffer: Buffer, ctx: ParseContext): Promise<ParseResult> {
  const summary = ctx.prechecked ? undefined : checkUpload(buffer, ctx.limits);
  let data: Awaited<ReturnType<typeof readDataSheet>>;
  try {
    data = await readDataSheet(
      buffer,
      {
        isHeaderCell: (text) => roleOf(text) === 'unit_code',
        headerSearchRows: HEADER_SEARCH_ROWS,
        headerLines: 5,
        keepColumns: (headerRows) => headerColumns(headerRows).keep,
        ...(ctx.sheetLimits ? { limits: ctx.sheetLimits } : {}),
      },
      summary?.entries,
    );
  } catch (x) {
    if (x instanceof SheetTooLarge) return { ok: false, code: x.code, errors: [x.error] };
    throw x;
  }
  if (!data.found) {
    const hidden = data.skippedHidden.length ? `（已跳过隐藏的工作表${data.skippedHidden.map((n) => `「${n}」`).join('、')}）` : '';
    if (data.looked.length === 0) {
      return { ok: false, errors: [{ sheet: null, row: null, column: null, field: 'unit_code', message: `工作簿中没有可见的工作表${hidden}` }] };
    }
    const names = data.looked.map((n) => `「${n}」`).join('、');
    const both = data.looked.length > 1 ? '都' : '';
    return {
      ok: false,
      errors: [{
        sheet: data.looked.length === 1 ? data.looked[0]! : null,
        row: null,
        column: null,
        field: 'unit_code',
        message: `工作表${names}的前 ${HEADER_SEARCH_ROWS} 行中${both}找不到表头行（表头行应有一格写“单位代码”或 unit_code）${hidden}`,
      }],
    };
  }
  return parseSheet(data.sheet, data.headerRow, data.rows, ctx);
}

/** Columns by role in the header row and the further header lines below it. */
function headerColumns(headerRows: SheetRow[]) {
  const columns = new Map<ColumnRole, number>();
  const duplicates: { row: number; col: number; role: ColumnRole; first: number }[] = [];
  const header = headerRows[0];
  let firstDataRow = header ? header.r + 1 : 1;
  const readLine = (row: SheetRow, fillOnly: boolean) => {
    const seen = new Map<ColumnRole, number>();
    const dup = new Set<ColumnRole>();
    for (const col of [...row.cells.keys()].sort((a, b) => a - b)) {
      const cell = row.cells.get(col)!;
      if (cell.kind === 'merged') continue;
      const role = roleOf(cellText(cell));
      if (!role) continue;
      if (seen.has(role)) {
        if (!fillOnly && !dup.has(role)) {
          dup.add(role);
          duplicates.push({ row: row.r, col, role, first: seen.get(role)! });
        }
        continue;
      }
      seen.set(role, col);
      if (!columns.has(role)) columns.set(role, col);
    }
  };
  if (header) {
    readLine(header, false);
    const codeCol = columns.get('unit_code');
    const byRow = new Map(headerRows.map((x) => [x.r, x]));
    while (codeCol !== undefined && firstDataRow <= header.r + 5) {
      const line = byRow.get(firstDataRow);
      const c = line?.cells.get(codeCol);
      if (line && c && c.kind === 'value' && roleOf(String(c.raw)) === 'unit_code') {
        readLine(line, true);
        firstDataRow++;
      } else break;
    }
  }
  return { columns, duplicates, firstDataRow, keep: new Set(columns.values()) };
}

const BLANK_READ: CellRead = { kind: 'blank' };

/** The parser proper, on the rows of the data sheet from its header row on. */
export function parseSheet(sheet: string, headerRow: number, sheetRows: SheetRow[], ctx: ParseContext): ParseResult {
  const maxErrors = ctx.maxErrors ?? 1000;
  const errors: UploadError[] = [];
  const warnings: UploadError[] = [];
  let dropped = 0;
  const place = (row: number | null, col: number | null) => {
    const column = col === null ? null : columnLetter(col);
    const where = row === null ? '' : `第${row}行${column === null ? '' : ` ${column}列`}`;
    return { column, where };
  };
  const add = (row: number | null, col: number | null, field: string | null, message: string) => {
    if (errors.length >= maxErrors) {
      dropped++;
      return;
    }
    const { column, where } = place(row, col);
    const sep = where === '' || message.startsWith('「') ? '' : ' ';
    errors.push({ sheet, row, column, field, message: `${where}${sep}${message}` });
  };
  const warn = (row: number, col: number, field: string, message: string) => {
    if (warnings.length >= maxErrors) return;
    const { column, where } = place(row, col);
    warnings.push({ sheet, row, column, field, message: `${where} ${message}` });
  };
  const finish = (): ParseResult => {
    if (dropped > 0) {
      errors.push({ sheet, row: null, column: null, field: null, message: `错误过多，另有 ${dropped} 处错误未列出，请修正以上错误后重新上传` });
    }
    return { ok: false, errors, warnings };
  };

  // 1. Columns (the header row is the first of sheetRows).
  const headerRows = sheetRows.filter((x) => x.r >= headerRow && x.r <= headerRow + 5);
  const { columns, duplicates, firstDataRow } = headerColumns(headerRows);
  for (const d of duplicates) {
    const label = d.role === 'unit_code' ? '单位代码' : d.role === 'unit_name' ? '单位名称' : FIELD_LABELS[d.role];
    add(d.row, d.col, d.role, `表头「${label}」出现了两次（${columnLetter(d.first)}列和${columnLetter(d.col)}列），请删除多余的一列`);
  }
  const codeCol = columns.get('unit_code')!;
  for (const key of FIELD_KEYS) {
    if (!columns.has(key)) {
      add(headerRow, null, key, `表头缺少「${FIELD_LABELS[key]}」列（列名可写“${FIELD_LABELS[key]}”或 ${key}）`);
    }
  }
  if (errors.length > 0) return finish();

  const nameCol = columns.get('unit_name');
  const checkNames = ctx.checkNames ?? true;
  const known = ctx.knownNames ?? (checkNames && nameCol !== undefined ? namesIndexOf(ctx.units) : null);
  const codeOfName = (n: string): string | undefined => {
    if (!known) return undefined;
    return (typeof known === 'function' ? known(n) : known.get(n)) ?? undefined;
  };

  // 2. Data rows. Per row: no closures, no per-cell objects or labels unless there is an error, and
  // each registered name normalised once (this loop runs once per unit of a many-unit file).
  const rows: ParsedRow[] = [];
  const seenUnits = new Map<string, number>();
  const onlyUnit = ctx.onlyUnit === undefined ? undefined : normCode(ctx.onlyUnit).toUpperCase();
  const nKeys = FIELD_KEYS.length;
  const valueCols = FIELD_KEYS.map((key) => columns.get(key)!);
  const reads: CellRead[] = new Array(nKeys);
  const normNames = new Map<string, Set<string>>();
  for (const row of sheetRows) {
    const r = row.r;
    if (r < firstDataRow) continue;
    const codeRead = row.cells.get(codeCol) ?? BLANK_READ;
    let anyValue = false;
    for (let i = 0; i < nKeys; i++) {
      const read = row.cells.get(valueCols[i]!) ?? BLANK_READ;
      reads[i] = read;
      if (read.kind !== 'blank') anyValue = true;
    }
    const codeText = codeRead.kind === 'value' ? normCode(String(codeRead.raw instanceof Date ? '' : codeRead.raw)) : '';
    if (!anyValue) continue; // blank row, note row, or a unit that is not reported in this file
    if (TOTAL_ROW_WORDS.has(codeText)) continue;

    let unit: { code: string; name: string; aliases?: readonly string[] } | undefined;
    if (codeRead.kind === 'merged') {
      add(r, codeCol, 'unit_code', '单位代码是合并单元格，请取消合并，每行填写一个单位代码');
    } else if (codeRead.kind === 'error') {
      add(r, codeCol, 'unit_code', `单位代码${codeRead.message}`);
    } else if (codeText === '') {
      add(r, codeCol, 'unit_code', '单位代码未填写（填写了数据的行必须有单位代码）');
    } else {
      unit = lookupUnit(ctx.units, codeText);
      if (!unit) {
        add(r, codeCol, 'unit_code', `单位代码“${codeText.slice(0, 40)}”不存在，请核对（可下载最新模板）`);
      } else if (onlyUnit !== undefined && unit.code.toUpperCase() !== onlyUnit) {
        add(r, codeCol, 'unit_code', `单位代码 ${unit.code}（${unit.name}）不是您所在的单位，您只能报送本单位（${ctx.onlyUnit}）的数据`);
        unit = undefined;
      } else if (seenUnits.has(unit.code)) {
        add(r, codeCol, 'unit_code', `单位代码 ${unit.code} 重复（与第${seenUnits.get(unit.code)}行相同），每个单位只能有一行`);
        unit = undefined;
      } else {
        seenUnits.set(unit.code, r);
        if (checkNames && nameCol !== undefined) {
          const nameRead = row.cells.get(nameCol) ?? BLANK_READ;
          if (nameRead.kind === 'value') {
            const given = String(nameRead.raw instanceof Date ? '' : nameRead.raw);
            let own = normNames.get(unit.code);
            if (own === undefined) normNames.set(unit.code, (own = new Set([unit.name, ...(unit.aliases ?? [])].map(normName))));
            const g = normName(given);
            if (given !== unit.name && !own.has(g)) {
              const shown = given.trim().slice(0, 40);
              const other = codeOfName(g);
              if (other !== undefined && other.toUpperCase() !== unit.code.toUpperCase()) {
                add(r, nameCol, 'unit_name', `单位名称“${shown}”是单位 ${other} 的名称，与单位代码 ${unit.code}（${unit.name}）不是同一个单位，请核对单位代码（或清空单位名称）`);
              } else {
                warn(r, nameCol, 'unit_name', `单位名称“${shown}”与单位代码 ${unit.code} 的登记名称“${unit.name}”不一致，已按单位代码导入，请核对`);
              }
            }
          }
        }
      }
    }

    const values: Partial<Record<FieldKey, number>> = {};
    let nValues = 0;
    for (let i = 0; i < nKeys; i++) {
      const key = FIELD_KEYS[i]!;
      const col = valueCols[i]!;
      const read = reads[i]!;
      if (read.kind === 'merged') {
        add(r, col, key, `「${FIELD_LABELS[key]}」是合并单元格，请取消合并，每格填写一个数`);
      } else if (read.kind === 'error') {
        add(r, col, key, `「${FIELD_LABELS[key]}」${read.message}`);
      } else {
        const parsed = parseWholeNumber(read.kind === 'blank' ? null : read.raw);
        if (parsed.ok) {
          values[key] = parsed.value;
          nValues++;
        } else add(r, col, key, `「${FIELD_LABELS[key]}」${parsed.message}`);
      }
    }
    for (const [field, bound] of AT_MOST_RULES) {
      const v = values[field];
      const b = values[bound];
      if (v !== undefined && b !== undefined && v > b) add(r, columns.get(field)!, field, atMostMessage(field, v, bound, b));
    }
    if (unit && nValues === nKeys) {
      rows.push({ unit: unit.code, name: unit.name, values: values as ReturnValues, row: r });
    }
  }

  if (errors.length > 0) return finish();
  if (rows.length === 0) {
    add(null, null, null, `工作表「${sheet}」中没有可导入的数据行：请在表头（第${headerRow}行）下方按单位逐行填写，只有单位代码而没有任何数值的行不会导入`);
    return finish();
  }
  const fieldColumns = Object.fromEntries(FIELD_KEYS.map((k, i) => [k, columnLetter(valueCols[i]!)])) as Record<FieldKey, string>;
  return { ok: true, sheet, headerRow, rows, warnings, columns: fieldColumns };
}
