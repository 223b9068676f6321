// Assessment workbooks (考核表, SPEC §6 and issue 5 part 3): plain data in, an xlsx stream out.
//
// - writeAssessmentWorkbook: ranking sheet first (frozen header, number formats, fill by grade,
//   A4 landscape, header row repeated on every printed page, fit to width, page header/footer with
//   title, period and page numbers), then the returns sheet and the accountability cases sheet.
// - writeUnitWorkbook: a printable single-unit sheet with a signature block.
// - writeAnnualWorkbook: the annual results with merit (评先评优) eligibility.
// All are written with exceljs's streaming WorkbookWriter (rows are committed as they are written),
// so a large workbook never sits whole in memory. The *Buffer variants collect the stream.
//
// Text from users (unit names, reasons, submitter names …) is only ever written as a string cell
// with the text number format "@": it can never become a formula, even one starting with = + - @.

import { CASE_STATUS_LABELS, FLAG_LABELS, labelOf, RETURN_STATUS_LABELS, RULE_LABELS, SOURCE_LABELS } from '../domain/vocabulary.ts';
import { PassThrough, type Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { FIELD_KEYS, FIELD_LABELS, UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type FieldKey } from '../domain/fields.ts';
import { formatDateTime, periodTitle } from './template.ts';
import { columnLetter } from './upload-parse.ts';

// ---- input types (mirroring GET /api/v1/results/:period, SPEC §7) ----

export interface IndicatorCell {
  value: number | null;
  score: number | null;
  applicable: boolean;
}

export interface ResultRow {
  unit: string;
  name: string;
  category: string;
  indicators: Record<string, IndicatorCell | undefined>;
  base: number | null;
  deductions: number | null;
  total: number | null;
  grade: string | null;
  rank: number | null;
  rankChange: number | null;
  flags: readonly string[];
}

export interface IndicatorDef {
  id: string;
  name: string;
  weight?: number;
}

export interface ReturnRow {
  unit: string;
  name?: string;
  revision?: number | null;
  values?: Partial<Record<FieldKey, number>> | null;
  status?: string | null;
  late?: boolean | null;
  submittedAt?: string | Date | null;
  submittedBy?: string | null;
  source?: string | null;
}

export interface CaseRow {
  unit: string;
  name?: string;
  period: string;
  rule: string;
  type: string;
  status: string;
  dueAt?: string | Date | null;
  openedAt?: string | Date | null;
  reason?: string | null;
  resolvedAt?: string | Date | null;
  /** Rectification reports submitted, and the latest one with the reviewer's decision (整改、核查). */
  rectificationCount?: number;
  lastRectification?: { at: string | Date; decision: 'accept' | 'return' | null; decidedAt: string | Date | null; comment: string } | null;
  /** The due date before the first granted extension (延期), when one was granted. */
  extendedFrom?: string | Date | null;
}

const DECISION_LABELS: Record<string, string> = { accept: '核查通过（销号）', return: '退回整改' };

/** 整改情况 of a case in one line (dates by `fmt`); '' when none was submitted. */
function rectificationText(c: CaseRow, fmt: (d: string | Date) => string): string {
  const r = c.lastRectification;
  if (!r) return '';
  const head = `已提交 ${c.rectificationCount ?? 1} 次，最近 ${fmt(r.at)}`;
  if (!r.decision) return `${head}，待核查`;
  return `${head}；${fmt(r.decidedAt ?? r.at)} ${DECISION_LABELS[r.decision] ?? r.decision}${r.comment ? `：${r.comment}` : ''}`;
}

/** What the period workbook and the single-unit sheet both take. */
export interface PeriodWorkbookCommon {
  period: string;
  status: 'provisional' | 'final';
  schemeVersion?: number | null;
  /** When the file is made (shown in the footer). Pass clock.now(). */
  generatedAt: Date;
  /** Time zone for every date shown. Default Asia/Shanghai. */
  timeZone?: string;
  /** The indicators of the scheme version the results were computed with, in order. */
  indicators: readonly IndicatorDef[];
  cases?: readonly CaseRow[];
}

export interface AssessmentWorkbookInput extends PeriodWorkbookCommon {
  /**
   * Every unit's result: an array in any order (sorted here), or a stream — e.g. from a cursor — in the
   * store's result order (category, rank, unranked last, code), which is written as it comes (ties
   * of a rank are put in the sheet's order among themselves): a period of any size is never held whole.
   */
  results: readonly ResultRow[] | AsyncIterable<ResultRow>;
  /** The returns sheet's rows, in the order written (by unit code); an array or a stream. */
  returns?: readonly ReturnRow[] | AsyncIterable<ReturnRow>;
}

export interface UnitWorkbookInput extends PeriodWorkbookCommon {
  result: ResultRow;
  /** How many units are ranked in the unit's category (for "第 3 名 / 共 87 家"). */
  rankedInCategory?: number | null;
  returnRow?: ReturnRow | null;
  /** 提分路径 (server/domain/scoring/improve.ts): the heading, one line per suggestion, or why there is none. Absent: no section. */
  improve?: { heading: string; lines: readonly string[]; note: string | null } | null;
}

/** The merged B:E cell of the single-unit sheet holds about this many Latin characters per line. */
const UNIT_SHEET_VALUE_WIDTH = 62;

/** Lines a text takes in a cell `width` characters wide (CJK and full-width characters count twice). */
export function wrappedLines(text: string, width: number): number {
  let lines = 0;
  for (const part of text.split('\n')) {
    let w = 0;
    for (const ch of part) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
    lines += Math.max(1, Math.ceil(w / width));
  }
  return lines;
}

export interface AnnualRow {
  unit: string;
  name?: string;
  category: string;
  total: number | null;
  grade: string | null;
  rank: number | null;
  eligible: boolean;
  /** Quarterly totals by period (e.g. {"2026Q1": 85.2, …}); optional. */
  quarters?: Record<string, number | null>;
  /** Why not eligible; optional. */
  reasons?: readonly string[];
}

export interface AnnualWorkbookInput {
  year: number | string;
  final?: boolean;
  schemeVersion?: number | null;
  generatedAt: Date;
  timeZone?: string;
  results: readonly AnnualRow[];
}


// ---- labels ----

export const GRADE_FILLS: Readonly<Record<string, string>> = {
  优秀: 'FFC6EFCE',
  良好: 'FFDDEBF7',
  合格: 'FFFFF2CC',
  不合格: 'FFFFC7CE',
};

const categoryLabel = (c: string) => (UNIT_CATEGORY_LABELS as Record<string, string>)[c] ?? c;
const statusLabel = (s: 'provisional' | 'final') => (s === 'final' ? '正式结果' : '暂定结果');

// ---- cell helpers ----

const thin = { style: 'thin' as const, color: { argb: 'FFBFBFBF' } };
const BORDER: Partial<ExcelJS.Borders> = { top: thin, left: thin, bottom: thin, right: thin };
const solid = (argb: string): ExcelJS.Fill => ({ type: 'pattern', pattern: 'solid', fgColor: { argb } });
const HEADER_FILL = solid('FF1F4E78');
const HEADER_FONT: Partial<ExcelJS.Font> = { bold: true, color: { argb: 'FFFFFFFF' } };

/**
 * A user-supplied string made safe for a cell: a plain string (never a formula object), without
 * control characters that are invalid in XML. exceljs writes it as a string cell; with the "@"
 * format Excel keeps it text even if someone edits the cell and presses Enter.
 */
export function safeText(v: unknown): string {
  if (v === null || v === undefined) return '';
  // eslint-disable-next-line no-control-regex
  return String(v).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
}

/** Text of the page header/footer: "&" starts a code there and must be doubled. */
function hfText(s: string): string {
  return s.replace(/&/g, '&&');
}

interface Col {
  header: string;
  width: number;
  /** number format for numbers in this column */
  numFmt?: string;
  text?: boolean;
}

type Cell = string | number | null;

function styleHeader(row: ExcelJS.Row, count: number) {
  for (let i = 1; i <= count; i++) {
    const c = row.getCell(i);
    c.fill = HEADER_FILL;
    c.font = HEADER_FONT;
    c.border = BORDER;
    c.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
  }
  row.height = 48;
}

/**
 * Cell styles are shared objects, one per (column, kind, fill), built once per column list: exceljs's
 * streaming writer maps a style object it has seen to its style id with one WeakMap lookup, whereas a
 * fresh object per cell would be serialised and deduplicated cell by cell. (Column-level styles,
 * `ws.columns[i].style`, would not help: exceljs merges them into a new object for every cell.)
 */
const KIND_NUMBER = 0;
const KIND_EMPTY = 1;
const KIND_TEXT = 2;
type Kind = typeof KIND_NUMBER | typeof KIND_EMPTY | typeof KIND_TEXT;

class ColumnStyles {
  /** [column * 3 + kind] without a fill */
  private readonly plain: Partial<ExcelJS.Style>[] = [];
  /** fill → [column * 3 + kind] */
  private readonly filled = new Map<string, Partial<ExcelJS.Style>[]>();
  constructor(private readonly cols: readonly Col[]) {}

  get(i: number, kind: Kind, fillArgb: string | undefined): Partial<ExcelJS.Style> {
    let table = this.plain;
    if (fillArgb) {
      table = this.filled.get(fillArgb) ?? [];
      if (table.length === 0) this.filled.set(fillArgb, table);
    }
    return (table[i * 3 + kind] ??= this.make(i, kind, fillArgb));
  }

  private make(i: number, kind: Kind, fillArgb: string | undefined): Partial<ExcelJS.Style> {
    const col = this.cols[i]!;
    const st: Partial<ExcelJS.Style> = {
      border: BORDER,
      alignment: { vertical: 'middle', wrapText: col.text === true, horizontal: kind === KIND_NUMBER ? 'right' : col.text ? 'left' : 'center' },
    };
    if (kind === KIND_NUMBER && col.numFmt) st.numFmt = col.numFmt;
    if (kind === KIND_TEXT) st.numFmt = '@';
    if (fillArgb) st.fill = solid(fillArgb);
    return st;
  }
}

const styleCache = new WeakMap<readonly Col[], ColumnStyles>();

function stylesOf(cols: readonly Col[]): ColumnStyles {
  let st = styleCache.get(cols);
  if (!st) {
    st = new ColumnStyles(cols);
    styleCache.set(cols, st);
  }
  return st;
}

/**
 * Writes one data row: numbers with the column's format, text as text (never a formula).
 * `fillArgb` colours the cells of `fillCols` (every cell when `fillCols` is absent).
 */
function writeRow(
  ws: ExcelJS.Worksheet,
  cols: readonly Col[],
  values: readonly Cell[],
  fillArgb?: string,
  fillCols?: readonly number[],
  tweak?: (row: ExcelJS.Row) => void,
) {
  const styles = stylesOf(cols);
  const row = ws.addRow([]);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const c = row.getCell(i + 1);
    const fill = fillArgb && (!fillCols || fillCols.includes(i)) ? fillArgb : undefined;
    if (typeof v === 'number' && Number.isFinite(v)) {
      c.value = v;
      c.style = styles.get(i, KIND_NUMBER, fill);
    } else if (v === null || v === undefined || v === '' || typeof v === 'number') {
      c.value = null;
      c.style = styles.get(i, KIND_EMPTY, fill);
    } else {
      c.value = safeText(v);
      c.style = styles.get(i, KIND_TEXT, fill);
    }
  }
  tweak?.(row);
  row.commit();
}

