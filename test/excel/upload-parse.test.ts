import { expect } from 'chai';
import ExcelJS from 'exceljs';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AT_MOST_RULES, FIELD_KEYS, FIELD_LABELS, type FieldKey } from '../../server/domain/fields.ts';
import { columnLetter, parseReturnsWorkbook, type ParseContext, type ParseResult, type UnitInfo, type UploadError } from '../../server/excel/upload-parse.ts';
import { SIMPLE_VALUES, validValues } from '../fixtures/build-fixtures.ts';
import { MANY_UNITS, unitMap } from '../fixtures/units.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'xlsx');
const ctx: ParseContext = { units: unitMap() };
const parse = (name: string, c: Partial<ParseContext> = {}) => parseReturnsWorkbook(readFileSync(join(FIX, name)), { ...ctx, ...c });

function rowsOf(r: ParseResult) {
  if (!r.ok) throw new Error(`expected success, got:\n${r.errors.map((e) => e.message).join('\n')}`);
  return r.rows;
}
function errorsOf(r: ParseResult): UploadError[] {
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

async function bufferOf(build: (ws: ExcelJS.Worksheet) => void): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  build(wb.addWorksheet('Sheet1'));
  return Buffer.from(await wb.xlsx.writeBuffer());
}

const SIMPLE_ROWS = [
  { unit: 'D001', name: '省发展和改革委员会', values: SIMPLE_VALUES.D001 },
  { unit: 'D002', name: '省教育厅', values: SIMPLE_VALUES.D002 },
  { unit: 'D003', name: '省公安厅', values: SIMPLE_VALUES.D003 },
];

