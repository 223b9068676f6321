// Attachments (整改报告附件、佐证材料, SPEC §7): which files are accepted, judged by their content —
// the first bytes and, for zip-based formats, the names and declared sizes listed in the zip's central
// directory — never by their name. Pure: the service reads the bytes and the directory and passes them in.
//
// Accepted, and why:
// - PDF (`%PDF-`): the usual form of a signed, scanned or printed report.
// - PNG, JPEG: photographs and screenshots (e.g. a switched-off network cabinet, a system's admin page).
// - docx, xlsx, pptx: Office Open XML zips with `[Content_Types].xml` and their main part folder
//   (`word/`, `xl/`, `ppt/`) — the documents units actually write.
// - OFD (a zip with `OFD.xml`): China's national standard for official electronic documents (GB/T 33190).
// - zip: several files at once; its entries' names are checked like the files themselves.
// Refused whatever their name: HTML, SVG, XML, scripts (`#!`), executables (MZ, ELF, Mach-O), legacy
// binary Office (.doc/.xls, OLE2: macros, no structure to check without parsing), encrypted zips
// (nothing in them can be checked), zips holding executables, scripts or web pages, and zips whose
// declared sizes are those of a zip bomb. Nothing is ever decompressed.
import { AppError } from './errors.ts';

export type AttachmentType = 'pdf' | 'png' | 'jpeg' | 'docx' | 'xlsx' | 'pptx' | 'ofd' | 'zip';

export const ATTACHMENT_TYPES: readonly AttachmentType[] = ['pdf', 'png', 'jpeg', 'docx', 'xlsx', 'pptx', 'ofd', 'zip'];

export const ATTACHMENT_MIME: Readonly<Record<AttachmentType, string>> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpeg: 'image/jpeg',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  ofd: 'application/ofd',
  zip: 'application/zip',
};

export const ATTACHMENT_LABELS: Readonly<Record<AttachmentType, string>> = {
  pdf: 'PDF',
  png: 'PNG 图片',
  jpeg: 'JPEG 图片',
  docx: 'Word 文档',
  xlsx: 'Excel 表格',
  pptx: 'PowerPoint 演示文稿',
  ofd: 'OFD 版式文件',
  zip: 'ZIP 压缩包',
};

const EXTENSIONS: Readonly<Record<AttachmentType, readonly string[]>> = {
  pdf: ['.pdf'],
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg'],
  docx: ['.docx'],
  xlsx: ['.xlsx'],
  pptx: ['.pptx'],
  ofd: ['.ofd'],
  zip: ['.zip'],
};

/** At most this many files per rectification report, and per return revision (佐证材料). */
export const MAX_ATTACHMENTS_PER_RECTIFICATION = 10;
export const MAX_ATTACHMENTS_PER_REVISION = 20;

/** Zip central directories: limits on what is read (the directory only, never the data). */
export const ZIP_LIMITS = {
  /** Entries listed; a larger directory is refused before it is read further. */
  maxEntries: 5000,
  /** Sum of the declared uncompressed sizes. */
  maxTotalUncompressed: 512 * 1024 * 1024,
  /** An entry declaring more than this ratio (uncompressed / compressed) and over 1 MB is a bomb. */
  maxRatio: 200,
  ratioMinBytes: 1024 * 1024,
} as const;

/** How many leading bytes the check needs. */
export const HEAD_BYTES = 64;

export interface ZipEntryInfo {
  name: string;
  compressedSize: number;
  uncompressedSize: number;
  encrypted: boolean;
}

/** A refused file: 422 `attachment_type_refused` with the file's name and the reason (Chinese). */
export function refused(name: string, reason: string): AppError {
  return new AppError(422, 'attachment_type_refused', `文件「${name}」不能作为附件：${reason}。可上传 PDF、PNG/JPEG 图片、Word/Excel/PowerPoint（docx、xlsx、pptx）、OFD 或 ZIP 文件`, {
    name,
    reason,
  });
}