/**
 * formatDateTime with the strings remembered for one workbook: the dates of a period repeat a lot
 * (a batch upload's revisions share one submittedAt; the cases of a publication share openedAt and dueAt).
 */
function dateTimeFormatter(tz: string): (when: Date | string) => string {
  const seen = new Map<string | number, string>();
  return (when) => {
    const key = typeof when === 'string' ? when : when.getTime();
    let s = seen.get(key);
    if (s === undefined) {
      s = formatDateTime(when, tz);
      seen.set(key, s);
    }
    return s;
  };
}

function titleRows(ws: ExcelJS.Worksheet, width: number, title: string, subtitle: string) {
  const last = columnLetter(width);
  const t = ws.addRow([title]);
  t.height = 28;
  t.getCell(1).font = { bold: true, size: 16 };
  t.getCell(1).alignment = { horizontal: 'center', vertical: 'middle' };
  ws.mergeCells(`A1:${last}1`);
  t.commit();
  const s = ws.addRow([subtitle]);
  s.getCell(1).font = { size: 10, color: { argb: 'FF595959' } };
  s.getCell(1).alignment = { horizontal: 'center' };
  ws.mergeCells(`A2:${last}2`);
  s.commit();
}

function landscape(printTitlesRow: string): Partial<ExcelJS.PageSetup> {
  return {
    paperSize: 9,
    orientation: 'landscape',
    fitToPage: true,
    fitToWidth: 1,
    fitToHeight: 0,
    printTitlesRow,
    horizontalCentered: true,
    margins: { left: 0.4, right: 0.4, top: 0.75, bottom: 0.75, header: 0.3, footer: 0.3 },
  };
}

