import { expect } from 'chai';
import { DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';
import ExcelJS from 'exceljs';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIELD_KEYS, FIELD_LABELS } from '../../server/domain/fields.ts';
import { readCentralDirectory, readZipEntry } from '../../server/excel/upload-check.ts';
import {
  annualWorkbookBuffer,
  assessmentWorkbookBuffer,
  GRADE_FILLS,
  safeText,
  unitWorkbookBuffer,
  writeAssessmentWorkbook,
  type AssessmentWorkbookInput,
  type ResultRow,
} from '../../server/excel/workbook.ts';

const ind = (value: number, weight: number) => ({ value, score: Math.round(value * weight * 100) / 100, applicable: true });
const NA = { value: null, score: null, applicable: false };

/** Names that would be formulas if written naively (CSV/DDE injection classics). */
const NASTY = ['=HYPERLINK("http://example.invalid","点我")', '+1+1', '-2+3', '@SUM(A1:A2)', '=cmd|\' /C calc\'!A0'];

const RESULTS: ResultRow[] = [
  { unit: 'D001', name: '省发展和改革委员会', category: 'department', indicators: { I1: ind(0.4, 25), I2: ind(0.8, 20), I3: ind(0.6, 20), I4: ind(0.95, 15), I5: NA, I6: ind(0.75, 10) }, base: 72.5, deductions: 2, total: 70.5, grade: '合格', rank: 2, rankChange: -1, flags: ['late'] },
  { unit: 'D099', name: NASTY[0]!, category: 'department', indicators: { I1: ind(1, 25), I2: ind(1, 20), I3: ind(1, 20), I4: ind(1, 15), I5: ind(1, 10), I6: ind(1, 10) }, base: 100, deductions: 0, total: 100, grade: '优秀', rank: 1, rankChange: 3, flags: [] },
  { unit: 'C0571', name: '杭州市', category: 'city', indicators: {}, base: null, deductions: null, total: 0, grade: '不合格', rank: 1, rankChange: null, flags: ['missing'] },
  { unit: 'X330102', name: NASTY[1]!, category: 'county', indicators: { I1: ind(0.9, 25), I2: ind(0.9, 20), I3: ind(0.9, 20), I4: ind(0.9, 15), I5: ind(0.9, 10), I6: ind(0.9, 10) }, base: 90, deductions: 0, total: 90, grade: '良好', rank: 1, rankChange: 0, flags: [] },
];

const INDICATORS = DEFAULT_SCHEME.indicators.map((i) => ({ id: i.id, name: i.name, weight: i.weight }));

const INPUT: AssessmentWorkbookInput = {
  indicators: INDICATORS,
  period: '2026Q3',
  status: 'final',
  schemeVersion: 1,
  generatedAt: new Date('2026-10-23T02:00:00Z'),
  timeZone: 'Asia/Shanghai',
  results: RESULTS,
  returns: [
    { unit: 'D001', revision: 2, values: Object.fromEntries(FIELD_KEYS.map((k, i) => [k, i * 1000])), status: 'approved', late: true, submittedAt: '2026-10-16T01:00:00Z', submittedBy: NASTY[2]!, source: 'excel' },
    { unit: 'C0571', values: null },
  ],
  cases: [{ unit: 'C0571', period: '2026Q3', rule: 'A2', type: '通报', status: 'open', dueAt: null, openedAt: '2026-10-23T02:00:00Z', reason: NASTY[3]! }],
};

async function load(buf: Buffer) {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ExcelJS.Buffer);
  return wb;
}

function entryText(buf: Buffer, name: string): string {
  const e = readCentralDirectory(buf).find((x) => x.name === name);
  if (!e) throw new Error(`no ${name}`);
  return readZipEntry(buf, e).toString('utf8');
}

