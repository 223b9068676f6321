// Parses an uploaded returns workbook (SPEC §6). Buffer + plain context in, plain data out.
// All-or-nothing: either every data row is valid and returned, or every problem is listed.
//
// Rules (where the spec was silent, the decision is written here):
// - The sheet read is the first VISIBLE worksheet in tab order (a hidden first sheet can't be what the
//   user filled in).
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
// - Unit name column (单位名称 / unit_name) is optional. When present and filled it must match the
//   unit's registered name (after ignoring spaces / full-width differences): a mismatch is an error,
//   because it usually means the code was typed for the wrong unit. Leave it blank to skip the check
//   (ctx.checkNames = false turns it off).
// - Formula cells count by their cached result; a formula with no cached result (written by a tool
//   that does not calculate) or an error result (#DIV/0!) is an error.
// - A value cell that is the non-first cell of a merged range is an error (it has no value of its own).

import ExcelJS from 'exceljs';
import { AppError } from '../domain/errors.ts';
import { AT_MOST_RULES, FIELD_KEYS, FIELD_LABELS, RETURN_FIELDS, type FieldKey, type ReturnValues } from '../domain/fields.ts';
import { atMostMessage, parseWholeNumber } from '../domain/validation.ts';
import { checkUpload, type UploadLimits } from './upload-check.ts';

export interface UnitInfo {
  code?: string;
  name: string;
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

export type ParseResult =
  | { ok: true; sheet: string; headerRow: number; rows: ParsedRow[] }
  | { ok: false; errors: UploadError[] };

export const HEADER_SEARCH_ROWS = 20;

/** Excel column letters for a 1-based column number. */
export function columnLetter(col: number): string {
  let s = '';
  let n = col;
  while (n > 0) {
    const r = (n - 1) % 26;
    s = String.fromCharCode(65 + r) + s;
    n = Math.floor((n - 1) / 26);
  }
  return s;
}

// ---- cell reading ----

type CellRead =
  | { kind: 'blank' }
  | { kind: 'merged' }
  | { kind: 'value'; raw: unknown }
  | { kind: 'error'; message: string };

function richTextOf(v: { richText: { text?: string }[] }): string {
  return v.richText.map((r) => r.text ?? '').join('');
}

/** The value of a cell as the user sees it, without exceljs's wrappers. */
function readCell(cell: ExcelJS.Cell): CellRead {
  if (cell.type === ExcelJS.ValueType.Merge) return { kind: 'merged' };
  return readValue(cell.value);
}

function readValue(v: unknown): CellRead {
  if (v === null || v === undefined) return { kind: 'blank' };
  if (typeof v === 'string') return v.replace(/[\s\u00a0\u3000\u200b\ufeff]/g, '') === '' ? { kind: 'blank' } : { kind: 'value', raw: v };
  if (typeof v !== 'object' || v instanceof Date) return { kind: 'value', raw: v };
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.richText)) return readValue(richTextOf(o as { richText: { text?: string }[] }));
  if ('formula' in o || 'sharedFormula' in o) {
    const result = o.result;
    if (result === undefined || result === null) {
      return { kind: 'error', message: '是公式但没有保存计算结果，请在 Excel 或 WPS 中打开并重新保存后上传' };
    }
    if (typeof result === 'object' && !(result instanceof Date) && 'error' in (result as object)) {
      return { kind: 'error', message: `公式的结果为错误值 ${String((result as { error: unknown }).error)}` };
    }
    return readValue(result);
  }
  if ('error' in o) return { kind: 'error', message: `是错误值 ${String(o.error)}` };
  if ('text' in o) return readValue(o.text); // hyperlink cell
  return { kind: 'value', raw: String(v) };
}

/** Text of a header cell (any type), '' if none. */
function cellText(cell: ExcelJS.Cell): string {
  const r = readCell(cell);
  if (r.kind !== 'value') return '';
  return r.raw instanceof Date ? '' : String(r.raw);
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

function lookupUnit(units: UnitLookup, code: string): { code: string; name: string } | undefined {
  const tryOne = (c: string) => {
    const u = typeof units === 'function' ? units(c) : units.get(c);
    return u ? { code: u.code ?? c, name: u.name } : undefined;
  };
  return tryOne(code) ?? (code.toUpperCase() !== code ? tryOne(code.toUpperCase()) : undefined);
}

// ---- the parser ----

/**
 * Parses a returns workbook. Runs {@link checkUpload} first: problems with the file itself (size,
 * format, corrupt, zip bomb) are thrown as AppError; problems with its content are returned as
 * {ok: false, errors} — every one of them, in row order.
 */
export async function parseReturnsWorkbook(buffer: Buffer, ctx: ParseContext): Promise<ParseResult> {
  if (!ctx.prechecked) checkUpload(buffer, ctx.limits);
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(buffer as unknown as ExcelJS.Buffer);
  } catch (x) {
    throw new AppError(422, 'corrupt_file', `文件已损坏或不是有效的 .xlsx 工作簿（${String((x as Error).message).slice(0, 80)}），请在 Excel 或 WPS 中重新保存后上传`);
  }
  return parseWorkbook(wb, ctx);
}