function headerFooter(title: string, left: string, generated: string): Partial<ExcelJS.HeaderFooter> {
  return {
    differentFirst: false,
    differentOddEven: false,
    // The font size goes before the font: "&12" directly followed by the title's "2026…" would be
    // read as the font size 122026 and the year would vanish; text after &"…" starts cleanly.
    oddHeader: `&L${hfText(left)}&C&12&"-,Bold"${hfText(title)}&R&A`,
    oddFooter: `&L生成时间：${hfText(generated)}&C第 &P 页，共 &N 页&R${hfText(left)}`,
  };
}

/** "2026Q3 · 暂定结果 · 考核方案 v2": the line under the title and in the page header. */
function periodLine(input: PeriodWorkbookCommon): string {
  return `${input.period} · ${statusLabel(input.status)}${input.schemeVersion != null ? ` · 考核方案 v${input.schemeVersion}` : ''}`;
}

/** A landscape table sheet: title and subtitle rows, then the styled header row (row 3, repeated on every printed page). */
function tableSheet(
  wb: ExcelJS.stream.xlsx.WorkbookWriter,
  name: string,
  cols: Col[],
  view: Partial<ExcelJS.WorksheetView>,
  hf: Partial<ExcelJS.HeaderFooter>,
  title: string,
  subtitle: string,
): ExcelJS.Worksheet {
  const ws = wb.addWorksheet(name, { views: [view], pageSetup: landscape('3:3'), headerFooter: hf });
  ws.columns = cols.map((c) => ({ width: c.width }));
  titleRows(ws, cols.length, title, subtitle);
  const head = ws.addRow(cols.map((c) => c.header));
  styleHeader(head, cols.length);
  head.commit();
  return ws;
}

