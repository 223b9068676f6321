// The reading shared by the admins' list workbooks (单位清单 unit-list.ts, 用户清单 user-list.ts) with the
// bounded reader (xlsx-reader.ts): the data sheet is the first visible sheet whose first 20 rows hold a
// header cell naming the key column; columns are found by their header (any of its names, compared
// without spaces, full-width forms or case). Cells come out as trimmed text; what they must contain is
// the service's business.

import { checkUpload, type UploadLimits } from './upload-check.ts';
import { columnLetter, readDataSheet, SheetTooLarge, type CellRead, type SheetLimits, type SheetRow } from './xlsx-reader.ts';

export interface ListError {
  sheet: string | null;
  row: number | null;
  column: string | null;
  field: string | null;
  message: string;
}

export interface ListSpec<K extends string> {
  /** Each column's header names; the first is the one shown in messages. */
  headers: Readonly<Record<K, readonly string[]>>;
  /** The column whose header marks the header row (and must be there). */
  key: K;
  /** Columns that must be present besides the key. */
  required?: readonly K[];
}

export interface ListRow<K extends string> {
  row: number;
  /** The cell of column `k` as trimmed text ('' when the column or the cell is missing). */
  text(k: K): string;
}

export type ListSheet<K extends string> =
  | { ok: true; sheet: string; headerRow: number; columns: Partial<Record<K, string>>; rows: ListRow<K>[] }
  | { ok: false; code: string; message: string; errors: ListError[] };

export interface ListReadOptions {
  limits?: Partial<UploadLimits>;
  sheetLimits?: Partial<SheetLimits>;
}

const norm = (s: string) => s.normalize('NFKC').replace(/[\s\u3000]/g, '').toLowerCase();

function cellText(c: CellRead | undefined): string {
  if (!c || c.kind !== 'value') return '';
  if (c.raw instanceof Date) return c.raw.toISOString();
  return String(c.raw).trim();
}

/** Reads a list workbook. File problems (format, zip bomb) are thrown as AppError; content problems returned. */
export async function readListSheet<K extends string>(buffer: Buffer, spec: ListSpec<K>, opts: ListReadOptions = {}): Promise<ListSheet<K>> {
  const columnOf = new Map<string, K>();
  for (const [k, names] of Object.entries(spec.headers) as [K, readonly string[]][]) for (const n of names) columnOf.set(norm(n), k);
  const columnsOf = (header: SheetRow | undefined): Map<K, number> => {
    const cols = new Map<K, number>();
    if (!header) return cols;
    for (const col of [...header.cells.keys()].sort((a, b) => a - b)) {
      const k = columnOf.get(norm(cellText(header.cells.get(col))));
      if (k && !cols.has(k)) cols.set(k, col);
    }
    return cols;
  };
  const keyName = spec.headers[spec.key][0];
  const summary = checkUpload(buffer, opts.limits);
  let data: Awaited<ReturnType<typeof readDataSheet>>;
  try {
    data = await readDataSheet(
      buffer,
      {
        isHeaderCell: (t) => columnOf.get(norm(t)) === spec.key,
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
      ? `工作表${names}的前 20 行中${data.looked.length > 1 ? '都' : ''}没有找到「${keyName}」表头`
      : '工作簿中没有可见的工作表';
    return { ok: false, code: 'invalid_file', message, errors: [{ sheet: data.looked.length === 1 ? data.looked[0]! : null, row: null, column: null, field: spec.key, message }] };
  }
  const sheet = data.sheet;
  const cols = columnsOf(data.rows.find((r) => r.r === data.headerRow));
  const missing: ListError[] = (spec.required ?? [])
    .filter((k) => !cols.has(k))
    .map((k) => ({ sheet, row: data.headerRow, column: null, field: k, message: `缺少「${spec.headers[k][0]}」列` }));
  if (missing.length) return { ok: false, code: 'invalid_file', message: missing.map((e) => e.message).join('；'), errors: missing };
  const rows: ListRow<K>[] = [];
  for (const row of data.rows) {
    if (row.r <= data.headerRow) continue;
    rows.push({ row: row.r, text: (k) => (cols.has(k) ? cellText(row.cells.get(cols.get(k)!)) : '') });
  }
  const columns: Partial<Record<K, string>> = {};
  for (const [k, c] of cols) columns[k] = columnLetter(c);
  return { ok: true, sheet, headerRow: data.headerRow, columns, rows };
}
