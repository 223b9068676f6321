// Reads the bulk user import's account list (用户清单, issue 17) with the bounded reader (xlsx-reader.ts);
// its template and the one-time list of initial passwords are written by user-workbooks.ts. The data
// sheet is the first visible sheet with a header row (a cell 用户名 / username) among its first 20 rows; columns 用户名 (required), 单位代码, 姓名, 角色 (optional; an empty 角色 cell means
// 单位填报员), 单位名称 (for the reader only, ignored). Plain data out: the cells as text, by row; the
// checks of each account are the service's (server/services/users.ts).

import { readListSheet, type ListError, type ListReadOptions } from './list-sheet.ts';

export const USER_LIST_HEADERS = {
  username: ['用户名', '账号', 'username'],
  unit: ['单位代码', 'unit', 'unit_code'],
  displayName: ['姓名', '联系人', 'display_name', 'displayname', 'name'],
  role: ['角色', 'role'],
} as const;

export type UserListColumn = keyof typeof USER_LIST_HEADERS;

export type UserListError = ListError;

export interface UserListRow {
  row: number;
  username: string;
  unit: string;
  displayName: string;
  role: string;
}

export type UserListResult =
  | { ok: true; sheet: string; headerRow: number; columns: Partial<Record<UserListColumn, string>>; rows: UserListRow[] }
  | { ok: false; code: string; message: string; errors: UserListError[] };

/** Reads the account list. File problems (format, zip bomb) are thrown as AppError; content problems returned. */
export async function readUserList(buffer: Buffer, opts: ListReadOptions = {}): Promise<UserListResult> {
  const list = await readListSheet<UserListColumn>(buffer, { headers: USER_LIST_HEADERS, key: 'username' }, opts);
  if (!list.ok) return list;
  const rows = list.rows.map((r) => ({ row: r.row, username: r.text('username'), unit: r.text('unit'), displayName: r.text('displayName'), role: r.text('role') }));
  return { ok: true, sheet: list.sheet, headerRow: list.headerRow, columns: list.columns, rows };
}
