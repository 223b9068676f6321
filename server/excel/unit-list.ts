// Reads an admin's unit list (单位清单) workbook with the bounded reader (xlsx-reader.ts): the data
// sheet is the first visible sheet with a header row (a cell 单位代码 / code / unit_code) among its first
// 20 rows; columns 单位代码, 单位名称, 单位类别, optional 上级单位代码 and 简称 / 别名 (aliases, several
// separated by 、 , ， ; ； or a line break). Plain data out: the cells as text, by row; the checks of
// each unit are the service's (server/services/units.ts).

import { readListSheet, type ListError, type ListReadOptions } from './list-sheet.ts';

export const UNIT_LIST_HEADERS = {
  code: ['单位代码', 'code', 'unit_code'],
  name: ['单位名称', 'name', 'unit_name'],
  category: ['单位类别', '类别', 'category'],
  parent: ['上级单位代码', '上级单位', 'parent'],
  aliases: ['简称', '别名', '单位简称', '简称/别名', '简称（别名）', 'aliases', 'alias'],
} as const;

export type UnitListColumn = keyof typeof UNIT_LIST_HEADERS;

export type UnitListError = ListError;

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

/** Splits an aliases cell: 、 , ， ; ； and line breaks separate names; blanks and repeats dropped. */
export function splitAliases(s: string): string[] {
  const out: string[] = [];
  for (const part of s.split(/[、,，;；\n\r]+/)) {
    const t = part.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Reads the unit list. File problems (format, zip bomb) are thrown as AppError; content problems returned. */
export async function readUnitList(buffer: Buffer, opts: ListReadOptions = {}): Promise<UnitListResult> {
  const list = await readListSheet<UnitListColumn>(buffer, { headers: UNIT_LIST_HEADERS, key: 'code', required: ['name', 'category'] }, opts);
  if (!list.ok) return list;
  const rows = list.rows.map((r) => ({ row: r.row, code: r.text('code'), name: r.text('name'), category: r.text('category'), parent: r.text('parent'), aliases: splitAliases(r.text('aliases')) }));
  return { ok: true, sheet: list.sheet, headerRow: list.headerRow, columns: list.columns, rows };
}
