// An upload's plausibility warnings name the column of their field in the uploaded sheet (SPEC §7
// {sheet, row, column, field, message}), whatever order the file's columns are in: a LibreOffice-made
// file (test/fixtures/build-plausibility.sh, lo-plausibility-columns.xlsx) with a notes column first,
// the unit name before the code and the 11 fields in reverse order — so systems_total is in column N,
// not the template's C. Through the HTTP contract: the API upload's answer, the stored revision, the
// web upload preview's issue table and the reviewer's page of the return.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_Q3, PREVIOUS_Q2 } from '../fixtures/build-plausibility-sources.ts';
import type { TestApp } from '../helpers/app.ts';
import { createUnits, startWithAdmin } from './helpers.ts';

const FILE = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'xlsx', 'lo-plausibility-columns.xlsx'));

// Row 1 title, row 2 header (A 备注, B 单位名称, C 单位代码, D 数据共享责任 … N 信息系统总数), rows 3–5 D001–D003.
const WARNINGS = [
  { sheet: '填报', row: 3, column: 'N', field: 'systems_total', message: '第3行 N列 「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实' },
  { sheet: '填报', row: 3, column: 'H', field: 'catalogue_shared', message: '第3行 H列 「已发布共享的目录数」为 70，上季度（2026Q2）为 80，减少 10；此项通常只增不减，请核实' },
  { sheet: '填报', row: 4, column: 'B', field: 'unit_name', message: '第4行 B列 单位名称“教育厅”与单位代码 D002 的登记名称“省教育厅”不一致，已按单位代码导入，请核对' },
  { sheet: '填报', row: 5, column: 'J', field: 'networks_standalone', message: '第5行 J列 「仍独立运行的业务专网数」为 3，上季度（2026Q2）已降为 0，现又出现，请核实' },
];

/** The issue table's warning lines of a page: [sheet, row, column, field label, message] per line. */
function warningLines(html: string): string[][] {
  const out: string[][] = [];
  for (const m of html.matchAll(/<tr class="issue issue-warning[^"]*">([\s\S]*?)<\/tr>/g)) {
    const cells = [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim());
    out.push(cells.slice(1)); // without the 类型 cell
  }
  return out;
}

describe('plausibility warnings of an upload name their column (columns not in template order)', function () {
  this.timeout(90_000);
  let t: TestApp;
  let admin: string;
  let reviewer: string;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    reviewer = await t.tokenFor('reviewer');
    await createUnits(t, admin);
    for (const [u, v] of Object.entries(PREVIOUS_Q2)) expect((await t.api(admin).put(`/api/v1/returns/2026Q2/${u}`, { values: v })).status).to.equal(200);
  });
  after(async () => {
    await t?.stop();
  });

  it('API upload: 200, each warning with the column letter of its field in this file; kept on the revision', async () => {
    const r = await t.api(admin).postFile('/api/v1/returns/upload?period=2026Q3', 'file', FILE, 'own-layout.xlsx');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.accepted).to.deep.equal([{ unit: 'D001', revision: 1 }, { unit: 'D002', revision: 1 }, { unit: 'D003', revision: 1 }]);
    expect(r.body.warnings).to.deep.equal(WARNINGS);
    const d1 = await t.api(reviewer).get('/api/v1/returns/2026Q3/D001');
    expect(d1.body.values).to.deep.equal(FILE_Q3.D001); // the reversed columns were read as the right fields
    expect(d1.body.warnings).to.deep.equal(WARNINGS.slice(0, 2));
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D002')).body.warnings).to.deep.equal([WARNINGS[2]]);
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D003')).body.warnings).to.deep.equal([WARNINGS[3]]);
  });

  it('web upload preview: the issue table shows each warning in its row and column', async () => {
    const u = await t.userFor('admin');
    const w = t.web();
    await w.login(u.username, u.password);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(FILE)]), 'own-layout.xlsx');
    const res = await fetch(`${t.baseUrl}/returns/upload?period=2026Q3`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: w.cookies(), 'x-csrf-token': await w.csrfToken() }, redirect: 'manual' });
    expect(res.status, await res.clone().text()).to.equal(303);
    const preview = await w.get(res.headers.get('location')!);
    expect(preview.status).to.equal(200);
    expect(warningLines(preview.text)).to.deep.equal([
      ['填报', '3', 'N', '信息系统总数', '「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实'],
      ['填报', '3', 'H', '已发布共享的目录数', '「已发布共享的目录数」为 70，上季度（2026Q2）为 80，减少 10；此项通常只增不减，请核实'],
      ['填报', '4', 'B', '单位名称', '单位名称“教育厅”与单位代码 D002 的登记名称“省教育厅”不一致，已按单位代码导入，请核对'],
      ['填报', '5', 'J', '仍独立运行的业务专网数', '「仍独立运行的业务专网数」为 3，上季度（2026Q2）已降为 0，现又出现，请核实'],
    ]);
  });

  it("the reviewer's page of a return shows its stored warnings in their columns", async () => {
    const u = await t.userFor('reviewer');
    const w = t.web();
    await w.login(u.username, u.password);
    const page = await w.get('/review/2026Q3/D001');
    expect(page.status).to.equal(200);
    expect(warningLines(page.text)).to.deep.equal([
      ['填报', '3', 'N', '信息系统总数', '「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实'],
      ['填报', '3', 'H', '已发布共享的目录数', '「已发布共享的目录数」为 70，上季度（2026Q2）为 80，减少 10；此项通常只增不减，请核实'],
    ]);
  });

  it('a single return (API PUT) has no sheet, so its warnings have no row or column', async () => {
    const r = await t.api(admin).put('/api/v1/returns/2026Q3/D002', { values: { ...PREVIOUS_Q2.D002!, systems_total: 200, systems_extranet: 45 } });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.warnings).to.deep.equal([{ sheet: null, row: null, column: null, field: 'systems_total', message: '「信息系统总数」为 200，上季度（2026Q2）为 45，增至 4.4 倍，请核实' }]);
  });
});