async function streamWorkbook(stream: Writable, build: (wb: ExcelJS.stream.xlsx.WorkbookWriter) => void | Promise<void>): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream, useStyles: true, useSharedStrings: true });
  wb.creator = '政务数据共享考核平台';
  await build(wb);
  await wb.commit();
}

async function collect(write: (s: Writable) => Promise<void>): Promise<Buffer> {
  const pass = new PassThrough();
  const chunks: Buffer[] = [];
  pass.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pass.on('end', resolve);
    pass.on('error', reject);
  });
  await write(pass);
  await done;
  return Buffer.concat(chunks);
}

const ratio = (v: number | null | undefined) => (typeof v === 'number' ? v : null);

// Same order as String.prototype.localeCompare without arguments, without its per-call set-up.
const compareText = new Intl.Collator().compare;

function sortResults(rows: readonly ResultRow[]): ResultRow[] {
  const catOrder = (c: string) => {
    const i = (UNIT_CATEGORIES as readonly string[]).indexOf(c);
    return i < 0 ? UNIT_CATEGORIES.length : i;
  };
  return [...rows].sort(
    (a, b) =>
      catOrder(a.category) - catOrder(b.category) ||
      compareText(a.category, b.category) ||
      (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER) ||
      compareText(a.unit, b.unit),
  );
}

const catIndex = (c: string) => {
  const i = (UNIT_CATEGORIES as readonly string[]).indexOf(c);
  return i < 0 ? UNIT_CATEGORIES.length : i;
};

/**
 * The rows of a stream in the store's result order, in sortResults' order: only the ties of one
 * (category, rank) — where the two orders may differ (code order vs text collation) — are held and
 * sorted. A stream out of result order is a programming error and throws.
 */
async function* inSheetOrder(rows: AsyncIterable<ResultRow>): AsyncGenerator<ResultRow> {
  let group: ResultRow[] = [];
  const rankKey = (r: ResultRow) => r.rank ?? Number.MAX_SAFE_INTEGER;
  for await (const r of rows) {
    const g = group[0];
    if (g && (g.category !== r.category || g.rank !== r.rank)) {
      const order = catIndex(g.category) - catIndex(r.category) || compareText(g.category, r.category) || (g.category === r.category ? rankKey(g) - rankKey(r) : 0);
      if (order > 0) throw new Error(`result rows out of order at ${r.unit}`);
      yield* group.length > 1 ? sortResults(group) : group;
      group = [];
    }
    group.push(r);
  }
  yield* group.length > 1 ? sortResults(group) : group;
}

const RANK_CHANGE_FMT = '"↑"0;"↓"0;"–"';
const SCORE_FMT = '0.00';
const PCT_FMT = '0.00%';
const INT_FMT = '#,##0';

// ---- the period workbook ----

