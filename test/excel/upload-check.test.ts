import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { AppError } from '../../server/domain/errors.ts';
import { checkUpload, readCentralDirectory, SAVE_AS_XLSX } from '../../server/excel/upload-check.ts';
import { parseReturnsWorkbook } from '../../server/excel/upload-parse.ts';
import { unitMap } from '../fixtures/units.ts';
import { makeZip } from '../fixtures/zip.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'xlsx');
const fixture = (name: string) => readFileSync(join(FIX, name));

function refused(fn: () => unknown): AppError {
  try {
    fn();
  } catch (x) {
    expect(x).to.be.instanceOf(AppError);
    return x as AppError;
  }
  throw new Error('expected the file to be refused');
}

const MINIMAL_PARTS = [
  { name: '[Content_Types].xml', data: '<Types/>' },
  { name: 'xl/workbook.xml', data: '<workbook/>' },
];

/** A minimal compound-file (OLE/CFB) header with the given stream names in its directory sector. */
function cfb(streamNames: string[]): Buffer {
  const header = Buffer.alloc(512);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(header, 0);
  header.writeUInt16LE(0x3e, 24);
  header.writeUInt16LE(3, 26);
  header.writeUInt16LE(0xfffe, 28);
  header.writeUInt16LE(9, 30);
  const dir = Buffer.alloc(512);
  ['Root Entry', ...streamNames].slice(0, 4).forEach((n, i) => {
    const name = Buffer.from(`${n}\0`, 'utf16le');
    name.copy(dir, i * 128);
    dir.writeUInt16LE(name.length, i * 128 + 64);
  });
  return Buffer.concat([header, dir]);
}

