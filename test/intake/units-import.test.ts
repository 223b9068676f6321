// Admin unit import (/admin/units/import) with the 简称 / 别名 column (issue 14 item 2), read by the
// bounded reader: the first visible sheet with a header (an instructions sheet before it is skipped);
// aliases split on 、 , ; — an alias that is another unit's name refuses the whole file.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { createUnits, startWithAdmin } from './helpers.ts';

describe('unit import with aliases (简称)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: string;
  let w: WebClient;

  const importFile = async (buf: Buffer) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(buf)]), 'units.xlsx');
    const res = await fetch(`${t.baseUrl}/admin/units/import`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: `sid=${w.cookie()}`, 'x-csrf-token': await w.csrfToken() }, redirect: 'manual' });
    return { status: res.status, text: await res.text() };
  };
  const book = async (rows: unknown[][]) => {
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('说明').addRow(['请在“单位”工作表填写，简称可填多个，用顿号分隔']);
    const ws = wb.addWorksheet('单位');
    ws.addRow(['单位代码', '单位名称', '单位类别', '简称']);
    for (const r of rows) ws.addRow(r);
    return Buffer.from(await wb.xlsx.writeBuffer());
  };
  const aliasesOf = async (code: string) => ((await t.api(admin).get('/api/v1/units')).body as { code: string; aliases: string[] }[]).find((u) => u.code === code)?.aliases;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    const u = await t.userFor('admin');
    w = t.web();
    await w.login(u.username, u.password);
  });
  after(async () => {
    await t?.stop();
  });

  it('imports aliases split on 、 , ; (instructions sheet skipped); the list and the edit page show them', async () => {
    const r = await importFile(await book([['D001', '省发展和改革委员会', '省直部门', '省发改委、发改委; 省发改委'], ['D002', '省教育厅', '省直部门', '教育厅,省教委']]));
    expect(r.status, r.text.slice(0, 500)).to.equal(303);
    expect(await aliasesOf('D001')).to.deep.equal(['省发改委', '发改委']);
    expect(await aliasesOf('D002')).to.deep.equal(['教育厅', '省教委']);
    const list = await w.get('/admin/units');
    expect(list.text).to.contain('省发改委、发改委');
    const edit = await w.get('/admin/units/D001');
    expect(edit.text).to.contain('value="省发改委、发改委"');
    // Editing on the page: the field is a text of names.
    const saved = await w.postForm('/admin/units', { editing: '1', code: 'D001', name: '省发展和改革委员会', category: 'department', parent: '', active: '1', aliases: '发改委' });
    expect(saved.status).to.equal(303);
    expect(await aliasesOf('D001')).to.deep.equal(['发改委']);
  });

  it("an alias that is another unit's name or alias refuses the whole file, naming the row; nothing changes", async () => {
    const before = (await t.api(admin).get('/api/v1/units')).body;
    const r = await importFile(await book([['D003', '省公安厅', '省直部门', '公安厅'], ['C0571', '杭州市', '设区市', '省教育厅']]));
    expect(r.status).to.equal(422);
    expect(r.text).to.contain('第3行 简称「省教育厅」已是单位 D002（省教育厅）的名称');
    expect((await t.api(admin).get('/api/v1/units')).body).to.deep.equal(before);
  });
});