export async function writeAssessmentWorkbook(input: AssessmentWorkbookInput, stream: Writable): Promise<void> {
  const tz = input.timeZone ?? 'Asia/Shanghai';
  const indicators = input.indicators;
  const generated = formatDateTime(input.generatedAt, tz);
  const fmtDate = dateTimeFormatter(tz);
  const pTitle = periodTitle(input.period);
  const title = `${pTitle}政务数据共享考核表`;
  const left = periodLine(input);
  const hf = headerFooter(title, left, generated);
  // Unit names for the returns and cases sheets, gathered while the ranking is written.
  const unitNames = new Map<string, string>();
  const results: Iterable<ResultRow> | AsyncIterable<ResultRow> = Array.isArray(input.results)
    ? sortResults(input.results as readonly ResultRow[])
    : inSheetOrder(input.results as AsyncIterable<ResultRow>);

  await streamWorkbook(stream, async (wb) => {
    wb.title = title;
    wb.subject = input.period;

    // 1. Ranking.
    const cols: Col[] = [
      { header: '类别', width: 12 },
      { header: '排名', width: 7, numFmt: '0' },
      { header: '单位代码', width: 11 },
      { header: '单位名称', width: 26, text: true },
      ...indicators.flatMap((ind) => [
        { header: `${ind.id} ${ind.name}\n指标值`, width: 11, numFmt: PCT_FMT },
        { header: `${ind.id}\n得分${ind.weight != null ? `（满分${ind.weight}）` : ''}`, width: 10, numFmt: SCORE_FMT },
      ]),
      { header: '基础分', width: 9, numFmt: SCORE_FMT },
      { header: '扣分', width: 7, numFmt: SCORE_FMT },
      { header: '总分', width: 9, numFmt: SCORE_FMT },
      { header: '等级', width: 8 },
      { header: '较上期\n排名变化', width: 10, numFmt: RANK_CHANGE_FMT },
      { header: '标记', width: 12, text: true },
    ];
    const ws = tableSheet(wb, '考核排名', cols, { state: 'frozen', xSplit: 4, ySplit: 3, topLeftCell: 'E4', activeCell: 'A4' }, hf, `${title}（${statusLabel(input.status)}）`, `${left} · 生成时间 ${generated}（${tz}）`);
    ws.autoFilter = { from: { row: 3, column: 1 }, to: { row: 3, column: cols.length } };
    const gradeCol = cols.findIndex((c) => c.header === '等级');
    const totalCol = cols.findIndex((c) => c.header === '总分');
    for await (const r of results) {
      unitNames.set(r.unit, r.name);
      const pending = r.flags.includes('pending');
      const noReturn = pending || r.flags.includes('missing');
      const values: Cell[] = [
        categoryLabel(r.category),
        r.rank,
        r.unit,
        r.name,
        ...indicators.flatMap((ind): Cell[] => {
          // 待报 / 缺报: no return, so no indicator values (not 不适用, which reads as "excluded").
          if (noReturn) return ['—', '—'];
          const x = r.indicators[ind.id];
          if (!x) return [null, null];
          if (!x.applicable) return ['不适用', '—'];
          return [ratio(x.value), ratio(x.score)];
        }),
        noReturn ? '—' : r.base,
        noReturn ? '—' : r.deductions,
        pending ? '—' : r.total,
        r.grade ?? (pending ? FLAG_LABELS.pending : null),
        r.rankChange,
        r.flags.map((f) => labelOf(FLAG_LABELS, f)).join('、'),
      ];
      const fillArgb = r.grade ? GRADE_FILLS[r.grade] : undefined;
      writeRow(ws, cols, values, fillArgb, [gradeCol, totalCol]);
    }
    // Signature block (a ranking that can go into a meeting file as it is).
    ws.addRow([]).commit();
    ws.addRow([]).commit();
    const sign = ws.addRow(['制表单位（盖章）：', '', '', '', '审核人（签字）：', '', '', '', '负责人（签字）：', '', '', '', '日期：      年    月    日']);
    sign.height = 40;
    sign.eachCell((c) => {
      c.font = { bold: true };
      c.alignment = { vertical: 'bottom' };
    });
    sign.commit();
    ws.commit();

    // 2. Returns.
    const rcols: Col[] = [
      { header: '单位代码', width: 11 },
      { header: '单位名称', width: 26, text: true },
      { header: '修订版本', width: 8, numFmt: '0' },
      { header: '审核状态', width: 9 },
      { header: '是否逾期', width: 8 },
      { header: '提交时间', width: 19 },
      { header: '提交人', width: 12, text: true },
      { header: '报送方式', width: 11 },
      ...FIELD_KEYS.map((k) => ({ header: `${FIELD_LABELS[k]}\n${k}`, width: 14, numFmt: INT_FMT })),
    ];
    const rs = tableSheet(wb, '填报数据', rcols, { state: 'frozen', xSplit: 2, ySplit: 3, topLeftCell: 'C4', activeCell: 'A4' }, hf, `${pTitle}填报数据`, `${left} · 每个单位的最新修订版本`);
    for await (const x of input.returns ?? []) {
      writeRow(rs, rcols, [
        x.unit,
        x.name ?? unitNames.get(x.unit) ?? '',
        x.revision ?? null,
        x.status ? labelOf(RETURN_STATUS_LABELS, x.status) : x.values ? '' : FLAG_LABELS.missing,
        x.late == null ? '' : x.late ? '是' : '否',
        x.submittedAt ? fmtDate(x.submittedAt) : '',
        x.submittedBy ?? '',
        x.source ? labelOf(SOURCE_LABELS, x.source) : '',
        ...FIELD_KEYS.map((k) => x.values?.[k] ?? null),
      ], x.status === 'rejected' ? 'FFFFC7CE' : undefined, [3]);
    }
    rs.commit();

    // 3. Accountability cases.
    const ccols: Col[] = [
      { header: '单位代码', width: 11 },
      { header: '单位名称', width: 26, text: true },
      { header: '期次', width: 9 },
      { header: '问责规则', width: 24 },
      { header: '问责方式', width: 18, text: true },
      { header: '状态', width: 9 },
      { header: '整改期限', width: 19 },
      { header: '立案时间', width: 19 },
      { header: '原因', width: 40, text: true },
      { header: '整改与核查', width: 48, text: true },
      { header: '延期', width: 24 },
      { header: '销号时间', width: 19 },
    ];
    const cs = tableSheet(wb, '问责情况', ccols, { state: 'frozen', ySplit: 3, topLeftCell: 'A4', activeCell: 'A4' }, hf, `${pTitle}问责情况`, left);
    for (const c of input.cases ?? []) {
      writeRow(cs, ccols, [
        c.unit,
        c.name ?? unitNames.get(c.unit) ?? '',
        c.period,
        labelOf(RULE_LABELS, c.rule),
        c.type,
        labelOf(CASE_STATUS_LABELS, c.status),
        c.dueAt ? fmtDate(c.dueAt) : '',
        c.openedAt ? fmtDate(c.openedAt) : '',
        c.reason ?? '',
        rectificationText(c, fmtDate),
        c.extendedFrom && c.dueAt ? `由 ${fmtDate(c.extendedFrom)} 延至 ${fmtDate(c.dueAt)}` : '',
        c.status === 'resolved' && c.resolvedAt ? fmtDate(c.resolvedAt) : '',
      ], c.status === 'overdue' ? 'FFFFC7CE' : undefined, [5]);
    }
    cs.commit();
  });
}

