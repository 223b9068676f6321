// The period workbook (考核表) is written from cursors (results/store.ts streamRows, services/returns.ts
// streamPeriodReturns) into exceljs's streaming writer. For the demo province — published quarters with
// cases, the current one with rejected, late and missing returns — the file served by
// GET /api/v1/results/:period/sheet.xlsx has exactly the content of the workbook written from the whole
// period read at once (the previous implementation): every part of the zip but the document's
// creation time is byte-identical, and so is every cell read back.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { AssessmentWorkbookInput, CaseRow, ReturnRow } from '../../server/excel/workbook.ts';
import type { TestApp } from '../helpers/app.ts';

const NOW = new Date('2026-11-20T02:00:00Z');

describe('scale: the period workbook streamed from cursors', function () {
  this.timeout(180_000);
  let t: TestApp;
  let published: string[] = [];
  let current = '';

  before(async () => {
    const { startTestApp } = await import('../helpers/app.ts');
    const { clock } = await import('../../server/clock.ts');
    const { loadDemoData } = await import('../../server/services/demo.ts');
    t = await startTestApp({ periods: [] });
    clock.set(() => NOW);
    const r = await loadDemoData({ now: NOW, password: () => 'demo-password-1', restoreClock: () => NOW });
    expect(r.loaded, r.reason).to.equal(true);
    published = r.published!;
    current = r.current!;
    await t.settle();
  });
  after(async () => {
    const { clock } = await import('../../server/clock.ts');
    clock.set(null);
    await t?.stop();
  });

  /** The previous assessmentSheetInput: the snapshot, every revision of the period and the cases, read at once. */
  async function wholePeriodInput(period: string): Promise<AssessmentWorkbookInput> {
    const { clock } = await import('../../server/clock.ts');
    const { getResults } = await import('../../server/results/read.ts');
    const { periodReturns } = await import('../../server/services/returns.ts');
    const { listCases } = await import('../../server/services/accountability.ts');
    const { timeZone } = await import('../../server/services/periods.ts');
    const { indicatorsOf } = await import('../../server/services/sheets.ts');
    const { compareCodes } = await import('../../server/domain/scoring/ranking.ts');
    const [results, returns, cases] = await Promise.all([getResults(period), periodReturns(period), listCases({ period })]);
    const names = new Map(results.results.map((r) => [r.unit, r.name]));
    const returnRows: ReturnRow[] = [...returns.values()]
      .sort((a, b) => compareCodes(a.unit, b.unit))
      .map((r) => ({ unit: r.unit, name: names.get(r.unit), revision: r.latest.revision, values: r.latest.values, status: r.latest.status, late: r.latest.late, submittedAt: r.latest.submittedAt, submittedBy: r.latest.submittedBy, source: r.latest.source }));
    const caseRows: CaseRow[] = cases.map((c) => ({ ...c, name: names.get(c.unit) }));
    return { period, status: results.status, schemeVersion: results.schemeVersion, generatedAt: clock.now(), timeZone: timeZone(), indicators: await indicatorsOf(results.schemeVersion), results: results.results, returns: returnRows, cases: caseRows };
  }

  async function cells(buf: Buffer) {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(buf as unknown as ExcelJS.Buffer);
    return wb.worksheets.map((ws) => {
      const rows: unknown[] = [];
      ws.eachRow({ includeEmpty: true }, (row, n) => {
        const cs: unknown[] = [];
        row.eachCell({ includeEmpty: true }, (c) => cs.push([c.value, c.numFmt ?? null, (c.fill as { fgColor?: { argb?: string } } | undefined)?.fgColor?.argb ?? null]));
        rows.push([n, cs]);
      });
      return { name: ws.name, rows };
    });
  }

  it('GET sheet.xlsx gives the same workbook as the whole-period read, for every demo quarter', async () => {
    const { assessmentWorkbookBuffer } = await import('../../server/excel/workbook.ts');
    const { readCentralDirectory, readZipEntry } = await import('../../server/excel/upload-check.ts');
    const admin = await t.tokenFor('admin');
    const periods = [...published, current];
    expect(periods.length).to.be.at.least(2);
    let sawCases = false;
    let sawRejectedOrLate = false;
    for (const period of periods) {
      const old = await assessmentWorkbookBuffer(await wholePeriodInput(period));
      const res = await t.api(admin).get(`/api/v1/results/${period}/sheet.xlsx`);
      expect(res.status, period).to.equal(200);
      const served = res.buffer;
      const parts = (b: Buffer) => Object.fromEntries(readCentralDirectory(b).filter((e) => e.name !== 'docProps/core.xml').map((e) => [e.name, readZipEntry(b, e).toString('utf8')]));
      const a = parts(old);
      const b = parts(served);
      expect(Object.keys(b).sort(), period).to.deep.equal(Object.keys(a).sort());
      for (const name of Object.keys(a)) expect(b[name], `${period} ${name}`).to.equal(a[name]);
      const back = await cells(served);
      expect(back, period).to.deep.equal(await cells(old));
      expect(back.map((s) => s.name)).to.deep.equal(['考核排名', '填报数据', '问责情况']);
      // The quarter is not trivial: ranking rows, returns and, for published quarters, cases.
      const [ranking, returns, cases] = back;
      expect(ranking!.rows.length).to.be.greaterThan(50);
      expect(returns!.rows.length).to.be.greaterThan(50);
      if (cases!.rows.length > 3) sawCases = true;
      const text = JSON.stringify(returns!.rows);
      if (text.includes('被退回') || text.includes('"是"')) sawRejectedOrLate = true;
    }
    expect(sawCases).to.equal(true);
    expect(sawRejectedOrLate).to.equal(true);
  });

  it('a stream in the store’s order gives the sheet the array gives, ties put in the sheet’s order; a stream out of order throws', async () => {
    const { assessmentWorkbookBuffer } = await import('../../server/excel/workbook.ts');
    const { compareRows } = await import('../../server/domain/scoring/ranking.ts');
    const { readCentralDirectory, readZipEntry } = await import('../../server/excel/upload-check.ts');
    const row = (unit: string, category: 'department' | 'city' | 'county', rank: number | null) => ({
      unit, name: `单位${unit}`, category, indicators: {}, base: rank === null ? null : 80, deductions: 0, total: rank === null ? null : 100 - rank, grade: rank === null ? null : '良好', rank, rankChange: null, flags: rank === null ? ['pending'] : [],
    });
    // Code order ('B1' < 'a1') and the sheet's text order ('a1' < 'B1') differ on the ties.
    const rows = [row('a1', 'department', null), row('B1', 'department', null), row('D2', 'department', 1), row('c9', 'city', 2), row('C9', 'city', 2), row('C1', 'city', 1), row('x1', 'county', null)];
    const stored = [...rows].sort(compareRows);
    expect(stored.map((r) => r.unit).slice(0, 3)).to.deep.equal(['D2', 'B1', 'a1']);
    async function* stream(rs: typeof rows) {
      for (const r of rs) yield r;
    }
    const base = { period: '2026Q3', status: 'provisional' as const, schemeVersion: 1, generatedAt: NOW, timeZone: 'Asia/Shanghai', indicators: [], returns: [], cases: [] };
    const sheet = (b: Buffer) => readZipEntry(b, readCentralDirectory(b).find((e) => e.name === 'xl/worksheets/sheet1.xml')!).toString('utf8') + readZipEntry(b, readCentralDirectory(b).find((e) => e.name === 'xl/sharedStrings.xml')!).toString('utf8');
    const fromArray = sheet(await assessmentWorkbookBuffer({ ...base, results: rows }));
    expect(sheet(await assessmentWorkbookBuffer({ ...base, results: stream(stored) }))).to.equal(fromArray);
    expect(fromArray.indexOf('单位a1')).to.be.below(fromArray.indexOf('单位B1'));
    let err: Error | null = null;
    await assessmentWorkbookBuffer({ ...base, results: stream([stored[1]!, stored[0]!, ...stored.slice(2)]) }).catch((e: Error) => (err = e));
    expect(String(err)).to.match(/out of order/);
  });

  it('refuses a period with no results before sending any byte', async () => {
    const admin = await t.tokenFor('admin');
    const res = await t.api(admin).get('/api/v1/results/2019Q1/sheet.xlsx');
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('period_not_open');
  });
});