/** Reads the written file back: no cell of any sheet is a formula, and the XML has no <f>. */
async function expectNoFormula(buf: Buffer) {
  const wb = await load(buf);
  let cells = 0;
  for (const ws of wb.worksheets) {
    ws.eachRow((row) =>
      row.eachCell((c) => {
        cells++;
        expect(c.type, `${ws.name}!${c.address}`).to.not.equal(ExcelJS.ValueType.Formula);
        expect(c.formula, `${ws.name}!${c.address}`).to.equal(undefined);
      }),
    );
  }
  expect(cells).to.be.greaterThan(10);
  for (const e of readCentralDirectory(buf).filter((x) => x.name.startsWith('xl/worksheets/sheet'))) {
    expect(readZipEntry(buf, e).toString('utf8'), e.name).to.not.match(/<f[ >]/);
  }
  return wb;
}

function allText(ws: ExcelJS.Worksheet): string[] {
  const out: string[] = [];
  ws.eachRow((row) => row.eachCell((c) => out.push(String(c.value))));
  return out;
}

describe('assessment workbook (考核表)', () => {
  let buf: Buffer;
  let wb: ExcelJS.Workbook;
  before(async () => {
    buf = await assessmentWorkbookBuffer(INPUT);
    wb = await load(buf);
  });

  it('has the ranking sheet first, then returns and cases', () => {
    expect(wb.worksheets.map((w) => w.name)).to.deep.equal(['考核排名', '填报数据', '问责情况']);
  });

  it('ranking: title, header, rows by category then rank, values with number formats and grade fills', () => {
    const ws = wb.worksheets[0]!;
    expect(ws.getCell('A1').value).to.equal('2026年第3季度政务数据共享考核表（正式结果）');
    const header = (ws.getRow(3).values as unknown[]).slice(1);
    expect(header.slice(0, 6)).to.deep.equal(['类别', '排名', '单位代码', '单位名称', 'I1 外网接入率\n指标值', 'I1\n得分（满分25）']);
    expect(header.slice(-6)).to.deep.equal(['基础分', '扣分', '总分', '等级', '较上期\n排名变化', '标记']);
    const codes = [4, 5, 6, 7].map((r) => ws.getCell(`C${r}`).value);
    expect(codes).to.deep.equal(['D099', 'D001', 'C0571', 'X330102']);
    const d001 = ws.getRow(5);
    expect(d001.getCell(1).value).to.equal('省直部门');
    expect(d001.getCell(2).value).to.equal(2);
    expect(d001.getCell(5).value).to.equal(0.4);
    expect(d001.getCell(5).numFmt).to.equal('0.00%');
    expect(d001.getCell(6).value).to.equal(10);
    expect(d001.getCell(6).numFmt).to.equal('0.00');
    expect(d001.getCell(13).value).to.equal('不适用'); // I5 not applicable
    const col = (h: string) => header.indexOf(h) + 1;
    expect(d001.getCell(col('总分')).value).to.equal(70.5);
    expect(d001.getCell(col('总分')).numFmt).to.equal('0.00');
    expect(d001.getCell(col('等级')).value).to.equal('合格');
    expect((d001.getCell(col('等级')).fill as ExcelJS.FillPattern).fgColor?.argb).to.equal(GRADE_FILLS['合格']);
    expect((ws.getRow(4).getCell(col('等级')).fill as ExcelJS.FillPattern).fgColor?.argb).to.equal(GRADE_FILLS['优秀']);
    expect((ws.getRow(6).getCell(col('等级')).fill as ExcelJS.FillPattern).fgColor?.argb).to.equal(GRADE_FILLS['不合格']);
    expect(d001.getCell(col('较上期\n排名变化')).value).to.equal(-1);
    expect(d001.getCell(col('较上期\n排名变化')).numFmt).to.equal('"↑"0;"↓"0;"–"');
    expect(d001.getCell(col('标记')).value).to.equal('逾期报送');
    expect(ws.getRow(6).getCell(col('标记')).value).to.equal('缺报');
  });

  it('ranking prints well: frozen header, A4 landscape, fit to width, header row on every page, header/footer with title, period, pages', () => {
    const ws = wb.worksheets[0]!;
    expect(ws.views[0]).to.include({ state: 'frozen', xSplit: 4, ySplit: 3 });
    expect(ws.pageSetup).to.include({ paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 });
    expect(entryText(buf, 'xl/workbook.xml')).to.contain('<definedName name="_xlnm.Print_Titles" localSheetId="0">&apos;考核排名&apos;!$3:$3</definedName>');
    const sheetXml = entryText(buf, 'xl/worksheets/sheet1.xml');
    expect(sheetXml).to.match(/<oddHeader>[^<]*2026年第3季度政务数据共享考核表[^<]*<\/oddHeader>/);
    expect(sheetXml).to.match(/<oddFooter>[^<]*第 &amp;P 页，共 &amp;N 页[^<]*2026Q3[^<]*<\/oddFooter>/);
  });

  it('page header read back like Excel: the year after the font-size code is text, not part of the size (year workbook too)', async () => {
    /** The centre section's printed text: "&" codes removed the way Excel reads them (a font size takes every digit). */
    const centre = (xml: string): string => {
      const h = /<oddHeader>([^<]*)<\/oddHeader>/.exec(xml)![1]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"');
      let out = '';
      let section = '';
      for (let i = 0; i < h.length; i++) {
        if (h[i] !== '&') { if (section === 'C') out += h[i]; continue; }
        const next = h[i + 1] ?? '';
        if (next === '&') { if (section === 'C') out += '&'; i++; }
        else if (/[LCR]/.test(next)) { section = next; i++; }
        else if (next === '"') i = h.indexOf('"', i + 2); // &"font,style"
        else if (/\d/.test(next)) { i++; while (/\d/.test(h[i + 1] ?? '')) i++; } // &nn: every digit is the size
        else i++; // &P, &A …
      }
      return out;
    };
    expect(centre(entryText(buf, 'xl/worksheets/sheet1.xml'))).to.equal('2026年第3季度政务数据共享考核表');
    const annual = await annualWorkbookBuffer({ year: 2026, generatedAt: new Date('2027-01-10T02:00:00Z'), results: [] });
    expect(centre(entryText(annual, 'xl/worksheets/sheet1.xml'))).to.match(/^2026年/);
  });

  it('pending and missing rows: no indicator values (not 不适用) and no 扣分; a signature block under the ranking', async () => {
    const pendingRow: ResultRow = { unit: 'D200', name: '待报单位', category: 'department', indicators: { I1: NA, I2: NA, I3: NA, I4: NA, I5: NA, I6: NA }, base: null, deductions: null, total: null, grade: null, rank: null, rankChange: null, flags: ['pending'] };
    const b = await assessmentWorkbookBuffer({ ...INPUT, results: [...RESULTS, pendingRow] });
    const ws = (await load(b)).worksheets[0]!;
    const header = (ws.getRow(3).values as unknown[]).slice(1);
    const col = (h: string) => header.indexOf(h) + 1;
    const rowOf = (code: string) => { let n = 0; ws.eachRow((r, i) => { if (r.getCell(3).value === code) n = i; }); return ws.getRow(n); };
    const p = rowOf('D200');
    const indicatorCells = Array.from({ length: 12 }, (_, i) => p.getCell(5 + i).value);
    expect(indicatorCells.every((v) => v === '—')).to.equal(true);
    expect(p.getCell(col('扣分')).value).to.equal('—');
    expect(p.getCell(col('总分')).value).to.equal('—');
    expect(p.getCell(col('等级')).value).to.equal('待报送');
    const m = rowOf('C0571'); // 缺报: total 0, 不合格, but no indicator values and no 扣分
    expect(m.getCell(5).value).to.equal('—');
    expect(m.getCell(col('扣分')).value).to.equal('—');
    expect(m.getCell(col('总分')).value).to.equal(0);
    const all = allText(ws).join('\n');
    for (const s of ['制表单位（盖章）：', '审核人（签字）：', '负责人（签字）：', '日期：      年    月    日']) expect(all).to.contain(s);
  });

  it('returns sheet: labels and keys in the header, values, who/when/how', () => {
    const ws = wb.getWorksheet('填报数据')!;
    const header = (ws.getRow(3).values as unknown[]).slice(1);
    expect(header.slice(8)).to.deep.equal(FIELD_KEYS.map((k) => `${FIELD_LABELS[k]}\n${k}`));
    const r = ws.getRow(4);
    expect((r.values as unknown[]).slice(1, 9)).to.deep.equal(['D001', '省发展和改革委员会', 2, '已通过', '是', '2026-10-16 09:00:00', NASTY[2], 'Excel 上传']);
    expect(r.getCell(9 + 10).value).to.equal(10000);
    expect(r.getCell(19).numFmt).to.equal('#,##0');
    expect(ws.getRow(5).getCell(4).value).to.equal('缺报');
  });

  it('cases sheet', () => {
    const r = wb.getWorksheet('问责情况')!.getRow(4);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => r.getCell(i).value)).to.deep.equal([
      'C0571', '杭州市', '2026Q3', 'A2 未按时报送', '通报', '待整改', null, '2026-10-23 10:00:00', NASTY[3],
    ]);
  });

  it('no text from users becomes a formula: every nasty name is a plain text cell', async () => {
    const back = await expectNoFormula(buf);
    const texts = back.worksheets.flatMap(allText);
    for (const s of [NASTY[0], NASTY[1], NASTY[2], NASTY[3]]) expect(texts).to.include(s);
    const ws = back.worksheets[0]!;
    expect(ws.getCell('D4').value).to.equal(NASTY[0]);
    expect(ws.getCell('D4').type).to.equal(ExcelJS.ValueType.String);
    expect(ws.getCell('D4').numFmt).to.equal('@');
  });

  it('streams a large workbook to a file stream (5,000 units)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-'));
    try {
      const file = join(dir, 'big.xlsx');
      const results: ResultRow[] = Array.from({ length: 5000 }, (_, i) => ({
        ...RESULTS[0]!,
        unit: `U${String(i).padStart(5, '0')}`,
        name: i % 7 === 0 ? `=单位${i}` : `单位${i}`,
        rank: i + 1,
        total: 100 - i / 100,
      }));
      const out = createWriteStream(file);
      await writeAssessmentWorkbook({ ...INPUT, results, returns: [], cases: [] }, out);
      const big = readFileSync(file);
      // read the sheet XML directly (loading 125,000 cells back into exceljs would be the slow part)
      const xml = entryText(big, 'xl/worksheets/sheet1.xml');
      expect((xml.match(/<row /g) ?? []).length).to.equal(3 + 5000 + 1); // + the signature row (empty spacer rows are not written)
      expect(xml).to.not.match(/<f[ >]/);
      const strings = entryText(big, 'xl/sharedStrings.xml');
      const sharedIndex = (text: string) => (strings.match(/<si>[\s\S]*?<\/si>/g) ?? []).findIndex((si) => si === `<si><t>${text}</t></si>`);
      const idx = sharedIndex('U04999');
      expect(idx).to.be.greaterThan(-1);
      expect(xml).to.match(new RegExp(`<c r="C5003"[^>]* t="s"><v>${idx}</v></c>`));
      const nasty = sharedIndex('=单位0');
      expect(xml).to.match(new RegExp(`<c r="D4"[^>]* t="s"><v>${nasty}</v></c>`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every data cell of every sheet: its value, the number format of its column (text "@"), border, alignment, and a fill only where the grade / status calls for one', async () => {
    // A larger, varied input: every grade and none, indicators missing / not applicable / null,
    // returns in every status (rejected is filled), cases in every status (overdue is filled).
    const grades = [...Object.keys(GRADE_FILLS), null];
    const results: ResultRow[] = Array.from({ length: 60 }, (_, i) => ({
      unit: `U${String((i * 37) % 61).padStart(3, '0')}`,
      name: i % 9 === 0 ? `=单位${i}` : `单位${i}`,
      category: ['department', 'city', 'county'][i % 3]!,
      indicators: i % 5 === 0 ? {} : { I1: ind(i / 60, 25), I2: NA, I3: { value: 0.5, score: null, applicable: true }, I4: ind(0.3, 15), I5: ind(1, 10), I6: ind(0, 10) },
      base: i % 7 === 0 ? null : 60 + i / 4,
      deductions: i % 4 === 0 ? 2 : 0,
      total: i % 11 === 0 ? null : 58 + i / 4,
      grade: grades[i % grades.length]!,
      rank: i % 13 === 0 ? null : (i % 20) + 1,
      rankChange: i % 3 === 0 ? null : (i % 5) - 2,
      flags: i % 6 === 0 ? ['late'] : [],
    }));
    const statuses = ['submitted', 'approved', 'rejected', null];
    const input: AssessmentWorkbookInput = {
      ...INPUT,
      results,
      returns: results.slice(0, 40).map((r, i) => ({
        unit: r.unit,
        revision: i % 5 === 0 ? null : (i % 3) + 1,
        values: i % 8 === 0 ? null : Object.fromEntries(FIELD_KEYS.map((k, j) => [k, (i * 31 + j) % 500])),
        status: statuses[i % statuses.length],
        late: i % 3 === 0 ? null : i % 3 === 1,
        submittedAt: i % 10 === 0 ? null : new Date(Date.UTC(2026, 9, 1 + (i % 3), 16)),
        submittedBy: `user${i % 4}`,
        source: 'excel',
      })),
      cases: results.slice(0, 25).map((r, i) => ({
        unit: r.unit, period: '2026Q3', rule: ['A1', 'A2', 'A3'][i % 3]!, type: '通报', status: ['open', 'rectifying', 'resolved', 'overdue'][i % 4]!,
        dueAt: i % 4 === 0 ? null : '2026-11-22T02:00:00Z', openedAt: '2026-10-23T02:00:00Z', reason: `原因 ${i}`,
      })),
    };
    const back = await load(await assessmentWorkbookBuffer(input));
    const FILLS = { rejected: 'FFFFC7CE', overdue: 'FFFFC7CE' };
    let checked = 0;
    for (const [sheet, rowCount, fillOf] of [
      ['考核排名', results.length, (ws: ExcelJS.Worksheet, r: number, col: (h: string) => number) => {
        const g = ws.getRow(r).getCell(col('等级')).value as string | null;
        return { cols: [col('等级'), col('总分')], argb: g ? GRADE_FILLS[g] : undefined };
      }],
      ['填报数据', 40, (ws: ExcelJS.Worksheet, r: number, col: (h: string) => number) => ({ cols: [col('审核状态')], argb: ws.getRow(r).getCell(col('审核状态')).value === '被退回' ? FILLS.rejected : undefined })],
      ['问责情况', 25, (ws: ExcelJS.Worksheet, r: number, col: (h: string) => number) => ({ cols: [col('状态')], argb: ws.getRow(r).getCell(col('状态')).value === '已逾期' ? FILLS.overdue : undefined })],
    ] as const) {
      const ws = back.getWorksheet(sheet)!;
      const header = (ws.getRow(3).values as unknown[]).slice(1) as string[];
      const col = (h: string) => header.indexOf(h) + 1;
      // Frozen header rows, autofilter / print titles are per sheet; the header row is styled.
      expect(ws.views[0], sheet).to.include({ state: 'frozen', ySplit: 3 });
      for (let c = 1; c <= header.length; c++) {
        const h = ws.getRow(3).getCell(c);
        expect((h.fill as ExcelJS.FillPattern).fgColor?.argb, `${sheet} header ${c}`).to.equal('FF1F4E78');
        expect(h.font?.bold, `${sheet} header ${c}`).to.equal(true);
      }
      expect(ws.rowCount, sheet).to.equal(3 + rowCount + (sheet === '考核排名' ? 3 : 0)); // two spacer rows and the signature block
      // The number format each numeric column calls for.
      const numFmtOf = (h: string) =>
        h === '排名' || h === '修订版本' ? '0'
          : h.endsWith('指标值') ? '0.00%'
            : /得分|基础分|扣分|总分/.test(h) ? '0.00'
              : h === '较上期\n排名变化' ? '"↑"0;"↓"0;"–"'
                : FIELD_KEYS.some((k) => h.endsWith(`\n${k}`)) ? '#,##0'
                  : `no number expected in ${h}`;
      for (let r = 4; r <= 3 + rowCount; r++) {
        const fill = fillOf(ws, r, col);
        for (let c = 1; c <= header.length; c++) {
          const cell = ws.getRow(r).getCell(c);
          const where = `${sheet}!${cell.address}`;
          expect(cell.border?.top?.style, where).to.equal('thin');
          expect(cell.border?.right?.style, where).to.equal('thin');
          expect(cell.alignment?.vertical, where).to.equal('middle');
          const argb = (cell.fill as ExcelJS.FillPattern | undefined)?.fgColor?.argb;
          expect(argb, where).to.equal((fill.cols as readonly number[]).includes(c) ? fill.argb : undefined);
          if (typeof cell.value === 'number') {
            expect(cell.numFmt, where).to.equal(numFmtOf(header[c - 1]!));
            expect(cell.alignment?.horizontal, where).to.equal('right');
          } else if (cell.value !== null && cell.value !== undefined) {
            expect(cell.type, where).to.equal(ExcelJS.ValueType.String);
            expect(cell.numFmt, where).to.equal('@');
          }
          checked++;
        }
      }
    }
    expect(checked).to.be.greaterThan(60 * 20);
    // The values themselves, spot-checked against the input where they are not covered above.
    const ranking = back.getWorksheet('考核排名')!;
    const header = (ranking.getRow(3).values as unknown[]).slice(1) as string[];
    const byUnit = new Map<string, number>();
    for (let r = 4; r <= 3 + results.length; r++) byUnit.set(String(ranking.getRow(r).getCell(3).value), r);
    for (const res of results) {
      const row = ranking.getRow(byUnit.get(res.unit)!);
      expect(row.getCell(header.indexOf('总分') + 1).value, res.unit).to.equal(res.total);
      expect(row.getCell(header.indexOf('等级') + 1).value, res.unit).to.equal(res.grade);
      expect(row.getCell(header.indexOf('排名') + 1).value, res.unit).to.equal(res.rank);
      expect(row.getCell(header.indexOf('较上期\n排名变化') + 1).value, res.unit).to.equal(res.rankChange);
    }
    const returns = back.getWorksheet('填报数据')!;
    expect(returns.getRow(5).getCell(6).value).to.equal('2026-10-03 00:00:00'); // 2 Oct 16:00 UTC → 3 Oct 00:00 +08:00
    expect(returns.getRow(5).getCell(9).numFmt).to.equal('#,##0');
    const cases = back.getWorksheet('问责情况')!;
    expect(cases.getRow(5).getCell(7).value).to.equal('2026-11-22 10:00:00');
    expect(cases.getRow(4).getCell(7).value).to.equal(null);
  });

  it('safeText keeps text as text and drops characters XML cannot hold', () => {
    expect(safeText('=1+1')).to.equal('=1+1');
    expect(safeText('a\u0000b\u0007c\td\ne')).to.equal('abc\td\ne');
    expect(safeText(null)).to.equal('');
    expect(safeText(12)).to.equal('12');
  });
});