export function assessmentWorkbookBuffer(input: AssessmentWorkbookInput): Promise<Buffer> {
  return collect((s) => writeAssessmentWorkbook(input, s));
}

// ---- the single-unit sheet ----

export async function writeUnitWorkbook(input: UnitWorkbookInput, stream: Writable): Promise<void> {
  const tz = input.timeZone ?? 'Asia/Shanghai';
  const indicators = input.indicators;
  const generated = formatDateTime(input.generatedAt, tz);
  const r = input.result;
  const title = `${periodTitle(input.period)}政务数据共享考核表`;
  const left = periodLine(input);

  await streamWorkbook(stream, (wb) => {
    wb.title = `${title} — ${safeText(r.name)}`;
    const ws = wb.addWorksheet('单位考核表', {
      pageSetup: {
        paperSize: 9,
        orientation: 'portrait',
        fitToPage: true,
        fitToWidth: 1,
        fitToHeight: 0,
        horizontalCentered: true,
        margins: { left: 0.6, right: 0.6, top: 0.8, bottom: 0.8, header: 0.3, footer: 0.3 },
      },
      headerFooter: headerFooter(title, left, generated),
      views: [{ showGridLines: false }],
    });
    const cols: Col[] = [
      { header: '', width: 26, text: true },
      { header: '', width: 12, numFmt: '0' },
      { header: '', width: 14, numFmt: PCT_FMT },
      { header: '', width: 12, numFmt: SCORE_FMT },
      { header: '', width: 26, text: true },
    ];
    ws.columns = cols.map((c) => ({ width: c.width }));
    titleRows(ws, 5, title, `${left} · 生成时间 ${generated}（${tz}）`);

    const v = (x: Cell) => (typeof x === 'number' && Number.isFinite(x) ? x : typeof x === 'string' ? x : null);
    const section = (text: string) => {
      const row = ws.addRow([text]);
      const n = Number(row.number);
      row.getCell(1).font = { bold: true, size: 12 };
      row.getCell(1).fill = solid('FFDDEBF7');
      ws.mergeCells(`A${n}:E${n}`);
      row.commit();
    };
    const pair = (label: string, value: Cell, numFmt?: string, fillArgb?: string) => {
      const row = ws.addRow([]);
      const n = Number(row.number);
      const a = row.getCell(1);
      a.value = label;
      a.font = { bold: true };
      a.border = BORDER;
      const b = row.getCell(2);
      if (typeof v(value) === 'number') {
        b.value = value as number;
        if (numFmt) b.numFmt = numFmt;
        b.alignment = { horizontal: 'left' };
      } else {
        b.value = safeText(value);
        b.numFmt = '@';
        // Long text wraps inside the merged cell; Excel does not size a merged row, so the height is set.
        b.alignment = { wrapText: true, vertical: 'top' };
        const lines = wrappedLines(b.value, UNIT_SHEET_VALUE_WIDTH);
        if (lines > 1) row.height = 15 * lines + 3;
      }
      b.border = BORDER;
      if (fillArgb) b.fill = solid(fillArgb);
      ws.mergeCells(`B${n}:E${n}`);
      row.commit();
    };

    ws.addRow([]).commit();
    section('一、基本情况');
    pair('单位代码', r.unit);
    pair('单位名称', r.name);
    pair('单位类别', categoryLabel(r.category));
    pair('考核期次', `${periodTitle(input.period)}（${input.period}）`);
    pair('结果状态', statusLabel(input.status));

    ws.addRow([]).commit();
    section('二、指标得分');
    const head = ws.addRow(['指标', '权重', '指标值', '得分', '说明']);
    styleHeader(head, 5);
    head.height = 22;
    head.commit();
    for (const ind of indicators) {
      const x = r.indicators[ind.id];
      const note = !x ? '无填报数据' : x.applicable ? '' : '不适用，权重按比例分配给其他指标';
      writeRow(ws, cols, [`${ind.id} ${ind.name}`, ind.weight ?? null, x?.applicable ? ratio(x.value) : '—', x?.applicable ? ratio(x.score) : '—', note]);
    }

    ws.addRow([]).commit();
    section('三、考核结果');
    pair('基础分', r.base ?? '—', SCORE_FMT);
    pair('扣分', r.deductions ?? 0, SCORE_FMT);
    pair('总分', r.total ?? '—', SCORE_FMT, r.grade ? GRADE_FILLS[r.grade] : undefined);
    pair('等级', r.grade ?? '—', undefined, r.grade ? GRADE_FILLS[r.grade] : undefined);
    pair('类别内排名', r.rank == null ? '未排名' : `第 ${r.rank} 名${input.rankedInCategory ? ` / 共 ${input.rankedInCategory} 家` : ''}`);
    pair('较上期排名变化', r.rankChange == null ? '—' : r.rankChange > 0 ? `上升 ${r.rankChange} 位` : r.rankChange < 0 ? `下降 ${-r.rankChange} 位` : '持平');
    pair('标记', r.flags.length ? r.flags.map((f) => labelOf(FLAG_LABELS, f)).join('、') : '无');

    const ret = input.returnRow;
    ws.addRow([]).commit();
    section('四、填报数据');
    if (ret?.values) {
      pair('修订版本 / 提交时间', `第 ${ret.revision ?? '—'} 版 · ${ret.submittedAt ? formatDateTime(ret.submittedAt, tz) : '—'}${ret.late ? '（逾期）' : ''}`);
      for (const k of FIELD_KEYS) pair(FIELD_LABELS[k], ret.values[k] ?? '—', INT_FMT);
    } else {
      pair('填报数据', '无可用的填报数据');
    }

    ws.addRow([]).commit();
    section('五、问责情况');
    const cases = input.cases ?? [];
    if (cases.length === 0) pair('问责', '无');
    for (const c of cases) {
      const day = (d: string | Date) => formatDateTime(d, tz).slice(0, 10);
      const rect = rectificationText(c, day);
      pair(
        labelOf(RULE_LABELS, c.rule),
        `${c.type} · ${labelOf(CASE_STATUS_LABELS, c.status)}${c.dueAt ? ` · 整改期限 ${day(c.dueAt)}` : ''}${c.extendedFrom ? `（由 ${day(c.extendedFrom)} 延期）` : ''}${c.reason ? ` · ${safeText(c.reason)}` : ''}${rect ? ` · 整改：${safeText(rect)}` : ''}${c.status === 'resolved' && c.resolvedAt ? ` · ${day(c.resolvedAt)} 销号` : ''}`,
      );
    }

    if (input.improve) {
      ws.addRow([]).commit();
      section('六、提分路径');
      pair('现状与目标', input.improve.heading);
      input.improve.lines.forEach((line, i) => pair(`途径 ${i + 1}`, line));
      if (input.improve.note) pair('说明', input.improve.note);
      else pair('说明', '以上每条途径单独采用即可达到目标等级，按本期考核方案精确计算；实际等级还取决于同类别其他单位的得分与优秀名额。');
    }

    // Signature block.
    ws.addRow([]).commit();
    ws.addRow([]).commit();
    const sign = ws.addRow(['单位负责人（签字）：', '', '考核组（签字）：', '', '日期：      年    月    日']);
    sign.height = 40;
    sign.eachCell((c) => {
      c.font = { bold: true };
      c.alignment = { vertical: 'bottom' };
    });
    sign.commit();
    const seal = ws.addRow(['（单位盖章）', '', '', '', '']);
    seal.getCell(1).font = { color: { argb: 'FF7F7F7F' } };
    seal.commit();
    ws.commit();
  });
}

