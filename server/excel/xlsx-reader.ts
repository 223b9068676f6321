// A bounded, streaming reader of a user's xlsx workbook (SPEC §6, issue 12 item 1, issue 14 item 1).
// Plain Buffer in, plain data out; no exceljs: exceljs builds a model of every cell and expands
// merged ranges (a 1.6 KB file with <mergeCell ref="A2:XFD1048576"/> takes it a minute and all the
// memory there is). This reader
// - reads the zip from its central directory (readCentralDirectory of upload-check.ts) and inflates
//   the sheet XML as a stream into a SAX parser (saxes, which exceljs uses too);
// - reads only what it needs: workbook.xml (sheet names, order, visibility), its rels, the shared
//   strings, the styles' number formats (to tell dates), and then the sheets in tab order, stopping at
//   row 20 of a sheet without a header row;
// - refuses the DATA sheet as soon as its declared dimension, a row or column with content, or a merged
//   range goes past the limits (20 000 rows, 200 columns by default), before anything is expanded;
// - keeps every cell of the rows around the header, and below them only the columns the caller asks for.
// Merged ranges are applied at the end of the sheet (where the XML declares them), to the kept cells only.

import { createInflateRaw, inflateRawSync } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser } from 'saxes';
import { AppError } from '../domain/errors.ts';
import { readCentralDirectory, uploadErrors, type ZipEntry } from './upload-check.ts';

export const DEFAULT_SHEET_LIMITS = Object.freeze({ maxRows: 20_000, maxCols: 200 });

export type SheetLimits = { maxRows: number; maxCols: number };

/** A cell as the user sees it. */
export type CellRead =
  | { kind: 'blank' }
  | { kind: 'merged' }
  | { kind: 'value'; raw: string | number | boolean | Date }
  | { kind: 'error'; message: string };

export interface SheetRow {
  /** 1-based row number. */
  r: number;
  /** Cells by 1-based column number (only the kept ones; blank cells may be absent). */
  cells: Map<number, CellRead>;
}

export interface SheetInfo {
  name: string;
  state: 'visible' | 'hidden' | 'veryHidden';
  /** Path of the worksheet part in the zip; null for chart sheets and other non-worksheets. */
  path: string | null;
}

export interface DataSheetOptions {
  /** Is this cell text the header word that marks the header row (e.g. 单位代码 / unit_code)? */
  isHeaderCell: (text: string) => boolean;
  /** Rows searched for the header in each sheet. Default 20. */
  headerSearchRows?: number;
  /** Rows right below the header kept whole (further header lines such as the template's key line). Default 5. */
  headerLines?: number;
  /** Given the header row and the lines below it (whole), the columns to keep in the rows after them. */
  keepColumns: (headerRows: SheetRow[]) => Iterable<number>;
  limits?: Partial<SheetLimits>;
}

export type DataSheetResult =
  | { found: true; sheet: string; headerRow: number; rows: SheetRow[]; looked: string[]; skippedHidden: string[] }
  | { found: false; looked: string[]; skippedHidden: string[] };

/** Refusals of a data sheet past the limits: the {sheet,row,column,field,message} of an upload error. */
export class SheetTooLarge extends AppError {
  constructor(readonly error: { sheet: string; row: number | null; column: string | null; field: null; message: string }) {
    super(422, 'sheet_too_large', error.message, { errors: [error] });
  }
}

const BLANK: CellRead = Object.freeze({ kind: 'blank' });
const MERGED: CellRead = Object.freeze({ kind: 'merged' });

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

/** "AB12" → {row: 12, col: 28}; "AB" → {row: 0, col: 28}; "12" → {row: 12, col: 0}; null when malformed. */
export function parseRef(ref: string): { row: number; col: number } | null {
  const m = /^\$?([A-Za-z]{0,4})\$?(\d{0,9})$/.exec(ref.trim());
  if (!m || (!m[1] && !m[2])) return null;
  let col = 0;
  for (const ch of m[1]!.toUpperCase()) col = col * 26 + (ch.charCodeAt(0) - 64);
  return { row: m[2] ? Number(m[2]) : 0, col };
}

