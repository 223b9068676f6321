// 提分路径 on the single-unit sheet (issue 17): the sheet lists the unit's suggestions, worded as on
// the unit page, with long text wrapped; applying a suggestion reaches the score it states.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { unitWorkbookBuffer, wrappedLines, type UnitWorkbookInput } from '../../server/excel/workbook.ts';
import type { TestApp, TestUser } from '../helpers/app.ts';
import { harness } from '../intake/helpers.ts';
import { at, byUnit, putUnit, ratios, results, runJob, submit, uniform } from '../results/fixtures.ts';

const P = '2026Q4';
// I1 = 2/4, everything else 1: base = 12.5 + 20 + 20 + 15 + 10 + 10 = 87.5 (良好); each more system on the extranet +6.25.
const D1 = ratios({ i1: [2, 4], i2: [10, 10], i3: [4, 4], i4: [10, 10], i5cloud: 4, i6: [10, 10] });

async function load(buf: Buffer) {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ArrayBuffer);
  return wb.worksheets[0]!;
}

/** [label, value, row] of every row of the sheet with a label in A. */
function pairs(ws: ExcelJS.Worksheet): { label: string; value: string; row: ExcelJS.Row }[] {
  const out: { label: string; value: string; row: ExcelJS.Row }[] = [];
  ws.eachRow((row) => out.push({ label: String(row.getCell(1).value ?? ''), value: String(row.getCell(2).value ?? ''), row }));
  return out;
}

describe('single-unit sheet: 提分路径 and wrapped text', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: TestUser;

  before(async () => {
    const h = await harness();
    t = await h.startTestApp();
    admin = await t.userFor('admin');
    const a = t.api(admin.token);
    for (const c of ['D1', 'D2', 'D3', 'D4']) await putUnit(a, c, 'department');
    at('2026-11-01T02:00:00Z'); // before 2026Q4's deadline: on time
    await submit(a, P, 'D1', D1);
    for (const c of ['D2', 'D3', 'D4']) await submit(a, P, c, uniform(1, 2)); // 50 each: D1 would be first, inside the 优秀 quota (1 of 4)
    await runJob(t, admin.token, 'score', P);
  });
  after(async () => {
    await t?.stop();
  });

  it('lists the suggestions under 六、提分路径; applying one reaches the total it states', async () => {
    const r = await t.api(admin.token).get(`/api/v1/results/${P}/units/D1/sheet.xlsx`);
    expect(r.status).to.equal(200);
    const rows = pairs(await load(r.buffer));
    const at6 = rows.findIndex((x) => x.label === '六、提分路径');
    expect(at6, 'section').to.be.greaterThan(0);
    const section = rows.slice(at6 + 1, rows.findIndex((x) => x.label.startsWith('单位负责人')));
    expect(section[0]).to.deep.include({ label: '现状与目标', value: '当前 87.50 分（良好），目标：优秀' });
    const ways = section.filter((x) => x.label.startsWith('途径'));
    expect(ways.length).to.be.greaterThan(0);
    expect(ways[0]!.value).to.equal('再接入 1 个系统到电子政务外网（+6.25 分）→ 93.75 分，可达优秀');
    for (const w of ways) {
      expect(w.value).to.match(/（\+\d+\.\d\d 分）→ \d+\.\d\d 分/);
      const b = w.row.getCell(2);
      expect(b.alignment?.wrapText, w.value).to.equal(true);
      if (wrappedLines(w.value, 62) > 1) expect(w.row.height).to.be.greaterThan(15);
    }
    expect(section.find((x) => x.label === '说明')!.value).to.contain('单独采用即可达到目标等级');

    // Take the first way: the result is the stated total and grade.
    await submit(t.api(admin.token), P, 'D1', { ...D1, systems_extranet: D1.systems_extranet + 1 });
    await runJob(t, admin.token, 'score', P);
    expect(byUnit((await results(t.api(admin.token), P)).results).D1).to.include({ total: 93.75, grade: '优秀' });
    const after = pairs(await load((await t.api(admin.token).get(`/api/v1/results/${P}/units/D1/sheet.xlsx`)).buffer));
    expect(after.find((x) => x.label === '现状与目标')!.value).to.equal('当前 93.75 分（优秀）');
    expect(after.find((x) => x.label === '说明' && x.value.includes('最高等级'))).to.not.equal(undefined);
    expect(after.some((x) => x.label.startsWith('途径'))).to.equal(false);
  });

  it('the writer wraps long texts (问责, suggestions) and sizes their rows; no section without a path', async () => {
    const base: UnitWorkbookInput = {
      period: P,
      status: 'provisional',
      schemeVersion: 1,
      generatedAt: new Date('2026-11-01T02:00:00Z'),
      timeZone: 'Asia/Shanghai',
      indicators: [{ id: 'I1', name: '外网接入率', weight: 25 }],
      result: { unit: 'D9', name: '单位D9', category: 'department', indicators: {}, base: 50, deductions: 0, total: 50, grade: '不合格', rank: 1, rankChange: null, flags: [] },
      cases: [{ id: 'c1', unit: 'D9', period: P, rule: 'A1', type: '通报 + 限期整改', status: 'open', dueAt: '2026-12-01T00:00:00Z', reason: '本期考核不合格，'.repeat(20) } as never],
    };
    const long = '再接入 12 个系统到电子政务外网（+35.00 分）→ 85.00 分，分数达到良好'.repeat(3);
    const ws = await load(await unitWorkbookBuffer({ ...base, improve: { heading: '当前 50.00 分（不合格），目标：合格', lines: [long], note: null } }));
    const rows = pairs(ws);
    const way = rows.find((x) => x.label === '途径 1')!;
    expect(way.value).to.equal(long);
    expect(way.row.getCell(2).alignment?.wrapText).to.equal(true);
    expect(way.row.height).to.be.at.least(15 * wrappedLines(long, 62));
    const acc = rows.find((x) => x.label.startsWith('A1'))!;
    expect(acc.row.getCell(2).alignment?.wrapText).to.equal(true);
    expect(acc.row.height).to.be.greaterThan(30);
    const none = pairs(await load(await unitWorkbookBuffer(base)));
    expect(none.some((x) => x.label === '六、提分路径')).to.equal(false);
    expect(wrappedLines('abc', 62)).to.equal(1);
    expect(wrappedLines('汉'.repeat(31), 62)).to.equal(1);
    expect(wrappedLines('汉'.repeat(32), 62)).to.equal(2);
  });
});
