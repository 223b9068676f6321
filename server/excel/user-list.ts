// Reads the bulk user import's account list (用户清单, issue 17) with the bounded reader (xlsx-reader.ts);
// its template and the one-time list of initial passwords are written by user-workbooks.ts. The data
// sheet is the first visible sheet with a header row (a cell 用户名 / username) among its first 20 rows; columns 用户名 (required), 单位代码, 姓名, 角色 (optional; an empty 角色 cell means
// 单位填报员), 单位名称 (for the reader only, ignored). Plain data out: the cells as text, by row; the
// checks of each account are the service's (server/services/users.ts).

import { checkUpload, type UploadLimits } from './upload-check.ts';
import { columnLetter, readDataSheet, SheetTooLarge, type CellRead, type SheetLimits, type SheetRow } from './xlsx-reader.ts';

export const USER_LIST_HEADERS = {
  username: ['用户名', '账号', 'username'],
  unit: ['单位代码', 'unit', 'unit_code'],
  displayName: ['姓名', '联系人', 'display_name', 'displayname', 'name'],
  role: ['角色', 'role'],
} as const;

export type UserListColumn = keyof typeof USER_LIST_HEADERS;

export interface UserListError {
  sheet: string | null;
  row: number | null;
  column: string | null;
  field: string | null;
  message: string;
}

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

const norm = (s: string) => s.normalize('NFKC').replace(/[\s\u3000]/g, '').toLowerCase();

const ROLE_OF = new Map<string, UserListColumn>();
for (const [k, names] of Object.entries(USER_LIST_HEADERS)) for (const n of names) ROLE_OF.set(norm(n), k as UserListColumn);

function text(c: CellRead | undefined): string {
  if (!c || c.kind !== 'value') return '';
  if (c.raw instanceof Date) return c.raw.toISOString();
  return String(c.raw).trim();
}

function columnsOf(header: SheetRow | undefined): Map<UserListColumn, number> {
  const cols = new Map<UserListColumn, number>();
  if (!header) return cols;
  for (const col of [...header.cells.keys()].sort((a, b) => a - b)) {
    const role = ROLE_OF.get(norm(text(header.cells.get(col))));
    if (role && !cols.has(role)) cols.set(role, col);
  }
  return cols;
}

/** Reads the account list. File problems (format, zip bomb) are thrown as AppError; content problems returned. */
export async function readUserList(buffer: Buffer, opts: { limits?: Partial<UploadLimits>; sheetLimits?: Partial<SheetLimits> } = {}): Promise<UserListResult> {
  const summary = checkUpload(buffer, opts.limits);
  let data: Awaited<ReturnType<typeof readDataSheet>>;
  try {
    data = await readDataSheet(
      buffer,
      {
        isHeaderCell: (t) => ROLE_OF.get(norm(t)) === 'username',
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
      ? `工作表${names}的前 20 行中${data.looked.length > 1 ? '都' : ''}没有找到「用户名」表头`
      : '工作簿中没有可见的工作表';
    return { ok: false, code: 'invalid_file', message, errors: [{ sheet: data.looked.length === 1 ? data.looked[0]! : null, row: null, column: null, field: 'username', message }] };
  }
  const sheet = data.sheet;
  const cols = columnsOf(data.rows.find((r) => r.r === data.headerRow));
  const get = (row: SheetRow, k: UserListColumn) => (cols.has(k) ? text(row.cells.get(cols.get(k)!)) : '');
  const rows: UserListRow[] = [];
  for (const row of data.rows) {
    if (row.r <= data.headerRow) continue;
    rows.push({ row: row.r, username: get(row, 'username'), unit: get(row, 'unit'), displayName: get(row, 'displayName'), role: get(row, 'role') });
  }
  const columns: Partial<Record<UserListColumn, string>> = {};
  for (const [k, c] of cols) columns[k] = columnLetter(c);
  return { ok: true, sheet, headerRow: data.headerRow, columns, rows };
}
