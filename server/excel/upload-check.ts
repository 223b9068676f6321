// Checks an uploaded file BEFORE any spreadsheet library touches it (SPEC §6, issue 3 part 3):
// size limit, file signature (legacy .xls / encrypted workbooks / CSV / HTML renamed to .xlsx …),
// and the zip container read from its central directory only, so that a zip bomb is refused
// without inflating it. Plain Buffer in, summary out; problems are thrown as AppError.

import { inflateRawSync } from 'node:zlib';
import { AppError } from '../domain/errors.ts';

export interface UploadLimits {
  /** Largest upload accepted, in bytes. Default 10 MB. */
  maxBytes: number;
  /** Most entries (files) inside the xlsx zip. Default 2,000 (a normal workbook has 10–50). */
  maxEntries: number;
  /** Largest total uncompressed size of all entries. Default 100 MB. */
  maxUncompressed: number;
  /** Highest compression ratio accepted for an entry larger than ratioFloor bytes. Default 200. */
  maxRatio: number;
  /** Entries smaller than this (uncompressed) are not ratio-checked. Default 1 MB. */
  ratioFloor: number;
  /**
   * After the central-directory checks pass, inflate every entry with a hard output cap equal to
   * its declared size, so that a zip whose directory lies about sizes is refused too (memory stays
   * bounded by maxUncompressed). Default true.
   */
  verifyInflate: boolean;
}

export const DEFAULT_UPLOAD_LIMITS: Readonly<UploadLimits> = Object.freeze({
  maxBytes: 10 * 1024 * 1024,
  maxEntries: 2000,
  maxUncompressed: 100 * 1024 * 1024,
  maxRatio: 200,
  ratioFloor: 1024 * 1024,
  verifyInflate: true,
});

export const SAVE_AS_XLSX = '请另存为 .xlsx 格式后上传';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Offset of the entry's (compressed) data, from its local header. */
  dataOffset: number;
}

export interface UploadSummary {
  bytes: number;
  entries: ZipEntry[];
  uncompressedTotal: number;
}