/** "A2:XFD1048576" → the range (a single cell is a range of one). */
export function parseRange(ref: string): { r1: number; c1: number; r2: number; c2: number } | null {
  const [a, b] = ref.split(':');
  const p = parseRef(a ?? '');
  const q = b === undefined ? p : parseRef(b);
  if (!p || !q) return null;
  // Whole columns ("A:C") or whole rows ("2:5") reach the sheet's edge.
  const r1 = p.row || 1;
  const c1 = p.col || 1;
  const r2 = q.row || 1_048_576;
  const c2 = q.col || 16_384;
  return { r1: Math.min(r1, r2), c1: Math.min(c1, c2), r2: Math.max(r1, r2), c2: Math.max(c1, c2) };
}

const localName = (n: string) => {
  const i = n.indexOf(':');
  return i < 0 ? n : n.slice(i + 1);
};

function attr(attrs: Record<string, string>, name: string): string | undefined {
  if (name in attrs) return attrs[name];
  for (const k in attrs) if (localName(k) === name) return attrs[k];
  return undefined;
}

/** Parses a small XML part whole (workbook, rels, styles, shared strings) with saxes. */
function parseXml(xml: string, what: string, on: { open?: (name: string, attrs: Record<string, string>) => void; close?: (name: string) => void; text?: (t: string) => void }): void {
  const p = new SaxesParser({ position: false });
  let failed: Error | null = null;
  p.on('error', (e) => {
    failed ??= e;
  });
  if (on.open) p.on('opentag', (t) => on.open!(localName(t.name), t.attributes as Record<string, string>));
  if (on.close) p.on('closetag', (t) => on.close!(localName(t.name)));
  if (on.text) {
    p.on('text', on.text);
    p.on('cdata', on.text);
  }
  p.write(xml).close();
  if (failed) throw uploadErrors.corrupt(`${what} 不是有效的 XML`);
}

// Built-in number formats that are dates or times (ECMA-376 18.8.30), and the CJK ones Excel uses.
const DATE_FORMAT_IDS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 45, 46, 47, 50, 51, 52, 53, 54, 55, 56, 57, 58]);

/** Does a custom number format show a date or time? (y/m/d/h/s outside quotes, brackets and escapes). */
export function isDateFormat(code: string): boolean {
  const s = code
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/\[(?:h+|m+|s+)\]/gi, 'h') // elapsed time [h]:mm
    .replace(/\[[^\]]*\]/g, '') // colours, conditions, locales
    .replace(/_.|\*./g, '');
  return /[ymdhs]/i.test(s) && !/^(general|@)$/i.test(s.trim());
}

/** A zip opened for reading the few parts the reader needs. */
class XlsxPackage {
  private readonly byName = new Map<string, ZipEntry>();
  constructor(readonly buffer: Buffer, entries: ZipEntry[]) {
    for (const e of entries) this.byName.set(e.name.toLowerCase(), e);
  }
  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name.replace(/^\/+/, '').toLowerCase());
  }
  /** A small part, inflated at once (sizes were checked against the directory by checkUpload). */
  text(name: string): string | null {
    const e = this.entry(name);
    if (!e) return null;
    const data = this.buffer.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    try {
      const out = e.method === 0 ? data : inflateRawSync(data, { maxOutputLength: Math.max(1, e.uncompressedSize) });
      return out.toString('utf8').replace(/^\ufeff/, '');
    } catch {
      throw uploadErrors.corrupt(`内部文件 ${name.slice(0, 60)} 无法解压`);
    }
  }
}

/** Resolves a relationship target against the part that holds it ("worksheets/sheet1.xml" from xl/). */
function resolveTarget(base: string, target: string): string {
  if (target.startsWith('/')) return target.slice(1);
  const parts = base.split('/');
  parts.pop();
  for (const seg of target.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.' && seg !== '') parts.push(seg);
  }
  return parts.join('/');
}

export interface OpenedWorkbook {
  sheets: SheetInfo[];
  sharedStrings: string[];
  /** Per cell style index (s="…"): does it format a number as a date? */
  dateStyles: boolean[];
  date1904: boolean;
  pkg: XlsxPackage;
}