/** The parser proper, on a loaded exceljs workbook. */
export function parseWorkbook(wb: ExcelJS.Workbook, ctx: ParseContext): ParseResult {
  const sheets = wb.worksheets;
  const ws = sheets.find((s) => s.state !== 'hidden' && s.state !== 'veryHidden') ?? sheets[0];
  if (!ws) return { ok: false, errors: [{ sheet: null, row: null, column: null, field: null, message: '工作簿中没有工作表' }] };
  const sheet = ws.name;
  const maxErrors = ctx.maxErrors ?? 1000;
  const errors: UploadError[] = [];
  let dropped = 0;
  const add = (row: number | null, col: number | null, field: string | null, message: string) => {
    if (errors.length >= maxErrors) {
      dropped++;
      return;
    }
    const column = col === null ? null : columnLetter(col);
    const where = row === null ? '' : `第${row}行${column === null ? '' : ` ${column}列`}`;
    const sep = where === '' || message.startsWith('「') ? '' : ' ';
    errors.push({ sheet, row, column, field, message: `${where}${sep}${message}` });
  };
  const finish = (): ParseResult => {
    if (dropped > 0) {
      errors.push({ sheet, row: null, column: null, field: null, message: `错误过多，另有 ${dropped} 处错误未列出，请修正以上错误后重新上传` });
    }
    return { ok: false, errors };
  };

  // 1. Header row.
  let headerRow = 0;
  for (let r = 1; r <= HEADER_SEARCH_ROWS && !headerRow; r++) {
    const row = ws.findRow(r);
    if (!row) continue;
    row.eachCell((cell) => {
      if (!headerRow && roleOf(cellText(cell)) === 'unit_code') headerRow = r;
    });
  }
  if (!headerRow) {
    add(null, null, 'unit_code', `工作表「${sheet}」的前 ${HEADER_SEARCH_ROWS} 行中找不到表头行（表头行应有一格写“单位代码”或 unit_code）`);
    return finish();
  }

  // 2. Columns.
  const columns = new Map<ColumnRole, number>();
  const duplicate = new Set<ColumnRole>();
  const readHeaderLine = (rowNo: number, fillOnly: boolean) => {
    const row = ws.getRow(rowNo);
    const seen = new Map<ColumnRole, number>();
    row.eachCell((cell, col) => {
      if (cell.type === ExcelJS.ValueType.Merge) return;
      const role = roleOf(cellText(cell));
      if (!role) return;
      if (seen.has(role)) {
        if (!fillOnly && !duplicate.has(role)) {
          duplicate.add(role);
          const label = role === 'unit_code' ? '单位代码' : role === 'unit_name' ? '单位名称' : FIELD_LABELS[role];
          add(rowNo, col, role, `表头「${label}」出现了两次（${columnLetter(seen.get(role)!)}列和${columnLetter(col)}列），请删除多余的一列`);
        }
        return;
      }
      seen.set(role, col);
      if (!columns.has(role)) columns.set(role, col);
    });
  };
  readHeaderLine(headerRow, false);
  const codeCol = columns.get('unit_code')!;

  // Further header lines (e.g. the template's key line) directly below.
  let firstDataRow = headerRow + 1;
  while (firstDataRow <= headerRow + 5) {
    const c = readCell(ws.getRow(firstDataRow).getCell(codeCol));
    if (c.kind === 'value' && roleOf(String(c.raw)) === 'unit_code') {
      readHeaderLine(firstDataRow, true);
      firstDataRow++;
    } else break;
  }

  for (const key of FIELD_KEYS) {
    if (!columns.has(key)) {
      add(headerRow, null, key, `表头缺少「${FIELD_LABELS[key]}」列（列名可写“${FIELD_LABELS[key]}”或 ${key}）`);
    }
  }
  if (errors.length > 0) return finish();

  const nameCol = columns.get('unit_name');
  const checkNames = ctx.checkNames ?? true;

  // 3. Data rows. Per row: no closures, no per-cell objects or labels unless there is an error, and
  // each registered name normalised once (this loop runs once per unit of a many-unit file).
  const rows: ParsedRow[] = [];
  const seenUnits = new Map<string, number>();
  const onlyUnit = ctx.onlyUnit === undefined ? undefined : normCode(ctx.onlyUnit).toUpperCase();
  const nKeys = FIELD_KEYS.length;
  const valueCols = FIELD_KEYS.map((key) => columns.get(key)!);
  const reads: CellRead[] = new Array(nKeys);
  const normNames = new Map<string, string>();
  ws.eachRow({ includeEmpty: false }, (row, r) => {
    if (r < firstDataRow) return;
    const codeRead = readCell(row.getCell(codeCol));
    let anyValue = false;
    for (let i = 0; i < nKeys; i++) {
      const read = readCell(row.getCell(valueCols[i]!));
      reads[i] = read;
      if (read.kind !== 'blank') anyValue = true;
    }
    const codeText = codeRead.kind === 'value' ? normCode(String(codeRead.raw instanceof Date ? '' : codeRead.raw)) : '';
    if (!anyValue) return; // blank row, note row, or a unit that is not reported in this file
    if (TOTAL_ROW_WORDS.has(codeText)) return;

    let unit: { code: string; name: string } | undefined;
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
          const nameRead = readCell(row.getCell(nameCol));
          if (nameRead.kind === 'value') {
            const given = String(nameRead.raw);
            let registered = normNames.get(unit.name);
            if (registered === undefined) normNames.set(unit.name, (registered = normName(unit.name)));
            if (given !== unit.name && normName(given) !== registered) {
              add(r, nameCol, 'unit_name', `单位名称“${given.trim().slice(0, 40)}”与单位代码 ${unit.code} 的登记名称“${unit.name}”不一致，请核对单位代码（或清空单位名称）`);
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
  });

  if (errors.length > 0) return finish();
  if (rows.length === 0) {
    add(null, null, null, `工作表「${sheet}」中没有可导入的数据行：请在表头（第${headerRow}行）下方按单位逐行填写，只有单位代码而没有任何数值的行不会导入`);
    return finish();
  }
  return { ok: true, sheet, headerRow, rows };
}