describe('single-unit sheet', () => {
  it('is printable (A4 portrait, fit to width) with indicators, result, returns, cases and a signature block', async () => {
    const buf = await unitWorkbookBuffer({
      period: '2026Q3',
      status: 'provisional',
      schemeVersion: 1,
      indicators: INDICATORS,
      generatedAt: new Date('2026-10-23T02:00:00Z'),
      result: { ...RESULTS[1]!, rank: 1 },
      rankedInCategory: 87,
      returnRow: { unit: 'D099', revision: 3, values: Object.fromEntries(FIELD_KEYS.map((k) => [k, 5])), submittedAt: '2026-10-10T02:00:00Z', late: false },
      cases: [{ unit: 'D099', period: '2026Q3', rule: 'A1', type: '通报 + 限期整改', status: 'rectifying', dueAt: '2026-11-22T02:00:00Z', reason: NASTY[4]! }],
    });
    const wb = await expectNoFormula(buf);
    const ws = wb.worksheets[0]!;
    expect(ws.name).to.equal('单位考核表');
    expect(ws.pageSetup).to.include({ paperSize: 9, orientation: 'portrait', fitToPage: true, fitToWidth: 1 });
    const text = allText(ws).join('\n');
    expect(text).to.contain('2026年第3季度政务数据共享考核表');
    expect(text).to.contain(NASTY[0]);
    expect(text).to.contain('第 1 名 / 共 87 家');
    expect(text).to.contain('上升 3 位');
    expect(text).to.contain('I1 外网接入率');
    expect(text).to.contain(FIELD_LABELS.duties_with_data);
    expect(text).to.contain('A1 考核不合格');
    expect(text).to.contain(NASTY[4]);
    expect(text).to.contain('暂定结果');
    for (const s of ['单位负责人（签字）：', '考核组（签字）：', '日期：      年    月    日']) expect(text).to.contain(s);
  });
});

