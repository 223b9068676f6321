// A minimal, fast xlsx writer for the load and fuzz tests: the smallest set of parts Excel and
// exceljs accept (content types, relationships, workbook, one sheet with inline strings and numbers).
// Building hundreds of distinct files with exceljs would cost more CPU than the server under test.
import { FIELD_KEYS, FIELD_LABELS, type FieldKey } from '../../server/domain/fields.ts';
import { makeZip, type ZipInput } from '../fixtures/zip.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function colName(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

export type Cell = string | number | null;

export function sheetXml(rows: Cell[][]): string {
  const body = rows
    .map((r, ri) => {
      const cells = r
        .map((v, ci) => {
          if (v === null) return '';
          const ref = `${colName(ci)}${ri + 1}`;
          return typeof v === 'number' ? `<c r="${ref}"><v>${v}</v></c>` : `<c r="${ref}" t="inlineStr"><is><t>${esc(v)}</t></is></c>`;
        })
        .join('');
      return `<row r="${ri + 1}">${cells}</row>`;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${body}</sheetData></worksheet>`;
}

/** The parts of a one-sheet workbook; `sheet` is the XML of xl/worksheets/sheet1.xml. */
export function xlsxParts(sheet: string, extra: { name: string; data: string }[] = []): { name: string; data: string }[] {
  return [
    {
      name: '[Content_Types].xml',
      data:
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
        (extra.some((e) => e.name === 'xl/sharedStrings.xml') ? '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>' : '') +
        '</Types>',
    },
    {
      name: '_rels/.rels',
      data:
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    },
    {
      name: 'xl/workbook.xml',
      data:
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">' +
        '<sheets><sheet name="填报" sheetId="1" r:id="rId1"/></sheets></workbook>',
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data:
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>' +
        (extra.some((e) => e.name === 'xl/sharedStrings.xml') ? '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>' : '') +
        '</Relationships>',
    },
    { name: 'xl/worksheets/sheet1.xml', data: sheet },
    ...extra,
  ];
}

export function zipParts(parts: ZipInput[]): Buffer {
  return makeZip(parts);
}

/** A returns workbook (title row, label header, one row per unit) as a Buffer. */
export function returnsXlsx(rows: { code: string; name?: string | null; values: Partial<Record<FieldKey, number>> }[]): Buffer {
  const grid: Cell[][] = [['数据共享考核指标填报表'], ['单位代码', '单位名称', ...FIELD_KEYS.map((k) => FIELD_LABELS[k])]];
  for (const r of rows) grid.push([r.code, r.name ?? null, ...FIELD_KEYS.map((k) => r.values[k] ?? null)]);
  return makeZip(xlsxParts(sheetXml(grid)));
}