describe('checkUpload (before parsing)', () => {
  it('passes real xlsx files from exceljs, LibreOffice and a hand-written package', () => {
    for (const f of ['simple.xlsx', 'messy.xlsx', 'many-units.xlsx', 'lo-messy.xlsx', 'lo-from-csv.xlsx', 'handmade.xlsx']) {
      const s = checkUpload(fixture(f));
      expect(s.entries.map((e) => e.name), f).to.include('xl/workbook.xml');
      expect(s.uncompressedTotal).to.be.greaterThan(0);
    }
  });

  it('refuses a file over the size limit with file_too_large / 413 (default 10 MB)', () => {
    const e = refused(() => checkUpload(Buffer.alloc(10 * 1024 * 1024 + 1)));
    expect(e).to.include({ status: 413, code: 'file_too_large', message: '文件过大（10 MB），上传的文件不能超过 10 MB' });
    // exactly at the limit is not "too large" (it fails later, for what it is)
    expect(refused(() => checkUpload(Buffer.alloc(10 * 1024 * 1024))).code).to.not.equal('file_too_large');
    const small = refused(() => checkUpload(fixture('many-units.xlsx'), { maxBytes: 1000 }));
    expect(small).to.include({ status: 413, code: 'file_too_large' });
  });

  it('refuses an empty file', () => {
    expect(refused(() => checkUpload(Buffer.alloc(0)))).to.include({ status: 422, code: 'empty_file', message: '上传的文件是空的（0 字节），请重新选择文件' });
  });

  it('refuses a legacy .xls saved by LibreOffice: 请另存为 .xlsx 格式后上传', () => {
    const e = refused(() => checkUpload(fixture('legacy.xls')));
    expect(e).to.include({ status: 422, code: 'legacy_xls' });
    expect(e.message).to.equal('文件是旧版 Excel 97-2003 工作簿（.xls）或 WPS 表格（.et）格式，系统只接受 .xlsx 文件，请另存为 .xlsx 格式后上传');
    expect(refused(() => checkUpload(cfb(['Workbook', 'SummaryInformation']))).code).to.equal('legacy_xls');
  });

  it('refuses a password-protected (encrypted) xlsx: an OLE container with EncryptedPackage', () => {
    const e = refused(() => checkUpload(cfb(['EncryptionInfo', 'EncryptedPackage', '\u0006DataSpaces'])));
    expect(e).to.include({ status: 422, code: 'encrypted_workbook', message: `文件设置了打开密码（已加密），系统无法读取。请取消密码，${SAVE_AS_XLSX}` });
  });

  it('refuses a CSV renamed to .xlsx, an HTML "Excel" export, a PDF, XML 2003, an .ods, a .docx', () => {
    const csv = refused(() => checkUpload(fixture('csv-renamed.xlsx')));
    expect(csv).to.include({ status: 422, code: 'not_xlsx' });
    expect(csv.message).to.equal('文件是纯文本（如改了扩展名的 CSV 文件），不是 Excel 工作簿（.xlsx）。请另存为 .xlsx 格式后上传（在 Excel 或 WPS 中打开，选择“另存为”）');
    expect(refused(() => checkUpload(fixture('html-export.xlsx'))).message).to.match(/^文件实际是网页（HTML）格式/);
    expect(refused(() => checkUpload(Buffer.from('%PDF-1.7\n...'))).message).to.match(/^文件是 PDF 文档，/);
    const xml2003 = '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>';
    expect(refused(() => checkUpload(Buffer.from(xml2003))).message).to.match(/^文件是“XML 电子表格 2003”格式/);
    const ods = refused(() => checkUpload(fixture('spreadsheet.ods')));
    expect(ods).to.include({ code: 'not_xlsx' });
    expect(ods.message).to.match(/^文件是 OpenDocument 表格（\.ods）/);
    const docx = makeZip([{ name: '[Content_Types].xml', data: '<Types/>' }, { name: 'word/document.xml', data: '<w:document/>' }]);
    expect(refused(() => checkUpload(docx)).message).to.match(/^文件是 Word 文档/);
    const xlsb = makeZip([{ name: 'xl/workbook.bin', data: 'x' }]);
    expect(refused(() => checkUpload(xlsb)).message).to.match(/^文件是 Excel 二进制工作簿（\.xlsb）/);
  });

  it('refuses a zip without xl/workbook.xml as not an xlsx', () => {
    const e = refused(() => checkUpload(makeZip([{ name: 'hello.txt', data: 'hello' }])));
    expect(e).to.include({ status: 422, code: 'not_xlsx' });
    expect(e.message).to.contain('缺少 xl/workbook.xml');
  });

  it('refuses a truncated or corrupt zip with a clear message', () => {
    const good = fixture('simple.xlsx');
    const truncated = refused(() => checkUpload(good.subarray(0, Math.floor(good.length / 2))));
    expect(truncated).to.include({ status: 422, code: 'corrupt_file' });
    expect(truncated.message).to.equal('文件已损坏或不完整（找不到压缩包目录，文件可能被截断），无法读取。请在 Excel 或 WPS 中重新保存后上传');
    // the directory survives but the data it points to is cut off
    const cd = readCentralDirectory(good);
    const eocd = good.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const cut = Buffer.concat([good.subarray(0, 100), good.subarray(good.readUInt32LE(eocd + 16))]);
    expect(refused(() => checkUpload(cut)).message).to.contain('压缩包目录位置不正确');
    // scrambled compressed data of the worksheet
    const scrambled = Buffer.from(good);
    const sheet = cd.find((e) => e.name === 'xl/worksheets/sheet1.xml')!;
    for (let i = sheet.dataOffset; i < sheet.dataOffset + sheet.compressedSize; i++) scrambled[i] = 0xff;
    expect(refused(() => checkUpload(scrambled)).code).to.equal('corrupt_file');
    // only the local header signature: a zip that ends at once
    expect(refused(() => checkUpload(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0]))).code).to.equal('corrupt_file');
  });

  it('refuses a zip bomb of many entries from the directory alone, without inflating anything', () => {
    // 5,000 entries whose "compressed data" is garbage: inflating any would fail as corrupt_file,
    // so unsafe_zip proves the refusal came from the central directory.
    const entries = [...MINIMAL_PARTS, ...Array.from({ length: 5000 }, (_, i) => ({ name: `xl/media/${i}.bin`, deflated: Buffer.from([0xff, 0xff]), uncompressedSize: 10 }))];
    const e = refused(() => checkUpload(makeZip(entries)));
    expect(e).to.include({ status: 422, code: 'unsafe_zip' });
    expect(e.message).to.equal('文件内容异常（包含 5002 个内部文件，超过上限 2000），疑似压缩炸弹，已拒绝。请上传正常保存的 .xlsx 文件');
  });

  it('refuses a zip whose directory claims a huge uncompressed size, without inflating it', () => {
    const garbage = Buffer.alloc(20_000, 0xff); // not valid deflate data
    const zip = makeZip([...MINIMAL_PARTS, { name: 'xl/worksheets/sheet1.xml', deflated: garbage, uncompressedSize: 4_000_000_000 }]);
    const e = refused(() => checkUpload(zip));
    expect(e).to.include({ code: 'unsafe_zip' });
    expect(e.message).to.contain('解压后超过 100 MB');
  });

  it('refuses an honest high-ratio bomb (8 MB of zeros) by its compression ratio', () => {
    const zeros = deflateRawSync(Buffer.alloc(8 * 1024 * 1024));
    const zip = makeZip([...MINIMAL_PARTS, { name: 'xl/worksheets/sheet1.xml', deflated: zeros, uncompressedSize: 8 * 1024 * 1024 }]);
    expect(zip.length).to.be.lessThan(100_000);
    const e = refused(() => checkUpload(zip));
    expect(e).to.include({ code: 'unsafe_zip' });
    expect(e.message).to.contain('压缩比超过 200:1');
    // and by total size when many such entries add up under the ratio limit
    const many = makeZip([...MINIMAL_PARTS, ...Array.from({ length: 30 }, (_, i) => ({ name: `xl/worksheets/sheet${i}.xml`, deflated: Buffer.alloc(20_000), uncompressedSize: 4_000_000 }))]);
    expect(refused(() => checkUpload(many)).message).to.contain('解压后超过 100 MB');
  });

  it('refuses a zip whose directory understates a size: inflation is capped at the declared size', () => {
    const zeros = deflateRawSync(Buffer.alloc(5 * 1024 * 1024));
    const zip = makeZip([...MINIMAL_PARTS, { name: 'xl/worksheets/sheet1.xml', deflated: zeros, uncompressedSize: 5 * 1024 * 1024, declareUncompressed: 1000 }]);
    const e = refused(() => checkUpload(zip));
    expect(e).to.include({ code: 'unsafe_zip' });
    expect(e.message).to.contain('解压后大于其声明的大小');
  });

  it('refuses overlapping entries (the "non-recursive" zip bomb)', () => {
    const zip = makeZip([...MINIMAL_PARTS, { name: 'xl/worksheets/sheet1.xml', data: '<worksheet/>' }]);
    // point the last central-directory record at the first local header
    const lastCentral = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(0, lastCentral + 42);
    const e = refused(() => checkUpload(zip));
    expect(e).to.include({ code: 'unsafe_zip' });
    expect(e.message).to.contain('内部文件相互重叠');
  });

  it('refuses encrypted zip entries and unsupported compression methods', () => {
    const enc = makeZip([...MINIMAL_PARTS, { name: 'xl/worksheets/sheet1.xml', data: 'x', flags: 1 }]);
    expect(refused(() => checkUpload(enc)).code).to.equal('encrypted_workbook');
    const lzma = makeZip([...MINIMAL_PARTS, { name: 'xl/worksheets/sheet1.xml', data: 'x' }]);
    const lastCentral = lzma.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    lzma.writeUInt16LE(14, lastCentral + 10);
    expect(refused(() => checkUpload(lzma)).message).to.contain('不支持的压缩方式 14');
  });

  it('parseReturnsWorkbook runs the checks first (file errors are thrown, not listed)', async () => {
    for (const [f, code] of [['legacy.xls', 'legacy_xls'], ['csv-renamed.xlsx', 'not_xlsx'], ['spreadsheet.ods', 'not_xlsx']] as const) {
      try {
        await parseReturnsWorkbook(fixture(f), { units: unitMap() });
        expect.fail(`${f} should be refused`);
      } catch (x) {
        expect(x).to.be.instanceOf(AppError);
        expect((x as AppError).code).to.equal(code);
      }
    }
  });

  it('a valid zip with broken workbook XML is refused as corrupt_file by the parser', async () => {
    const zip = makeZip([
      { name: '[Content_Types].xml', data: '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>' },
      { name: '_rels/.rels', data: '<Relationships' },
      { name: 'xl/workbook.xml', data: '<<<not xml' },
    ]);
    try {
      await parseReturnsWorkbook(zip, { units: unitMap() });
      expect.fail('should be refused');
    } catch (x) {
      expect(x).to.be.instanceOf(AppError);
      expect((x as AppError).code).to.equal('corrupt_file');
    }
  });
});
