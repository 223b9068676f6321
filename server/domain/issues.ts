// Errors and warnings as a table a person can work through (issue 14 item 4): one line per problem
// with its sheet, row, column and field, and ONE line per row that is refused whole (another unit's
// row, an unknown or duplicate code…) instead of that row's every value problem. Pure: problems in,
// table lines out. The API keeps listing every problem (SPEC §6); this is only how pages show them.
import { FIELD_LABELS, isFieldKey } from './fields.ts';

/** The shape of SPEC §6 / §7 errors and warnings (an upload's), or a web form's {field, message}. */
export interface Problem {
  sheet?: string | null;
  row?: number | null;
  column?: string | null;
  field?: string | null;
  message: string;
}

export interface IssueLine {
  kind: 'error' | 'warning';
  sheet: string | null;
  row: number | null;
  column: string | null;
  field: string | null;
  /** The field's Chinese label ('单位代码' for a unit problem), or null. */
  fieldLabel: string | null;
  /** The message without its leading "第N行 X列" (the table's own columns say where). */
  message: string;
  /** Problems of the same row not listed because the whole row is refused (0 for none). */
  folded: number;
  /** Whether this line refuses its whole row. */
  wholeRow: boolean;
}

/** Fields whose problem refuses the whole row: the row's unit is not one this file may report. */
const ROW_FIELDS = new Set(['unit_code', 'unit']);

export function fieldLabelOf(field: string | null | undefined): string | null {
  if (!field) return null;
  if (isFieldKey(field)) return FIELD_LABELS[field];
  if (field === 'unit_code' || field === 'unit') return '单位代码';
  if (field === 'unit_name') return '单位名称';
  return null;
}

/** "第12行 C列 「信息系统总数」…" → "「信息系统总数」…" when row 12 and column C are the line's own. */
function withoutPlace(message: string, row: number | null, column: string | null): string {
  if (row === null) return message;
  const place = `第${row}行${column ? ` ${column}列` : ''}`;
  if (message.startsWith(place)) return message.slice(place.length).trimStart() || message;
  return message;
}

function line(kind: IssueLine['kind'], p: Problem): IssueLine {
  const row = p.row ?? null;
  const column = p.column ?? null;
  return {
    kind,
    sheet: p.sheet ?? null,
    row,
    column,
    field: p.field ?? null,
    fieldLabel: fieldLabelOf(p.field),
    message: withoutPlace(p.message, row, column),
    folded: 0,
    wholeRow: false,
  };
}

/**
 * Errors first (in the order given, a refused row's other problems folded into its line), then the
 * warnings (of rows not refused; a refused row's warnings are moot).
 */
export function issueTable(errors: readonly Problem[], warnings: readonly Problem[] = []): IssueLine[] {
  const refusedRows = new Map<string, IssueLine[]>();
  const key = (p: Problem) => `${p.sheet ?? ''}\u0000${p.row}`;
  const out: IssueLine[] = [];
  for (const p of errors) {
    if (p.row === null || p.row === undefined || !ROW_FIELDS.has(p.field ?? '')) continue;
    const l = { ...line('error', p), wholeRow: true };
    const k = key(p);
    refusedRows.set(k, [...(refusedRows.get(k) ?? []), l]);
  }
  const emitted = new Set<string>();
  for (const p of errors) {
    const hasRow = p.row !== null && p.row !== undefined;
    const k = key(p);
    const refused = hasRow ? refusedRows.get(k) : undefined;
    if (!refused) {
      out.push(line('error', p));
      continue;
    }
    if (ROW_FIELDS.has(p.field ?? '')) {
      if (!emitted.has(k)) {
        emitted.add(k);
        out.push(...refused);
      }
    } else {
      refused[refused.length - 1]!.folded++;
    }
  }
  for (const p of warnings) {
    if (p.row !== null && p.row !== undefined && refusedRows.has(key(p))) continue;
    out.push(line('warning', p));
  }
  return out;
}