/** Reads workbook.xml, its rels, shared strings and styles. Throws AppError for a broken package. */
export function openWorkbook(buffer: Buffer, entries?: ZipEntry[]): OpenedWorkbook {
  const pkg = new XlsxPackage(buffer, entries ?? readCentralDirectory(buffer));
  const wbPath = 'xl/workbook.xml';
  const wbXml = pkg.text(wbPath);
  if (wbXml === null) throw uploadErrors.notXlsx('文件是压缩包，但其中没有 Excel 工作簿内容（缺少 xl/workbook.xml）');
  const declared: { name: string; state: SheetInfo['state']; rid: string }[] = [];
  let date1904 = false;
  parseXml(wbXml, 'xl/workbook.xml', {
    open(name, a) {
      if (name === 'sheet') {
        const st = attr(a, 'state');
        declared.push({ name: attr(a, 'name') ?? `Sheet${declared.length + 1}`, state: st === 'hidden' || st === 'veryHidden' ? st : 'visible', rid: attr(a, 'id') ?? '' });
      } else if (name === 'workbookPr') {
        const d = attr(a, 'date1904');
        date1904 = d === '1' || d === 'true';
      }
    },
  });
  const rels = new Map<string, { target: string; type: string }>();
  const relsXml = pkg.text('xl/_rels/workbook.xml.rels');
  if (relsXml !== null) {
    parseXml(relsXml, 'xl/_rels/workbook.xml.rels', {
      open(name, a) {
        if (name === 'Relationship') rels.set(attr(a, 'Id') ?? '', { target: attr(a, 'Target') ?? '', type: attr(a, 'Type') ?? '' });
      },
    });
  }
  const relOfType = (suffix: string) => [...rels.values()].find((r) => r.type.endsWith(suffix));
  const sheets: SheetInfo[] = declared.map((d) => {
    const rel = rels.get(d.rid);
    const isWorksheet = rel ? rel.type.endsWith('/worksheet') : false;
    return { name: d.name, state: d.state, path: rel && isWorksheet ? resolveTarget(wbPath, rel.target) : null };
  });

  // Shared strings: the text of each <si>, its runs joined, phonetic guides (<rPh>) left out.
  const sharedStrings: string[] = [];
  const ssRel = relOfType('/sharedStrings');
  const ssXml = pkg.text(ssRel ? resolveTarget(wbPath, ssRel.target) : 'xl/sharedStrings.xml');
  if (ssXml !== null) {
    let cur: string[] | null = null;
    let inT = false;
    let inPh = 0;
    parseXml(ssXml, 'sharedStrings.xml', {
      open(name) {
        if (name === 'si') cur = [];
        else if (name === 'rPh') inPh++;
        else if (name === 't') inT = true;
      },
      close(name) {
        if (name === 'si') {
          sharedStrings.push(cur ? cur.join('') : '');
          cur = null;
        } else if (name === 'rPh') inPh--;
        else if (name === 't') inT = false;
      },
      text(t) {
        if (inT && inPh === 0 && cur) cur.push(t);
      },
    });
  }

  // Styles: which cell formats (cellXfs) show numbers as dates.
  const dateStyles: boolean[] = [];
  const stRel = relOfType('/styles');
  const stXml = pkg.text(stRel ? resolveTarget(wbPath, stRel.target) : 'xl/styles.xml');
  if (stXml !== null) {
    const custom = new Map<number, string>();
    let inCellXfs = false;
    parseXml(stXml, 'styles.xml', {
      open(name, a) {
        if (name === 'numFmt') custom.set(Number(attr(a, 'numFmtId')), attr(a, 'formatCode') ?? '');
        else if (name === 'cellXfs') inCellXfs = true;
        else if (name === 'xf' && inCellXfs) {
          const id = Number(attr(a, 'numFmtId') ?? 0);
          const code = custom.get(id);
          dateStyles.push(code !== undefined ? isDateFormat(code) : DATE_FORMAT_IDS.has(id));
        }
      },
      close(name) {
        if (name === 'cellXfs') inCellXfs = false;
      },
    });
  }
  return { sheets, sharedStrings, dateStyles, date1904, pkg };
}