const mb = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MB`;

const err = (status: 413 | 422, code: string, message: string) => new AppError(status, code, message);

export const uploadErrors = {
  tooLarge: (size: number, max: number) =>
    err(413, 'file_too_large', `文件过大（${mb(size)}），上传的文件不能超过 ${mb(max)}`),
  empty: () => err(422, 'empty_file', '上传的文件是空的（0 字节），请重新选择文件'),
  legacyXls: () =>
    err(422, 'legacy_xls', `文件是旧版 Excel 97-2003 工作簿（.xls）或 WPS 表格（.et）格式，系统只接受 .xlsx 文件，${SAVE_AS_XLSX}`),
  encrypted: () =>
    err(422, 'encrypted_workbook', `文件设置了打开密码（已加密），系统无法读取。请取消密码，${SAVE_AS_XLSX}`),
  notXlsx: (what: string) =>
    err(422, 'not_xlsx', `${what}，不是 Excel 工作簿（.xlsx）。${SAVE_AS_XLSX}（在 Excel 或 WPS 中打开，选择“另存为”）`),
  corrupt: (why: string) => err(422, 'corrupt_file', `文件已损坏或不完整（${why}），无法读取。请在 Excel 或 WPS 中重新保存后上传`),
  unsafe: (why: string) => err(422, 'unsafe_zip', `文件内容异常（${why}），疑似压缩炸弹，已拒绝。请上传正常保存的 .xlsx 文件`),
};

const CFB_SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

/**
 * Runs every pre-parse check on an uploaded file. Throws AppError (file_too_large 413; empty_file,
 * legacy_xls, encrypted_workbook, not_xlsx, corrupt_file, unsafe_zip 422) or returns a summary.
 */
export function checkUpload(buffer: Buffer, limits: Partial<UploadLimits> = {}): UploadSummary {
  const lim: UploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...limits };
  if (buffer.length > lim.maxBytes) throw uploadErrors.tooLarge(buffer.length, lim.maxBytes);
  if (buffer.length === 0) throw uploadErrors.empty();

  if (buffer.length >= 8 && buffer.subarray(0, 8).equals(CFB_SIGNATURE)) {
    // OLE compound file: a legacy .xls / .et, or an OOXML file encrypted with a password
    // (Office wraps the encrypted package in a compound file with these stream names).
    const utf16 = (s: string) => Buffer.from(s, 'utf16le');
    if (buffer.includes(utf16('EncryptedPackage')) || buffer.includes(utf16('EncryptionInfo'))) {
      throw uploadErrors.encrypted();
    }
    throw uploadErrors.legacyXls();
  }

  if (buffer.length < 4 || buffer.readUInt32LE(0) !== SIG_LOCAL) {
    if (buffer.length >= 4 && buffer.readUInt32LE(0) === SIG_EOCD) throw uploadErrors.corrupt('压缩包中没有任何内容');
    throw uploadErrors.notXlsx(describeNonZip(buffer));
  }

  const entries = readCentralDirectory(buffer, lim);
  const uncompressedTotal = entries.reduce((s, e) => s + e.uncompressedSize, 0);
  checkContents(entries);
  if (lim.verifyInflate) verifyInflate(buffer, entries);
  return { bytes: buffer.length, entries, uncompressedTotal };
}

/** What a file that is not a zip most likely is, for the message. */
function describeNonZip(buffer: Buffer): string {
  const head = buffer.subarray(0, 4096);
  if (head.subarray(0, 5).toString('latin1') === '%PDF-') return '文件是 PDF 文档';
  if (head[0] === 0xff && head[1] === 0xfe) return '文件是 Unicode 文本（如“Unicode 文本”或 CSV 导出）';
  if (head.includes(0)) return '文件格式无法识别';
  const text = head.toString('utf8').replace(/^\ufeff/, '').trimStart().toLowerCase();
  if (text.startsWith('<?xml') && text.includes('urn:schemas-microsoft-com:office:spreadsheet')) {
    return '文件是“XML 电子表格 2003”格式';
  }
  if (/^<(!doctype html|html|table|meta|head|body)\b/.test(text) || text.includes('<table')) {
    return '文件实际是网页（HTML）格式，常见于业务系统导出的“Excel”文件';
  }
  if (text.startsWith('<')) return '文件是 XML / 网页文本';
  return '文件是纯文本（如改了扩展名的 CSV 文件）';
}

/** Reads and checks the zip central directory. Never inflates anything. */
export function readCentralDirectory(buffer: Buffer, limits: Partial<UploadLimits> = {}): ZipEntry[] {
  const lim: UploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...limits };
  const len = buffer.length;

  // End of central directory record: 22 bytes + a comment of up to 65,535 bytes at the very end.
  let eocd = -1;
  for (let i = len - 22; i >= Math.max(0, len - 22 - 0xffff); i--) {
    if (buffer.readUInt32LE(i) === SIG_EOCD && i + 22 + buffer.readUInt16LE(i + 20) <= len) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw uploadErrors.corrupt('找不到压缩包目录，文件可能被截断');

  if (buffer.readUInt16LE(eocd + 4) !== 0 || buffer.readUInt16LE(eocd + 6) !== 0) {
    throw uploadErrors.corrupt('分卷压缩包');
  }
  let count = buffer.readUInt16LE(eocd + 10);
  let cdSize = buffer.readUInt32LE(eocd + 12);
  let cdOffset = buffer.readUInt32LE(eocd + 16);
  let cdEnd = eocd;

  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || buffer.readUInt32LE(loc) !== SIG_EOCD64_LOCATOR) throw uploadErrors.corrupt('ZIP64 目录缺失');
    const e64 = safeNumber(buffer.readBigUInt64LE(loc + 8));
    if (e64 + 56 > loc || buffer.readUInt32LE(e64) !== SIG_EOCD64) throw uploadErrors.corrupt('ZIP64 目录损坏');
    count = safeNumber(buffer.readBigUInt64LE(e64 + 32));
    cdSize = safeNumber(buffer.readBigUInt64LE(e64 + 40));
    cdOffset = safeNumber(buffer.readBigUInt64LE(e64 + 48));
    cdEnd = e64;
  }

  // Checked before reading a single entry: a zip claiming too many entries is refused at once.
  if (count > lim.maxEntries) throw uploadErrors.unsafe(`包含 ${count} 个内部文件，超过上限 ${lim.maxEntries}`);
  if (count === 0) throw uploadErrors.corrupt('压缩包中没有任何内容');
  if (cdOffset + cdSize > cdEnd || cdSize < count * 46) throw uploadErrors.corrupt('压缩包目录位置不正确，文件可能被截断');

  const entries: ZipEntry[] = [];
  let total = 0;
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdOffset + cdSize || buffer.readUInt32LE(p) !== SIG_CENTRAL) {
      throw uploadErrors.corrupt('压缩包目录损坏');
    }
    const flags = buffer.readUInt16LE(p + 8);
    const method = buffer.readUInt16LE(p + 10);
    let compressedSize = buffer.readUInt32LE(p + 20);
    let uncompressedSize = buffer.readUInt32LE(p + 24);
    const nameLen = buffer.readUInt16LE(p + 28);
    const extraLen = buffer.readUInt16LE(p + 30);
    const commentLen = buffer.readUInt16LE(p + 32);
    let localHeaderOffset = buffer.readUInt32LE(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) throw uploadErrors.corrupt('压缩包目录损坏');
    const rawName = buffer.subarray(p + 46, p + 46 + nameLen);
    const name = (flags & 0x800 ? rawName.toString('utf8') : rawName.toString('latin1'))
      .replace(/\\/g, '/')
      .replace(/^\/+/, '');

    if (uncompressedSize === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
      // ZIP64 extended information extra field (id 0x0001): only the fields that overflowed, in order.
      let q = p + 46 + nameLen;
      const extraEnd = q + extraLen;
      let found = false;
      while (q + 4 <= extraEnd) {
        const id = buffer.readUInt16LE(q);
        const size = buffer.readUInt16LE(q + 2);
        if (id === 0x0001) {
          let r = q + 4;
          const take = () => {
            if (r + 8 > q + 4 + size) throw uploadErrors.corrupt('ZIP64 信息不完整');
            const v = safeNumber(buffer.readBigUInt64LE(r));
            r += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
          found = true;
          break;
        }
        q += 4 + size;
      }
      if (!found) throw uploadErrors.corrupt('ZIP64 信息缺失');
    }

    total += uncompressedSize;
    if (total > lim.maxUncompressed) {
      throw uploadErrors.unsafe(`解压后超过 ${mb(lim.maxUncompressed)}`);
    }
    if (uncompressedSize > lim.ratioFloor && uncompressedSize > lim.maxRatio * Math.max(compressedSize, 1)) {
      throw uploadErrors.unsafe(`内部文件 ${name.slice(0, 60)} 的压缩比超过 ${lim.maxRatio}:1`);
    }
    entries.push({ name, method, flags, compressedSize, uncompressedSize, localHeaderOffset, dataOffset: -1 });
    p = next;
  }

  // Each entry's local header and data must lie inside the file, before the directory, and not
  // overlap another entry's (overlapping entries are the trick of "non-recursive" zip bombs).
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  let prevEnd = 0;
  for (const e of byOffset) {
    const h = e.localHeaderOffset;
    if (h < prevEnd) throw uploadErrors.unsafe('内部文件相互重叠');
    if (h + 30 > cdOffset || buffer.readUInt32LE(h) !== SIG_LOCAL) throw uploadErrors.corrupt('内部文件头损坏');
    e.dataOffset = h + 30 + buffer.readUInt16LE(h + 26) + buffer.readUInt16LE(h + 28);
    const end = e.dataOffset + e.compressedSize;
    if (end > cdOffset) throw uploadErrors.corrupt('内部文件数据不完整，文件可能被截断');
    prevEnd = end;
  }
  return entries;
}

function safeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw uploadErrors.corrupt('压缩包目录中的数值无效');
  return Number(v);
}

/** Is it a spreadsheet in the xlsx format (not .ods, .xlsb, .docx …), readable by exceljs? */
function checkContents(entries: ZipEntry[]): void {
  const names = new Set(entries.map((e) => e.name));
  if (entries.some((e) => e.flags & 0x1)) throw uploadErrors.encrypted();
  if (!names.has('xl/workbook.xml')) {
    if (names.has('xl/workbook.bin')) throw uploadErrors.notXlsx('文件是 Excel 二进制工作簿（.xlsb）');
    if (names.has('content.xml') && (names.has('mimetype') || names.has('META-INF/manifest.xml'))) {
      throw uploadErrors.notXlsx('文件是 OpenDocument 表格（.ods）');
    }
    if (names.has('word/document.xml')) throw uploadErrors.notXlsx('文件是 Word 文档');
    if (names.has('ppt/presentation.xml')) throw uploadErrors.notXlsx('文件是 PowerPoint 演示文稿');
    throw uploadErrors.notXlsx('文件是压缩包，但其中没有 Excel 工作簿内容（缺少 xl/workbook.xml）');
  }
  for (const e of entries) {
    if (e.method !== 0 && e.method !== 8) {
      throw uploadErrors.corrupt(`内部文件 ${e.name.slice(0, 60)} 使用了不支持的压缩方式 ${e.method}`);
    }
    if (e.method === 0 && e.compressedSize !== e.uncompressedSize) throw uploadErrors.corrupt('内部文件大小不一致');
  }
}

/** Inflates every entry with an output cap of its declared size: a lying directory can't grow memory. */
function verifyInflate(buffer: Buffer, entries: ZipEntry[]): void {
  for (const e of entries) {
    if (e.method !== 8 || (e.uncompressedSize === 0 && e.compressedSize <= 2)) continue;
    const data = buffer.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    let out: Buffer;
    try {
      out = inflateRawSync(data, { maxOutputLength: Math.max(1, e.uncompressedSize) });
    } catch (x) {
      if ((x as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw uploadErrors.unsafe(`内部文件 ${e.name.slice(0, 60)} 解压后大于其声明的大小`);
      }
      throw uploadErrors.corrupt(`内部文件 ${e.name.slice(0, 60)} 无法解压`);
    }
    if (out.length !== e.uncompressedSize) throw uploadErrors.corrupt(`内部文件 ${e.name.slice(0, 60)} 大小与目录不符`);
  }
}

/** Reads one entry (tests and diagnostics); refuses to produce more than maxBytes. */
export function readZipEntry(buffer: Buffer, entry: ZipEntry, maxBytes = DEFAULT_UPLOAD_LIMITS.maxUncompressed): Buffer {
  const data = buffer.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  if (entry.method === 0) return Buffer.from(data);
  return inflateRawSync(data, { maxOutputLength: Math.max(1, Math.min(maxBytes, entry.uncompressedSize)) });
}
