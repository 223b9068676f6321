// Files people really send (issue 14 items 1–2, SPEC §6/§7), made by LibreOffice Calc, through the HTTP
// contract: the instructions sheet first (and a hidden sheet) is skipped; informal unit names are
// accepted with warnings — returned by the API, kept on the revision, shown in the web preview and to
// reviewers — aliases match silently; another unit's name refuses the file.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIMPLE_VALUES } from '../fixtures/build-fixtures.ts';
import { HEADER, rowXml, xlsxPackage } from '../fixtures/hostile.ts';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { createUnits, startWithAdmin } from './helpers.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'xlsx');
const fixture = (name: string) => readFileSync(join(FIX, name));
const P = '2026Q4';

describe('files people really send (LibreOffice fixtures, issue 14)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  const upload = (buf: Buffer, token = admin) => t.api(token).postFile(`/api/v1/returns/upload?period=${P}`, 'file', buf, 'r.xlsx');
  const webLogin = async (role: 'admin' | 'reviewer' | 'reporter', unit?: string): Promise<WebClient> => {
    const u = await t.userFor(role, unit);
    const w = t.web();
    await w.login(u.username, u.password);
    return w;
  };

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    reviewer = await t.tokenFor('reviewer');
    await createUnits(t, admin);
  });
  after(async () => {
    await t?.stop();
  });

  it('instructions sheet first and a hidden sheet with a header: both skipped, the data sheet read', async () => {
    const r = await upload(fixture('lo-instructions-first.xlsx'));
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.deep.include({ accepted: [{ unit: 'D001', revision: 1 }, { unit: 'D002', revision: 1 }], warnings: [] });
    const g = await t.api(reviewer).get(`/api/v1/returns/${P}/D002`);
    expect(g.body.values).to.deep.equal(SIMPLE_VALUES.D002);
    expect(g.body.warnings).to.deep.equal([]);
    expect((await t.api(reviewer).get(`/api/v1/returns/${P}/D003`)).status).to.equal(404);
  });

  it('a file with no data sheet: one error naming every sheet looked at (and the hidden ones skipped)', async () => {
    const buf = xlsxPackage([
      { name: '封面', rows: rowXml(1, ['2026年第四季度']) },
      { name: '旧表', state: 'hidden', rows: rowXml(1, HEADER) },
      { name: '说明', rows: rowXml(25, ['单位代码']) },
    ]);
    const r = await upload(buf);
    expect(r.status).to.equal(422);
    expect(r.body.errors).to.deep.equal([
      { sheet: null, row: null, column: null, field: 'unit_code', message: '工作表「封面」、「说明」的前 20 行中都找不到表头行（表头行应有一格写“单位代码”或 unit_code）（已跳过隐藏的工作表「旧表」）' },
    ]);
  });

  it('informal names: accepted with warnings (API 200 {accepted, warnings}), kept on the revision; an alias is silent', async () => {
    const put = await t.api(admin).put('/api/v1/units/D001', { name: '省发展和改革委员会', category: 'department', aliases: ['省发改委'] });
    expect(put.status, put.text).to.equal(200);
    const r = await upload(fixture('lo-informal-names.xlsx'));
    expect(r.status, r.text).to.equal(200);
    expect(r.body.accepted).to.deep.equal([{ unit: 'D001', revision: 2 }, { unit: 'D002', revision: 2 }, { unit: 'D003', revision: 1 }]);
    const w2 = { sheet: '填报', row: 5, column: 'B', field: 'unit_name', message: '第5行 B列 单位名称“单位D002”与单位代码 D002 的登记名称“省教育厅”不一致，已按单位代码导入，请核对' };
    const w3 = { sheet: '填报', row: 7, column: 'B', field: 'unit_name', message: '第7行 B列 单位名称“公安厅”与单位代码 D003 的登记名称“省公安厅”不一致，已按单位代码导入，请核对' };
    expect(r.body.warnings).to.deep.equal([w2, w3]);
    expect((await t.api(reviewer).get(`/api/v1/returns/${P}/D001`)).body.warnings).to.deep.equal([]);
    expect((await t.api(reviewer).get(`/api/v1/returns/${P}/D002`)).body.warnings).to.deep.equal([w2]);
    expect((await t.api(reviewer).get(`/api/v1/returns/${P}/D003`)).body.warnings).to.deep.equal([w3]);
    // Reviewers see them on the review page.
    const rw = await webLogin('reviewer');
    const page = await rw.get(`/review/${P}/D003`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('上传提示（1）');
    expect(page.text).to.contain('单位名称“公安厅”与单位代码 D003 的登记名称“省公安厅”不一致');
    expect((await rw.get(`/review/${P}/D001`)).text).to.not.contain('上传提示');
  });

  it('the web preview shows the warnings before confirming; confirming keeps them on the revision', async () => {
    const w = await webLogin('admin');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(fixture('lo-informal-names.xlsx'))]), 'names.xlsx');
    const res = await fetch(`${t.baseUrl}/returns/upload?period=${P}`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: `sid=${w.cookie()}`, 'x-csrf-token': await w.csrfToken() }, redirect: 'manual' });
    expect(res.status, await res.clone().text()).to.equal(303);
    const preview = await w.get(res.headers.get('location')!);
    expect(preview.status).to.equal(200);
    expect(preview.text).to.contain('提示（2）');
    expect(preview.text).to.contain('单位名称“单位D002”与单位代码 D002 的登记名称“省教育厅”不一致');
    const ok = await w.postForm(`${res.headers.get('location')}/confirm`, {});
    expect(ok.status).to.equal(303);
    const g = await t.api(reviewer).get(`/api/v1/returns/${P}/D002`);
    expect(g.body.revision).to.equal(3);
    expect(g.body.warnings.map((x: { row: number }) => x.row)).to.deep.equal([5]);
  });

  it("another unit's registered name refuses the whole file (code and name point to different units)", async () => {
    const before = (await t.api(reviewer).get(`/api/v1/returns?period=${P}`)).body;
    const r = await upload(fixture('lo-other-unit-name.xlsx'));
    expect(r.status).to.equal(422);
    expect(r.body.errors).to.deep.equal([
      { sheet: '填报', row: 4, column: 'B', field: 'unit_name', message: '第4行 B列 单位名称“省教育厅”是单位 D002 的名称，与单位代码 D001（省发展和改革委员会）不是同一个单位，请核对单位代码（或清空单位名称）' },
    ]);
    expect((await t.api(reviewer).get(`/api/v1/returns?period=${P}`)).body).to.deep.equal(before);
  });
});