describe('annual workbook', () => {
  it('lists unit, category, quarters, total, grade, rank and merit eligibility', async () => {
    const buf = await annualWorkbookBuffer({
      year: 2026,
      final: true,
      generatedAt: new Date('2027-01-05T02:00:00Z'),
      results: [
        { unit: 'D002', name: '省教育厅', category: 'department', total: 55.25, grade: '不合格', rank: 2, eligible: false, reasons: ['2026Q2 考核不合格'], quarters: { '2026Q1': 60, '2026Q2': 50, '2026Q3': 61, '2026Q4': 50 } },
        { unit: 'D001', name: NASTY[0]!, category: 'department', total: 91.5, grade: '优秀', rank: 1, eligible: true, quarters: { '2026Q1': 90, '2026Q2': 92, '2026Q3': 91, '2026Q4': 93 } },
      ],
    });
    const wb = await expectNoFormula(buf);
    const ws = wb.worksheets[0]!;
    expect(ws.name).to.equal('年度考核');
    expect((ws.getRow(3).values as unknown[]).slice(1)).to.deep.equal(['类别', '排名', '单位代码', '单位名称', '2026Q1\n总分', '2026Q2\n总分', '2026Q3\n总分', '2026Q4\n总分', '年度总分', '等级', '评先评优资格', '说明']);
    expect((ws.getRow(4).values as unknown[]).slice(1)).to.deep.equal(['省直部门', 1, 'D001', NASTY[0], 90, 92, 91, 93, 91.5, '优秀', '有']);
    expect((ws.getRow(5).values as unknown[]).slice(1)).to.deep.equal(['省直部门', 2, 'D002', '省教育厅', 60, 50, 61, 50, 55.25, '不合格', '无', '2026Q2 考核不合格']);
    expect(ws.getCell('I4').numFmt).to.equal('0.00');
    expect(ws.pageSetup).to.include({ orientation: 'landscape', fitToWidth: 1 });
  });
});
