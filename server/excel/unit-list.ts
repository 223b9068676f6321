// Reads an admin's unit list (单位清单) workbook with the bounded reader (xlsx-reader.ts): the data
// sheet is the first visible sheet with a header row (a cell 单位代码 / code / unit_code) among its first
// 20 rows; columns 单位代码, 单位名称, 单位类别, optional 上级单位代码 and 简称 / 别名 (aliases, several
// separated by 、 , ， ; ； or a line break). Plain data out: the cells as text, by row; the checks of
// each unit are the service's (server/services/units.ts).

import { checkUpload, type UploadLimits } from './upload-check.ts';
import { columnLetter, readDataSheet, SheetTooLarge, type CellRead, type SheetLimits, type SheetRow } from './xlsx-reader.ts';

export const UNIT_LIST_HEADERS = {
  code: ['单位代码', 'code', 'unit_code'],
  name: ['单位名称', 'name', 'unit_name'],
  category: ['单位类别', '类别', 'category'],
  parent: ['上级单位代码', '上级单位', 'parent'],
  aliases: ['简称', '别名', '单位简称', '简称/别名', '简称（别名）', 'aliases', 'alias'],
} as const;

export type UnitListColumn = keyof typeof UNIT_LIST_HEADERS;

export interface UnitListError {
  sheet: string | null;
  row: number | null;
  column: string | null;
  field: string | null;
  message: string;
}

export interface UnitListRow {
  row: number;
  code: string;
  name: string;
  category: string;
  parent: string;
  /** The 简称 / 别名 cell split into names (empty when there is no such column or cell). */
  aliases: string[];
}

export type UnitListResult =
  | { ok: true; sheet: string; headerRow: number; columns: Partial<Record<UnitListColumn, string>>; rows: UnitListRow[] }
  | { ok: false; code: string; message: string; errors: UnitListError[] };

const norm = (s: string) => s.normalize('NFKC').replace(/[\s\u3000]/g, '').toLowerCase();

const ROLE_OF = new Map<string, UnitListColumn>();
for (const [k, names] of Object.entries(UNIT_LIST_HEADERS)) for (const n of names) ROLE_OF.set(norm(n), k as UnitListColumn);

function text(c: CellRead | undefined): string {
  if (!c || c.kind !== 'value') return '';
  if (c.raw instanceof Date) return c.raw.toISOString();
  return String(c.raw).trim();
}

/** Splits an aliases cell: 、 , ， ; ； and line breaks separate names; blanks and repeats dropped. */
export function splitAliases(s: string): string[] {
  const out: string[] = [];
  for (const part of s.split(/[、,，;；\n\r]+/)) {
    const t = part.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

function columnsOf(header: SheetRow | undefined): Map<UnitListColumn, number> {
  const cols = new Map<UnitListColumn, number>();
  if (!header) return cols;
  for (const col of [...header.cells.keys()].sort((a, b) => a - b)) {
    const role = ROLE_OF.get(norm(text(header.cells.get(col))));
    if (role && !cols.has(role)) cols.set(role, col);
  }
  return cols;
}

/** Reads the unit list. File problems (format, zip bomb) are thrown as AppError; content problems returned. */
export async function readUnitList(buffer: Buffer, opts: { limits?: Partial<UploadLimits>; sheetLimits?: Partial<SheetLimits> } = {}): Promise<UnitListResult> {
  const summary = checkUpload(buffer, opts.limits);
  let data: Awaited<ReturnType<typeof readDataSheet>>;
  try {
    data = await readDataSheet(
      buffer,
      {
        isHeaderCell: (t) => ROLE_OF.get(norm(t)) === 'code',
        headerLines: 0,
        keepColumns: (rows) => columnsOf(rows[0]).values(),
        ...(opts.sheetLimits ? { limits: opts.sheetLimits } : {}),
      },
      summary.entries,
    );
  } catch (x) {
    if (x instanceof SheetTooLarge) return { ok: false, code: x.code, message: x.message, errors: [x.error] };
    throw x;
  }
  if (!data.found) {
    const names = data.looked.map((n) => `「${n}」`).join('、');
    const message = data.looked.length
      ? `工作表${names}的前 20 行中${data.looked.length > 1 ? '都' : ''}没有找到「单位代码」表头`
      : '工作簿中没有可见的工作表';
    return { ok: false, code: 'invalid_file', message, errors: [{ sheet: data.looked.length === 1 ? data.looked[0]! : null, row: null, column: null, field: 'code', message }] };
  }
  const sheet = data.sheet;
  const header = data.rows.find((r) => r.r === data.headerRow);
  const cols = columnsOf(header);
  const errors: UnitListError[] = [];
  for (const k of ['name', 'category'] as const) {
    if (!cols.has(k)) errors.push({ sheet, row: data.headerRow, column: null, field: k, message: `缺少「${UNIT_LIST_HEADERS[k][0]}」列` });
  }
  if (errors.length) return { ok: false, code: 'invalid_file', message: errors.map((e) => e.message).join('；'), errors };
  const get = (row: SheetRow, k: UnitListColumn) => (cols.has(k) ? text(row.cells.get(cols.get(k)!)) : '');
  const rows: UnitListRow[] = [];
  for (const row of data.rows) {
    if (row.r <= data.headerRow) continue;
    rows.push({ row: row.r, code: get(row, 'code'), name: get(row, 'name'), category: get(row, 'category'), parent: get(row, 'parent'), aliases: splitAliases(get(row, 'aliases')) });
  }
  const columns: Partial<Record<UnitListColumn, string>> = {};
  for (const [k, c] of cols) columns[k] = columnLetter(c);
  return { ok: true, sheet, headerRow: data.headerRow, columns, rows };
}