const startsWith = (b: Buffer, sig: readonly number[], at = 0) => b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** The kind of a file from its first bytes: an accepted type, 'zip' (structure to check), or a refusal reason. */
export function sniff(head: Buffer): { kind: 'pdf' | 'png' | 'jpeg' | 'zip' } | { refuse: string } {
  if (head.length === 0) return { refuse: '文件为空' };
  if (startsWith(head, ascii('%PDF-'))) return { kind: 'pdf' };
  // PNG: signature, then the IHDR chunk (length 13) first.
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return startsWith(head, [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52], 8) ? { kind: 'png' } : { refuse: 'PNG 图片结构无效' };
  }
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { kind: 'jpeg' };
  if (startsWith(head, ascii('PK\u0003\u0004'))) return { kind: 'zip' };
  if (startsWith(head, ascii('PK\u0005\u0006'))) return { refuse: '压缩包是空的' };
  if (startsWith(head, ascii('MZ'))) return { refuse: '这是可执行程序（Windows EXE/DLL）' };
  if (startsWith(head, [0x7f, 0x45, 0x4c, 0x46])) return { refuse: '这是可执行程序（ELF）' };
  for (const m of [[0xfe, 0xed, 0xfa, 0xce], [0xfe, 0xed, 0xfa, 0xcf], [0xce, 0xfa, 0xed, 0xfe], [0xcf, 0xfa, 0xed, 0xfe], [0xca, 0xfe, 0xba, 0xbe]]) {
    if (startsWith(head, m)) return { refuse: '这是可执行程序（Mach-O 或 Java class）' };
  }
  if (startsWith(head, ascii('#!'))) return { refuse: '这是脚本文件' };
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return { refuse: '旧版 Office 格式（doc、xls、ppt）不能检查其内容，请另存为 docx、xlsx、pptx 或 PDF' };
  if (startsWith(head, ascii('Rar!')) || startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return { refuse: '只接受 ZIP 格式的压缩包（不接受 RAR、7z）' };
  // Text that a browser could render or run: HTML, SVG, XML (after a BOM and white space).
  const text = head.toString('latin1').replace(/^(\u00ef\u00bb\u00bf|\u00fe\u00ff|\u00ff\u00fe)/, '').replace(/^[\s\u0000]+/, '').toLowerCase();
  if (/^<(!doctype\s+html|html|head|body|script|iframe|meta|a\s|div|!--)/.test(text)) return { refuse: '这是网页（HTML）文件' };
  if (/^<svg|^<\?xml/.test(text)) return { refuse: '这是 SVG/XML 文件' };
  return { refuse: '无法识别的文件类型' };
}

const RISKY_ENTRY = /\.(exe|dll|com|scr|msi|bat|cmd|ps1|psm1|vbs|vbe|js|jse|wsf|wsh|hta|lnk|jar|sh|py|pl|php|html?|xhtml|svg|apk|app)$/i;

/** What a zip is, from its central directory (names, declared sizes, flags), or why it is refused. */
export function classifyZip(name: string, entries: readonly ZipEntryInfo[]): AttachmentType {
  if (entries.length === 0) throw refused(name, '压缩包是空的');
  if (entries.length > ZIP_LIMITS.maxEntries) throw refused(name, `压缩包内文件过多（超过 ${ZIP_LIMITS.maxEntries} 个）`);
  let total = 0;
  for (const e of entries) {
    if (e.encrypted) throw refused(name, '压缩包已加密，无法检查其内容');
    total += e.uncompressedSize;
    const ratioBomb = e.uncompressedSize > ZIP_LIMITS.ratioMinBytes && e.uncompressedSize > ZIP_LIMITS.maxRatio * Math.max(1, e.compressedSize);
    if (ratioBomb || total > ZIP_LIMITS.maxTotalUncompressed) throw refused(name, '压缩包解压后的大小异常（疑似“压缩炸弹”）');
  }
  const names = new Set(entries.map((e) => e.name));
  const has = (prefix: string) => entries.some((e) => e.name.startsWith(prefix));
  if (names.has('[Content_Types].xml')) {
    const parts = [has('word/') ? 'docx' : null, has('xl/') ? 'xlsx' : null, has('ppt/') ? 'pptx' : null].filter((x): x is AttachmentType => !!x);
    if (parts.length !== 1) throw refused(name, 'Office 文档结构无效（缺少或混杂 word/、xl/、ppt/ 部分）');
    if (entries.some((e) => /vbaProject\.bin$/i.test(e.name))) throw refused(name, 'Office 文档含有宏');
    return parts[0]!;
  }
  if (names.has('OFD.xml')) return 'ofd';
  const risky = entries.find((e) => RISKY_ENTRY.test(e.name));
  if (risky) throw refused(name, `压缩包内含有可执行程序、脚本或网页（${risky.name.slice(0, 100)}）`);
  return 'zip';
}

/**
 * The stored name: the uploaded one made safe (no path, no control characters, ≤ 120 characters),
 * with the extension of its real type added when the name claims another.
 */
export function attachmentName(raw: string, type: AttachmentType): string {
  const name = safeBaseName(raw) || `附件${EXTENSIONS[type][0]}`;
  const lower = name.toLowerCase();
  return EXTENSIONS[type].some((x) => lower.endsWith(x)) ? name : `${name}${EXTENSIONS[type][0]}`;
}

/** A client-given file name without its path and control or reserved characters, ≤ 120 characters ('' when nothing is left). */
export function safeBaseName(raw: string): string {
  return (raw.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f"<>|:*?]/g, '_').trim().slice(-120);
}