function serialToDate(serial: number, date1904: boolean): Date {
  const days = date1904 ? serial + 24107 : serial - 25569; // days since 1970-01-01 (1900 system: Excel's leap-year bug included)
  return new Date(Math.round(days * 86_400_000));
}

const WS_RE = /^[\s\u00a0\u3000\u200b\ufeff]*$/;

function textCell(s: string): CellRead {
  return WS_RE.test(s) ? BLANK : { kind: 'value', raw: s };
}

class StopReading extends Error {}

interface SheetScan {
  headerRow: number;
  rows: SheetRow[];
}

/**
 * Reads one worksheet. Returns null when no header row is found in its first rows (the reading stops
 * there); otherwise the header row and the rows from it on, merged ranges applied.
 */
async function scanSheet(wb: OpenedWorkbook, info: SheetInfo, opts: DataSheetOptions, lim: SheetLimits): Promise<SheetScan | null> {
  const entry = wb.pkg.entry(info.path!);
  if (!entry) throw uploadErrors.corrupt(`缺少工作表「${info.name.slice(0, 40)}」的内容`);
  const sheet = info.name;
  const searchRows = opts.headerSearchRows ?? 20;
  const headerLines = opts.headerLines ?? 5;
  const tooLarge = (row: number | null, col: number | null, what: string) =>
    new SheetTooLarge({
      sheet,
      row,
      column: col === null ? null : columnLetter(col),
      field: null,
      message: `工作表「${sheet}」${what}，超过上限（最多 ${lim.maxRows} 行、${lim.maxCols} 列），未读取。请删除多余的行、列和合并单元格，只保留填报区域后重新上传`,
    });

  let headerRow = 0;
  let keep: Set<number> | null = null; // null: keep every column
  const rows: SheetRow[] = [];
  const merges: { r1: number; c1: number; r2: number; c2: number }[] = [];
  let mergedArea = 0;
  let failure: Error | null = null;

  // Current row and cell.
  let rowNo = 0;
  let row: SheetRow | null = null;
  let colNo = 0;
  let cRef: { row: number; col: number } | null = null;
  let cType = '';
  let cStyle = -1;
  let hasF = false;
  let v: string | null = null;
  let isText: string | null = null;
  let inV = false;
  let inIsT = false;
  let inPh = 0;
  let inSheetData = false;

  // The declared used range (<dimension>, before the cells): checked once the sheet is the data sheet.
  let dimension: string | null = null;
  const checkDimension = () => {
    const range = dimension ? parseRange(dimension) : null;
    if (range && (range.r2 > lim.maxRows || range.c2 > lim.maxCols)) {
      throw tooLarge(null, null, `声明的数据区域 ${dimension!.slice(0, 30)} 有 ${range.r2} 行、${range.c2} 列`);
    }
  };

  const decideKeep = () => {
    if (keep || !headerRow) return;
    keep = new Set(opts.keepColumns(rows.filter((x) => x.r >= headerRow && x.r <= headerRow + headerLines)));
  };

  const finishCell = () => {
    const r = cRef ? cRef.row || rowNo : rowNo;
    const c = cRef ? cRef.col || colNo + 1 : colNo + 1;
    colNo = c;
    let read: CellRead;
    if (cType === 'inlineStr') read = isText === null ? BLANK : textCell(isText);
    else if (v === null) {
      read = hasF ? { kind: 'error', message: '是公式但没有保存计算结果，请在 Excel 或 WPS 中打开并重新保存后上传' } : BLANK;
    } else if (cType === 'e') {
      read = { kind: 'error', message: hasF ? `公式的结果为错误值 ${v}` : `是错误值 ${v}` };
    } else if (cType === 's') {
      const s = wb.sharedStrings[Number(v)];
      read = s === undefined ? BLANK : textCell(s);
    } else if (cType === 'str') read = textCell(v);
    else if (cType === 'b') read = { kind: 'value', raw: v.trim() === '1' || v.trim() === 'true' };
    else if (cType === 'd') {
      const d = new Date(v);
      read = Number.isNaN(d.getTime()) ? textCell(v) : { kind: 'value', raw: d };
    } else if (WS_RE.test(v)) read = hasF ? { kind: 'error', message: '是公式但没有保存计算结果，请在 Excel 或 WPS 中打开并重新保存后上传' } : BLANK;
    else {
      const n = Number(v);
      if (Number.isNaN(n)) read = textCell(v);
      else read = cStyle >= 0 && wb.dateStyles[cStyle] ? { kind: 'value', raw: serialToDate(n, wb.date1904) } : { kind: 'value', raw: n };
    }
    if (read.kind === 'blank') return;
    if (!headerRow) {
      // Not (yet) the data sheet: content far to the right of a title or instructions is not read.
      if (c > lim.maxCols) return;
      if (r <= searchRows && read.kind === 'value' && !(read.raw instanceof Date) && opts.isHeaderCell(String(read.raw))) {
        headerRow = r;
        checkDimension();
      }
    } else {
      // The data sheet: content past the limits is refused.
      if (c > lim.maxCols) throw tooLarge(r, c, `第${r}行 ${columnLetter(c)}列有内容（超过第 ${lim.maxCols} 列）`);
      if (r > lim.maxRows) throw tooLarge(r, c, `第${r}行有内容（超过第 ${lim.maxRows} 行）`);
    }
    if (keep && !keep.has(c)) return;
    if (!row || row.r !== r) {
      row = { r, cells: new Map() };
      rows.push(row);
    }
    row.cells.set(c, read);
  };

  const onOpen = (tag: { name: string; attributes: Record<string, string> }) => {
    const name = localName(tag.name);
    const a = tag.attributes;
    if (inSheetData) {
      if (name === 'c') {
        const ref = a.r ?? attr(a, 'r');
        cRef = ref ? parseRef(ref) : null;
        cType = a.t ?? '';
        cStyle = a.s === undefined ? -1 : Number(a.s);
        hasF = false;
        v = null;
        isText = null;
      } else if (name === 'v') {
        inV = true;
        v = '';
      } else if (name === 'f') hasF = true;
      else if (name === 'is') isText = '';
      else if (name === 't' && isText !== null) inIsT = true;
      else if (name === 'rPh') inPh++;
      else if (name === 'row') {
        const rAttr = a.r ?? attr(a, 'r');
        rowNo = rAttr ? Number(rAttr) : rowNo + 1;
        if (!Number.isFinite(rowNo) || rowNo < 1) rowNo = 1;
        colNo = 0;
        if (!headerRow && rowNo > searchRows) throw new StopReading();
        if (headerRow && !keep && rowNo > headerRow + headerLines) decideKeep();
      }
      return;
    }
    if (name === 'sheetData') inSheetData = true;
    else if (name === 'dimension') dimension = attr(a, 'ref') ?? null;
    else if (name === 'mergeCell') {
      if (!headerRow) throw new StopReading();
      const ref = attr(a, 'ref') ?? '';
      const m = parseRange(ref);
      if (!m) return;
      if (m.r2 > lim.maxRows || m.c2 > lim.maxCols) {
        throw tooLarge(m.r1, m.c1, `的合并单元格 ${ref.slice(0, 30)} 延伸到第 ${m.r2} 行、第 ${m.c2} 列`);
      }
      mergedArea += (m.r2 - m.r1 + 1) * (m.c2 - m.c1 + 1);
      if (mergedArea > lim.maxRows * lim.maxCols) throw tooLarge(m.r1, m.c1, '的合并单元格过多（相互重叠）');
      merges.push(m);
    }
  };
  const onClose = (tag: { name: string }) => {
    const name = localName(tag.name);
    if (inSheetData) {
      if (name === 'c') finishCell();
      else if (name === 'v') inV = false;
      else if (name === 't') inIsT = false;
      else if (name === 'rPh') inPh--;
      else if (name === 'sheetData') {
        inSheetData = false;
        if (!headerRow) throw new StopReading();
      }
    }
  };
  const onText = (t: string) => {
    if (inV) v += t;
    else if (inIsT && inPh === 0) isText += t;
  };

  const parser = new SaxesParser({ position: false });
  parser.on('opentag', (t) => onOpen(t as { name: string; attributes: Record<string, string> }));
  parser.on('closetag', onClose);
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('error', (e) => {
    failure ??= e;
  });

  const data = wb.pkg.buffer.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  const decoder = new StringDecoder('utf8');
  let stopped = false;
  const feed = (chunk: Buffer | string) => {
    parser.write(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (failure) throw failure;
  };
  try {
    if (entry.method === 0) {
      // Stored: feed in slices so that an early stop stops early.
      for (let i = 0; i < data.length; i += 1 << 16) feed(data.subarray(i, i + (1 << 16)));
    } else {
      const inflate = createInflateRaw();
      let produced = 0;
      const done = new Promise<void>((resolve, reject) => {
        inflate.on('data', (chunk: Buffer) => {
          if (stopped) return;
          try {
            produced += chunk.length;
            if (produced > entry.uncompressedSize) throw uploadErrors.unsafe(`内部文件 ${entry.name.slice(0, 60)} 解压后大于其声明的大小`);
            feed(chunk);
          } catch (x) {
            stopped = true;
            inflate.destroy();
            reject(x);
          }
        });
        inflate.on('end', resolve);
        inflate.on('close', resolve);
        inflate.on('error', (e) => (stopped ? resolve() : reject(uploadErrors.corrupt(`工作表「${sheet.slice(0, 40)}」无法解压（${e.message.slice(0, 40)}）`))));
      });
      inflate.end(data);
      await done;
    }
    parser.write(decoder.end());
    parser.close();
    if (failure) throw failure;
  } catch (x) {
    if (x instanceof StopReading) return null;
    if (x instanceof AppError) throw x;
    throw uploadErrors.corrupt(`工作表「${sheet.slice(0, 40)}」的内容不是有效的 XML`);
  }
  if (!headerRow) return null;
  decideKeep();

  // Merged ranges: every cell but the top-left one is "merged" (it has no value of its own) — for the
  // kept columns of the rows from the header on only, so the work is bounded by what is kept.
  if (merges.length) {
    const byRow = new Map(rows.map((x) => [x.r, x]));
    const kept = keep as Set<number> | null;
    for (const m of merges) {
      const from = Math.max(m.r1, headerRow);
      for (let r = from; r <= m.r2; r++) {
        let target = byRow.get(r);
        const whole = r <= headerRow + headerLines;
        for (let c = m.c1; c <= m.c2; c++) {
          if (r === m.r1 && c === m.c1) continue;
          if (!whole && kept && !kept.has(c)) continue;
          if (!target) {
            target = { r, cells: new Map() };
            byRow.set(r, target);
            rows.push(target);
          }
          target.cells.set(c, MERGED);
        }
      }
    }
    rows.sort((a, b) => a.r - b.r);
  }
  return { headerRow, rows: rows.filter((x) => x.r >= headerRow) };
}

/**
 * Finds the data sheet — the first visible worksheet with a header row among its first rows — and
 * reads it within the limits. Sheets before it without a header (instructions, covers) and hidden
 * sheets are skipped. Throws AppError for a broken package and SheetTooLarge past the limits.
 */
export async function readDataSheet(buffer: Buffer, opts: DataSheetOptions, entries?: ZipEntry[]): Promise<DataSheetResult> {
  const lim: SheetLimits = { ...DEFAULT_SHEET_LIMITS, ...opts.limits };
  const wb = openWorkbook(buffer, entries);
  const looked: string[] = [];
  const skippedHidden: string[] = [];
  for (const s of wb.sheets) {
    if (!s.path) continue; // chart sheets
    if (s.state !== 'visible') {
      skippedHidden.push(s.name);
      continue;
    }
    looked.push(s.name);
    const scan = await scanSheet(wb, s, opts, lim);
    if (scan) return { found: true, sheet: s.name, headerRow: scan.headerRow, rows: scan.rows, looked, skippedHidden };
  }
  return { found: false, looked, skippedHidden };
}