export function unitWorkbookBuffer(input: UnitWorkbookInput): Promise<Buffer> {
  return collect((s) => writeUnitWorkbook(input, s));
}

// ---- the annual workbook ----

export async function writeAnnualWorkbook(input: AnnualWorkbookInput, stream: Writable): Promise<void> {
  const tz = input.timeZone ?? 'Asia/Shanghai';
  const generated = formatDateTime(input.generatedAt, tz);
  const year = String(input.year);
  const title = `${year}年度政务数据共享考核结果`;
  const left = `${year} · ${input.final ? '正式结果' : '暂定结果'}${input.schemeVersion != null ? ` · 考核方案 v${input.schemeVersion}` : ''}`;
  const quarterKeys = [1, 2, 3, 4].map((q) => `${year}Q${q}`);
  const withQuarters = input.results.some((r) => r.quarters);

  await streamWorkbook(stream, (wb) => {
    wb.title = title;
    const cols: Col[] = [
      { header: '类别', width: 12 },
      { header: '排名', width: 7, numFmt: '0' },
      { header: '单位代码', width: 11 },
      { header: '单位名称', width: 26, text: true },
      ...(withQuarters ? quarterKeys.map((q) => ({ header: `${q}\n总分`, width: 10, numFmt: SCORE_FMT })) : []),
      { header: '年度总分', width: 10, numFmt: SCORE_FMT },
      { header: '等级', width: 8 },
      { header: '评先评优资格', width: 12 },
      { header: '说明', width: 36, text: true },
    ];
    const ws = tableSheet(wb, '年度考核', cols, { state: 'frozen', xSplit: 4, ySplit: 3, topLeftCell: 'E4', activeCell: 'A4' }, headerFooter(title, left, generated), title, `${left} · 年度总分为四个季度总分的平均值（无结果的季度按 0 计）· 生成时间 ${generated}（${tz}）`);
    ws.autoFilter = { from: { row: 3, column: 1 }, to: { row: 3, column: cols.length } };
    const gradeCol = cols.findIndex((c) => c.header === '等级');
    const totalCol = cols.findIndex((c) => c.header === '年度总分');
    const eligibleCol = cols.findIndex((c) => c.header === '评先评优资格');
    const sorted = sortResults(input.results.map((r) => ({ ...r, name: r.name ?? '', indicators: {}, base: null, deductions: null, rankChange: null, flags: [] })));
    const byUnit = new Map(input.results.map((r) => [r.unit, r]));
    for (const s of sorted) {
      const r = byUnit.get(s.unit)!;
      const values: Cell[] = [
        categoryLabel(r.category),
        r.rank,
        r.unit,
        r.name ?? '',
        ...(withQuarters ? quarterKeys.map((q) => r.quarters?.[q] ?? null) : []),
        r.total,
        r.grade,
        r.eligible ? '有' : '无',
        (r.reasons ?? []).join('；'),
      ];
      const fillArgb = r.grade ? GRADE_FILLS[r.grade] : undefined;
      writeRow(ws, cols, values, fillArgb, [gradeCol, totalCol], (row) => {
        if (!r.eligible) {
          const c = row.getCell(eligibleCol + 1);
          c.style = { ...c.style, font: { bold: true, color: { argb: 'FF9C0006' } } };
        }
      });
    }
    ws.commit();
  });
}

export function annualWorkbookBuffer(input: AnnualWorkbookInput): Promise<Buffer> {
  return collect((s) => writeAnnualWorkbook(input, s));
}
