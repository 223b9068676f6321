import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AT_MOST_RULES, FIELD_KEYS, RETURN_FIELDS } from '../../server/domain/fields.ts';
import { readCentralDirectory, readZipEntry } from '../../server/excel/upload-check.ts';
import { buildTemplate, formatDateTime, periodTitle } from '../../server/excel/template.ts';
import { parseReturnsWorkbook, type ParseResult } from '../../server/excel/upload-parse.ts';
import { fillTemplate, SIMPLE_VALUES, TEMPLATE_INPUT } from '../fixtures/build-fixtures.ts';
import { FIXTURE_UNITS, unitMap } from '../fixtures/units.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'xlsx');

async function load(buf: Buffer) {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ExcelJS.Buffer);
  return wb;
}

function xmlOf(buf: Buffer, name: string): string {
  const e = readCentralDirectory(buf).find((x) => x.name === name);
  if (!e) throw new Error(`no ${name}`);
  return readZipEntry(buf, e).toString('utf8');
}

const EXPECTED_ROWS = ['D001', 'D002', 'D003'].map((code) => ({ unit: code, values: SIMPLE_VALUES[code] }));
const rowsOf = (r: ParseResult) => {
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.rows.map(({ unit, values }) => ({ unit, values }));
};

describe('buildTemplate', () => {
  let buf: Buffer;
  before(async () => {
    buf = await buildTemplate(TEMPLATE_INPUT);
  });

  it('formats periods and deadlines in the configured time zone', () => {
    expect(periodTitle('2026Q3')).to.equal('2026年第3季度');
    expect(periodTitle('2026')).to.equal('2026年度');
    expect(formatDateTime(new Date('2026-10-15T15:59:59Z'), 'Asia/Shanghai')).to.equal('2026-10-15 23:59:59');
    expect(formatDateTime('2026-10-15T15:59:59Z', 'UTC')).to.equal('2026-10-15 15:59:59');
    expect(formatDateTime(new Date('2026-01-01T00:00:00Z'), 'America/New_York')).to.equal('2025-12-31 19:00:00');
  });

  it('has a title naming the period and the deadline, the labels, the keys and one row per unit', async () => {
    const wb = await load(buf);
    const ws = wb.worksheets[0]!;
    expect(ws.name).to.equal('填报表');
    expect(ws.getCell('A1').value).to.equal('2026年第3季度（2026Q3）政务数据共享考核填报表　报送截止时间：2026-10-15 23:59:59（Asia/Shanghai）');
    expect(ws.getRow(3).values).to.deep.equal([undefined, '单位代码', '单位名称', ...RETURN_FIELDS.map((f) => f.label)]);
    expect(ws.getRow(4).values).to.deep.equal([undefined, 'unit_code', 'unit_name', ...FIELD_KEYS]);
    const listed = [];
    for (let r = 5; r < 5 + FIXTURE_UNITS.length; r++) listed.push({ code: ws.getCell(`A${r}`).value, name: ws.getCell(`B${r}`).value });
    expect(listed).to.deep.equal(FIXTURE_UNITS);
    expect(ws.getCell('C3').note).to.satisfy((n: unknown) => JSON.stringify(n).includes('systems_total'));
  });

  it('freezes the header and the code/name columns, and sets column widths', async () => {
    const ws = (await load(buf)).worksheets[0]!;
    expect(ws.views[0]).to.include({ state: 'frozen', xSplit: 2, ySplit: 4 });
    expect(ws.getColumn(2).width).to.equal(26);
    expect(ws.getColumn(3).width).to.equal(15);
  });

  it('validates every value cell as a whole number ≥ 0, and highlights broken ≤ rules', () => {
    const xml = xmlOf(buf, 'xl/worksheets/sheet1.xml');
    const last = 4 + FIXTURE_UNITS.length;
    expect(xml).to.contain(`<dataValidation type="whole" operator="greaterThanOrEqual" allowBlank="1" showErrorMessage="1" errorStyle="stop" errorTitle="请输入整数" error="请填写不小于 0 的整数（没有请填 0）。" sqref="C5:M${last}"><formula1>0</formula1></dataValidation>`);
    expect(xml).to.contain(`<conditionalFormatting sqref="D5:D${last}"><cfRule type="expression" dxfId="0" priority="1"><formula>AND(ISNUMBER(D5),ISNUMBER($C5),D5&gt;$C5)</formula>`);
    expect((xml.match(/<conditionalFormatting /g) ?? []).length).to.equal(AT_MOST_RULES.length);
  });

  it('writes a unit name that looks like a formula as text', () => {
    const xml = xmlOf(buf, 'xl/worksheets/sheet1.xml');
    expect(xml).to.not.contain('<f>');
    expect(xmlOf(buf, 'xl/sharedStrings.xml')).to.contain('=HYPERLINK(');
  });

  it('has an instructions sheet (说明) explaining every field and the ≤ rules', async () => {
    const wb = await load(buf);
    const ws = wb.getWorksheet('说明')!;
    expect(ws).to.not.equal(undefined);
    const text: string[] = [];
    ws.eachRow((row) => row.eachCell((c) => text.push(String(c.value))));
    const all = text.join('\n');
    for (const f of RETURN_FIELDS) expect(all).to.contain(f.label).and.contain(f.key);
    expect(all).to.contain('「已接入电子政务外网的系统数」≤「信息系统总数」');
    expect(all).to.contain('不得大于「收到的共享申请数」');
    expect(all).to.contain('2026-10-15 23:59:59');
  });

  it('round-trips through the parser: empty → no data rows; filled → exactly the values typed', async () => {
    const empty = await parseReturnsWorkbook(buf, { units: unitMap() });
    expect(empty.ok).to.equal(false);
    if (!empty.ok) expect(empty.errors[0]!.message).to.match(/^工作表「填报表」中没有可导入的数据行：请在表头（第3行）下方/);
    const filled = await parseReturnsWorkbook(await fillTemplate(buf), { units: unitMap() });
    expect(rowsOf(filled)).to.deep.equal(EXPECTED_ROWS);
    expect(filled).to.include({ headerRow: 3 });
  });

  it('round-trips the committed filled template, and the same file re-saved by LibreOffice', async () => {
    for (const f of ['template-filled.xlsx', 'lo-template-filled.xlsx']) {
      expect(rowsOf(await parseReturnsWorkbook(readFileSync(join(FIX, f)), { units: unitMap() })), f).to.deep.equal(EXPECTED_ROWS);
    }
  });

  it('a single-unit template for a reporter parses for that reporter', async () => {
    const one = await buildTemplate({ ...TEMPLATE_INPUT, units: [{ code: 'D002', name: '省教育厅' }] });
    const r = await parseReturnsWorkbook(await fillTemplate(one), { units: unitMap(), onlyUnit: 'D002' });
    expect(rowsOf(r)).to.deep.equal([EXPECTED_ROWS[1]]);
  });
});