describe('parseReturnsWorkbook', () => {
  it('columnLetter', () => {
    expect([1, 26, 27, 52, 53, 702, 703].map(columnLetter)).to.deep.equal(['A', 'Z', 'AA', 'AZ', 'BA', 'ZZ', 'AAA']);
  });

  it('reads a plain file', async () => {
    const rows = rowsOf(await parse('simple.xlsx'));
    expect(rows.map(({ unit, name, values }) => ({ unit, name, values }))).to.deep.equal(SIMPLE_ROWS);
    expect(rows.map((r) => r.row)).to.deep.equal([2, 3, 4]);
  });

  it('reads a messy real-world file to the same values: merged titles, shuffled/extra columns, numeric text, full-width digits, separators, formulas, rich text, blank/note/合计 rows', async () => {
    const r = await parse('messy.xlsx');
    const rows = rowsOf(r);
    expect(rows.map(({ unit, name, values }) => ({ unit, name, values }))).to.deep.equal(SIMPLE_ROWS);
    expect(rows.map((x) => x.row)).to.deep.equal([5, 7, 8]);
    expect(r).to.include({ sheet: '2026年第三季度', headerRow: 4 });
  });

  it('reads the same file re-saved by LibreOffice Calc', async () => {
    const rows = rowsOf(await parse('lo-messy.xlsx'));
    expect(rows.map(({ unit, values }) => ({ unit, values }))).to.deep.equal(SIMPLE_ROWS.map(({ unit, values }) => ({ unit, values })));
  });

  it('reads a CSV imported and saved as xlsx by LibreOffice (thousands separators in the source)', async () => {
    const rows = rowsOf(await parse('lo-from-csv.xlsx'));
    expect(rows.map(({ unit, values }) => ({ unit, values }))).to.deep.equal(SIMPLE_ROWS.map(({ unit, values }) => ({ unit, values })));
  });

  it('reads a hand-written minimal package (inline strings, no styles, a string formula result)', async () => {
    const r = await parse('handmade.xlsx');
    expect(rowsOf(r).map(({ unit, values }) => ({ unit, values }))).to.deep.equal([{ unit: 'D001', values: SIMPLE_VALUES.D001 }]);
    expect(r).to.include({ sheet: '导出数据' });
  });

  it('reads 200 units in one file, with a header of keys and shared formulas', async () => {
    const rows = rowsOf(await parse('many-units.xlsx'));
    expect(rows).to.have.length(200);
    rows.forEach((row, i) => {
      expect(row.unit).to.equal(MANY_UNITS[i]!.code);
      expect(row.values).to.deep.equal(validValues(i));
    });
  });

  it('reads the first visible sheet (a hidden first sheet is skipped)', async () => {
    const r = await parse('hidden-first-sheet.xlsx');
    expect(rowsOf(r).map((x) => x.unit)).to.deep.equal(['D001']);
    expect(r).to.include({ sheet: '本季度' });
  });

  it('lists every error of a bad file with sheet, row, column, field and a message naming the cell', async () => {
    const errors = errorsOf(await parse('errors.xlsx'));
    const L = (k: keyof typeof FIELD_LABELS) => FIELD_LABELS[k];
    expect(errors).to.deep.equal([
      { sheet: '填报', row: 5, column: 'C', field: 'systems_extranet', message: '第5行 C列「已接入电子政务外网的系统数」12 大于「信息系统总数」10' },
      { sheet: '填报', row: 6, column: 'A', field: 'unit_code', message: '第6行 A列 单位代码“D999”不存在，请核对（可下载最新模板）' },
      { sheet: '填报', row: 7, column: 'A', field: 'unit_code', message: '第7行 A列 单位代码 D001 重复（与第4行相同），每个单位只能有一行' },
      { sheet: '填报', row: 8, column: 'B', field: 'systems_total', message: `第8行 B列「${L('systems_total')}」-3 为负数，应填写不小于 0 的整数` },
      { sheet: '填报', row: 8, column: 'D', field: 'systems_cloud', message: `第8行 D列「${L('systems_cloud')}」2.5 不是整数，应填写不小于 0 的整数` },
      { sheet: '填报', row: 8, column: 'E', field: 'networks_private', message: `第8行 E列「${L('networks_private')}」“无”不是数字，应填写不小于 0 的整数（没有请填 0）` },
      { sheet: '填报', row: 8, column: 'F', field: 'networks_standalone', message: `第8行 F列「${L('networks_standalone')}」未填写，应填写不小于 0 的整数（没有请填 0）` },
      { sheet: '填报', row: 9, column: 'B', field: 'systems_total', message: `第9行 B列「${L('systems_total')}」日期 2026-01-02 不是数字，应填写不小于 0 的整数（没有请填 0）` },
      { sheet: '填报', row: 9, column: 'C', field: 'systems_extranet', message: `第9行 C列「${L('systems_extranet')}」公式的结果为错误值 #DIV/0!` },
      { sheet: '填报', row: 9, column: 'D', field: 'systems_cloud', message: `第9行 D列「${L('systems_cloud')}」是公式但没有保存计算结果，请在 Excel 或 WPS 中打开并重新保存后上传` },
      { sheet: '填报', row: 10, column: 'A', field: 'unit_code', message: '第10行 A列 单位代码未填写（填写了数据的行必须有单位代码）' },
      { sheet: '填报', row: 11, column: 'M', field: 'unit_name', message: '第11行 M列 单位名称“省教育厅”是单位 D002 的名称，与单位代码 D005（省财政厅）不是同一个单位，请核对单位代码（或清空单位名称）' },
      { sheet: '填报', row: 12, column: 'G', field: 'catalogue_items', message: `第12行 G列「${L('catalogue_items')}」“12,34”的千位分隔符位置不正确，应填写不小于 0 的整数（如 1,234）` },
      { sheet: '填报', row: 12, column: 'H', field: 'catalogue_shared', message: `第12行 H列「${L('catalogue_shared')}」“99999999999999999”超出允许的最大值 9007199254740991` },
      { sheet: '填报', row: 12, column: 'J', field: 'requests_on_time', message: '第12行 J列「按时响应的共享申请数」21 大于「收到的共享申请数」20' },
    ]);
  });

  it('rejects rows of other units for a reporter, naming them', async () => {
    const errors = errorsOf(await parse('simple.xlsx', { onlyUnit: 'D001' }));
    expect(errors).to.deep.equal([
      { sheet: 'Sheet1', row: 3, column: 'A', field: 'unit_code', message: '第3行 A列 单位代码 D002（省教育厅）不是您所在的单位，您只能报送本单位（D001）的数据' },
      { sheet: 'Sheet1', row: 4, column: 'A', field: 'unit_code', message: '第4行 A列 单位代码 D003（省公安厅）不是您所在的单位，您只能报送本单位（D001）的数据' },
    ]);
    const own = rowsOf(await parse('hidden-first-sheet.xlsx', { onlyUnit: 'd001' }));
    expect(own.map((r) => r.unit)).to.deep.equal(['D001']);
  });

  it('missing header row (none in the first 20 rows)', async () => {
    for (const f of ['no-header.xlsx', 'header-too-low.xlsx']) {
      expect(errorsOf(await parse(f))).to.deep.equal([
        { sheet: 'Sheet1', row: null, column: null, field: 'unit_code', message: '工作表「Sheet1」的前 20 行中找不到表头行（表头行应有一格写“单位代码”或 unit_code）' },
      ]);
    }
  });

  it('missing required columns and duplicated columns', async () => {
    expect(errorsOf(await parse('missing-columns.xlsx'))).to.deep.equal([
      { sheet: 'Sheet1', row: 1, column: 'K', field: 'catalogue_items', message: '第1行 K列 表头「数据资源目录编目数」出现了两次（F列和K列），请删除多余的一列' },
      { sheet: 'Sheet1', row: 1, column: null, field: 'systems_cloud', message: '第1行 表头缺少「已部署政务云的系统数」列（列名可写“已部署政务云的系统数”或 systems_cloud）' },
      { sheet: 'Sheet1', row: 1, column: null, field: 'duties_with_data', message: '第1行 表头缺少「有数据支撑的事项数」列（列名可写“有数据支撑的事项数”或 duties_with_data）' },
    ]);
  });

  it('no data rows (a template with nothing filled in)', async () => {
    expect(errorsOf(await parse('no-data.xlsx'))).to.deep.equal([
      { sheet: 'Sheet1', row: null, column: null, field: null, message: '工作表「Sheet1」中没有可导入的数据行：请在表头（第1行）下方按单位逐行填写，只有单位代码而没有任何数值的行不会导入' },
    ]);
  });

  it('merged cells in data rows', async () => {
    expect(errorsOf(await parse('merged-data.xlsx'))).to.deep.equal([
      { sheet: 'Sheet1', row: 3, column: 'C', field: 'systems_extranet', message: '第3行 C列「已接入电子政务外网的系统数」是合并单元格，请取消合并，每格填写一个数' },
    ]);
  });

  it('unit names: another unit\'s name is an error, an informal name a warning, an alias silent; blank or checkNames off: no check', async () => {
    const buf = await bufferOf((ws) => {
      ws.addRow(['单位名称', '单位代码', ...FIELD_KEYS]);
      ws.addRow([' 省教育厅 ', 'D002', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D002![k])]);
      ws.addRow([null, 'D001', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D001![k])]);
      ws.addRow(['公安厅', 'D003', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D003![k])]);
    });
    const r = await parseReturnsWorkbook(buf, ctx);
    expect(rowsOf(r).map((x) => x.unit)).to.deep.equal(['D002', 'D001', 'D003']);
    expect(r.warnings).to.deep.equal([
      { sheet: 'Sheet1', row: 4, column: 'A', field: 'unit_name', message: '第4行 A列 单位名称“公安厅”与单位代码 D003 的登记名称“省公安厅”不一致，已按单位代码导入，请核对' },
    ]);
    // An alias (简称) of the unit matches silently.
    const withAlias = new Map<string, UnitInfo>(unitMap());
    withAlias.set('D003', { ...withAlias.get('D003')!, aliases: ['公安厅'] });
    const aliased = await parseReturnsWorkbook(buf, { units: withAlias });
    expect(rowsOf(aliased)).to.have.length(3);
    expect(aliased.warnings).to.deep.equal([]);
    // Another unit's registered name, or another unit's alias: an error (code and name point to different units).
    const other = await bufferOf((ws) => {
      ws.addRow(['单位代码', '单位名称', ...FIELD_KEYS]);
      ws.addRow(['D001', '省教育厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D001![k])]);
      ws.addRow(['D002', '公安厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D002![k])]);
    });
    expect(errorsOf(await parseReturnsWorkbook(other, { units: withAlias }))).to.deep.equal([
      { sheet: 'Sheet1', row: 2, column: 'B', field: 'unit_name', message: '第2行 B列 单位名称“省教育厅”是单位 D002 的名称，与单位代码 D001（省发展和改革委员会）不是同一个单位，请核对单位代码（或清空单位名称）' },
      { sheet: 'Sheet1', row: 3, column: 'B', field: 'unit_name', message: '第3行 B列 单位名称“公安厅”是单位 D003 的名称，与单位代码 D002（省教育厅）不是同一个单位，请核对单位代码（或清空单位名称）' },
    ]);
    const off = await parseReturnsWorkbook(other, { ...ctx, checkNames: false });
    expect(rowsOf(off).map((x) => x.unit)).to.deep.equal(['D001', 'D002']);
    expect(off.warnings).to.deep.equal([]);
  });

  it('the unit lookup may be a function; codes are matched case-insensitively and full-width tolerant', async () => {
    const buf = await bufferOf((ws) => {
      ws.addRow(['ＵＮＩＴ＿ＣＯＤＥ', ...FIELD_KEYS.map((k) => k.toUpperCase())]);
      ws.addRow(['ｃ０５７１', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D001![k])]);
    });
    const seen: string[] = [];
    const rows = rowsOf(await parseReturnsWorkbook(buf, { units: (code) => (seen.push(code), code === 'C0571' ? { name: '杭州市' } : undefined) }));
    expect(rows).to.deep.equal([{ unit: 'C0571', name: '杭州市', values: SIMPLE_VALUES.D001, row: 2 }]);
    expect(seen).to.deep.equal(['c0571', 'C0571']);
  });

  it('codes with spaces of any kind, names with spaces / full-width forms: matched; the same name checked on every row', async () => {
    const buf = await bufferOf((ws) => {
      ws.addRow(['单位代码', '单位名称', ...FIELD_KEYS]);
      ws.addRow([' D001 ', '省发展和改革委员会', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D001![k])]);
      ws.addRow(['D\u3000002', '省 教育厅\u00a0', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D002![k])]);
      ws.addRow(['d003', '省公安厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D003![k])]);
    });
    expect(rowsOf(await parseReturnsWorkbook(buf, ctx))).to.deep.equal(SIMPLE_ROWS.map((x, i) => ({ ...x, row: i + 2 })));
    // A function lookup that maps two codes to one registered name: each row's name is still checked.
    const same = { name: '省教育厅' };
    const bad = await bufferOf((ws) => {
      ws.addRow(['单位代码', '单位名称', ...FIELD_KEYS]);
      ws.addRow(['A1', '省教育厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D001![k])]);
      ws.addRow(['A2', '省公安厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D002![k])]);
      ws.addRow(['A3', 'ｓｈｅｎｇ 教育厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D003![k])]);
      ws.addRow(['A4', '省教育厅', ...FIELD_KEYS.map((k) => SIMPLE_VALUES.D003![k])]);
    });
    const r = await parseReturnsWorkbook(bad, { units: (code) => (/^A[1-4]$/.test(code) ? same : undefined) });
    expect(rowsOf(r)).to.have.length(4);
    expect(r.warnings!.map((e) => [e.row, e.column, e.field])).to.deep.equal([[3, 'B', 'unit_name'], [4, 'B', 'unit_name']]);
    // With a function lookup, knownNames tells another unit's name.
    const known = new Map([['省公安厅', 'D003']]);
    const errors = errorsOf(await parseReturnsWorkbook(bad, { units: (code) => (/^A[1-4]$/.test(code) ? same : undefined), knownNames: known }));
    expect(errors.map((e) => [e.row, e.column, e.field])).to.deep.equal([[3, 'B', 'unit_name']]);
  });

  it('stops listing after maxErrors, saying how many more there were', async () => {
    const buf = await bufferOf((ws) => {
      ws.addRow(['单位代码', ...FIELD_KEYS]);
      for (let i = 0; i < 10; i++) ws.addRow(['D001', ...FIELD_KEYS.map(() => -1)]);
    });
    const errors = errorsOf(await parseReturnsWorkbook(buf, { ...ctx, maxErrors: 5 }));
    expect(errors).to.have.length(6);
    // 10 rows × 11 negative values + 9 duplicate codes = 119 errors, 5 listed
    expect(errors[5]!.message).to.equal('错误过多，另有 114 处错误未列出，请修正以上错误后重新上传');
  });

  it('is all-or-nothing: one bad cell among 200 good rows returns no rows at all', async () => {
    const buf = await bufferOf((ws) => {
      ws.addRow(['unit_code', ...FIELD_KEYS]);
      MANY_UNITS.forEach((u, i) => ws.addRow([u.code, ...FIELD_KEYS.map((k) => validValues(i)[k])]));
      ws.getCell(`${columnLetter(2)}150`).value = 'x';
    });
    const r = await parseReturnsWorkbook(buf, ctx);
    expect(r).to.deep.equal({
      ok: false,
      warnings: [],
      errors: [{ sheet: 'Sheet1', row: 150, column: 'B', field: 'systems_total', message: '第150行 B列「信息系统总数」“x”不是数字，应填写不小于 0 的整数（没有请填 0）' }],
    });
  });

  it('property: a row is accepted exactly when its ≤ rules hold; each broken rule names its cell', async () => {
    const values = fc.record(Object.fromEntries(FIELD_KEYS.map((k) => [k, fc.nat(30)])) as Record<FieldKey, fc.Arbitrary<number>>);
    const style = fc.constantFrom<'number' | 'text' | 'fullwidth'>('number', 'text', 'fullwidth');
    await fc.assert(
      fc.asyncProperty(values, style, async (v, how) => {
        const buf = await bufferOf((ws) => {
          ws.addRow(['单位代码', ...FIELD_KEYS]);
          ws.addRow(['D001', ...FIELD_KEYS.map((k) => (how === 'number' ? v[k] : how === 'text' ? String(v[k]) : String(v[k]).replace(/[0-9]/g, (d) => '０１２３４５６７８９'[Number(d)]!)))]);
        });
        const r = await parseReturnsWorkbook(buf, ctx);
        const broken = AT_MOST_RULES.filter(([f, b]) => v[f] > v[b]);
        if (broken.length === 0) {
          expect(rowsOf(r)).to.deep.equal([{ unit: 'D001', name: '省发展和改革委员会', values: v, row: 2 }]);
        } else {
          expect(errorsOf(r)).to.deep.equal(
            broken.map(([f, b]) => {
              const column = columnLetter(2 + FIELD_KEYS.indexOf(f));
              return { sheet: 'Sheet1', row: 2, column, field: f, message: `第2行 ${column}列「${FIELD_LABELS[f]}」${v[f]} 大于「${FIELD_LABELS[b]}」${v[b]}` };
            }),
          );
        }
      }),
      { numRuns: 25 },
    );
  });
});
