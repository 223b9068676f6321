// The intake pages through a browser-like client: reporter form (same messages as the API), Excel
// upload → preview → confirm, reviewer board and reject with a reason (seen by the unit), admin
// units / periods pages. Every form carries the CSRF token; none works without it.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from './helpers.ts';

const P = '2026Q4';

describe('intake web pages', () => {
  let t: TestApp;
  let admin: string;
  let rep: WebClient;
  let reviewer: WebClient;
  let adminWeb: WebClient;

  const login = async (role: 'admin' | 'reviewer' | 'reporter', unit?: string) => {
    const u = await t.userFor(role, unit);
    const w = t.web();
    await w.login(u.username, u.password);
    return w;
  };

  /** Multipart POST with the session cookie and the CSRF token in a form field, as the page form does. */
  const postUpload = async (w: WebClient, path: string, buf: Buffer, name: string, headers: Record<string, string> = {}) => {
    const token = await w.csrfToken();
    const form = new FormData();
    form.append('_csrf', token);
    form.append('file', new Blob([new Uint8Array(buf)]), name);
    const res = await fetch(`${t.baseUrl}${path}`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: `sid=${w.cookie()}`, ...headers }, redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  };

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    rep = await login('reporter', 'D001');
    reviewer = await login('reviewer');
    adminWeb = await login('admin');
  });
  after(async () => {
    await t?.stop();
  });

  it('reporter: my returns page, the web form with the same messages as the API', async () => {
    const index = await rep.get('/returns');
    expect(index.status).to.equal(200);
    expect(index.text).to.contain('省发展和改革委员会');
    expect(index.text).to.contain(`/returns/${P}/D001`);
    const form = await rep.get(`/returns/${P}/D001`);
    expect(form.status).to.equal(200);
    expect(form.text).to.contain('name="_csrf"');
    expect(form.text).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(form.text).to.contain('/public/js/upload.js');
    expect((await rep.get(`/returns/${P}/D002`)).status).to.equal(403);

    const bad = await rep.postForm(`/returns/${P}/D001`, Object.fromEntries(Object.entries(vals(0, { systems_total: 10, systems_extranet: 12, duties_total: '' })).map(([k, v]) => [k, String(v)])));
    expect(bad.status).to.equal(422);
    expect(bad.text).to.contain('「已接入电子政务外网的系统数」12 大于「信息系统总数」10');
    expect(bad.text).to.contain('「权责清单事项数」未填写');
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).status).to.equal(404);

    const noCsrf = await rep.postForm(`/returns/${P}/D001`, { systems_total: '1' }, { csrf: false });
    expect(noCsrf.status).to.equal(403);

    const ok = await rep.postForm(`/returns/${P}/D001`, Object.fromEntries(Object.entries(vals(3, { catalogue_items: '１，２３４' })).map(([k, v]) => [k, String(v)])));
    expect(ok.status).to.equal(303);
    const g = await t.api(admin).get(`/api/v1/returns/${P}/D001`);
    expect(g.body).to.include({ revision: 1, source: 'web' });
    expect(g.body.values.catalogue_items).to.equal(1234);
  });

  it('reporter: upload → preview of what changes (values and ratios) → confirm commits; cancel stores nothing', async () => {
    const buf = await buildWorkbook([{ code: 'D001', values: vals(3, { catalogue_items: 1234, systems_extranet: 5 }) }]);
    const up = await postUpload(rep, `/returns/upload?period=${P}&unit=D001`, buf, '本单位.xlsx');
    expect(up.status, up.text.slice(0, 300)).to.equal(303);
    const previewPath = up.location!;
    expect(previewPath).to.match(/^\/returns\/uploads\/[0-9a-f]{24}$/);
    const preview = await rep.get(previewPath);
    expect(preview.status, preview.text.slice(0, 2000)).to.equal(200);
    expect(preview.text).to.contain('当前为第 1 版');
    expect(preview.text).to.contain('外网接入率');
    expect(preview.text).to.contain('变化');
    // Nothing visible before confirming.
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).body.revision).to.equal(1);
    // Another user cannot see or confirm it.
    expect((await adminWeb.get(previewPath)).status).to.equal(404);
    const confirm = await rep.postForm(`${previewPath}/confirm`, {});
    expect(confirm.status).to.equal(303);
    const g = await t.api(admin).get(`/api/v1/returns/${P}/D001`);
    expect(g.body).to.include({ revision: 2, source: 'excel' });
    expect(g.body.values.systems_extranet).to.equal(5);
    // Confirming twice does not create another revision.
    await rep.postForm(`${previewPath}/confirm`, {});
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).body.revision).to.equal(2);

    const up2 = await postUpload(rep, `/returns/upload?period=${P}&unit=D001`, await buildWorkbook([{ code: 'D001', values: vals(8) }]), 'x.xlsx');
    const cancel = await rep.postForm(`${up2.location}/cancel`, {});
    expect(cancel.status).to.equal(303);
    expect((await rep.postForm(`${up2.location}/confirm`, {})).status).to.equal(303);
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).body.revision).to.equal(2);
  });

  it('reporter: a bad file is shown with every error (page and XHR), nothing stored', async () => {
    const buf = await buildWorkbook([
      { code: 'D001', values: vals(1, { networks_private: -1 }) },
      { code: 'D002', values: vals(1) },
    ]);
    const page = await postUpload(rep, `/returns/upload?period=${P}&unit=D001`, buf, 'bad.xlsx');
    expect(page.status).to.equal(422);
    expect(page.text).to.contain('负数');
    expect(page.text).to.contain('D002');
    const xhr = await postUpload(rep, `/returns/upload?period=${P}&unit=D001`, buf, 'bad.xlsx', { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' });
    expect(xhr.status).to.equal(422);
    const body = JSON.parse(xhr.text);
    expect(body.errors).to.have.length(2);
    const ok = await postUpload(rep, `/returns/upload?period=${P}&unit=D001`, await buildWorkbook([{ code: 'D001', values: vals(1) }]), 'ok.xlsx', { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' });
    expect(JSON.parse(ok.text).redirect).to.match(/^\/returns\/uploads\//);
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).body.revision).to.equal(2);
  });

  it('reviewer: the board shows submitted / missing; reject with a reason reaches the unit as a notice', async () => {
    await t.api(admin).put('/api/v1/periods/2026Q2', { deadline: '2026-07-15T23:59:59+08:00' });
    await t.api(admin).put('/api/v1/returns/2026Q2/D002', { values: vals(2) }); // after the deadline: late
    const board = await reviewer.get('/review?period=2026Q2');
    expect(board.status).to.equal(200);
    expect(board.text).to.match(/data-unit="D002" data-state="submitted"/);
    expect(board.text).to.match(/data-unit="D001" data-state="missing"/);
    expect(board.text).to.contain('逾期');
    // The 类别 column shows the category (a helper of the same name once hid the row's field).
    expect(board.text).to.match(/<td>D002<\/td>\s*<td>[^<]*<\/td>\s*<td>省直部门<\/td>/);
    const late = await reviewer.get('/review?period=2026Q2&state=late');
    expect(late.text).to.contain('data-unit="D002"');
    expect(late.text).to.not.contain('data-unit="D001"');

    const detail = await reviewer.get('/review/2026Q2/D002');
    expect(detail.status).to.equal(200);
    const noReason = await reviewer.postForm('/review/2026Q2/D002', { decision: 'reject', reason: '', revision: '1' });
    expect(noReason.status).to.equal(303);
    expect((await t.api(admin).get('/api/v1/returns/2026Q2/D002')).body.status).to.equal('submitted');
    const rej = await reviewer.postForm('/review/2026Q2/D002', { decision: 'reject', reason: '编目数与上季度相差过大', revision: '1' });
    expect(rej.status).to.equal(303);
    expect((await t.api(admin).get('/api/v1/returns/2026Q2/D002')).body.status).to.equal('rejected');
    const trail = await reviewer.get('/review/2026Q2/D002');
    expect(trail.text).to.contain('退回第 1 版：编目数与上季度相差过大');
    expect(trail.text).to.contain('提交第 1 版（接口报送）');
    const rep2 = await login('reporter', 'D002');
    const mine = await rep2.get('/returns');
    expect(mine.text).to.contain('编目数与上季度相差过大');
    const form = await rep2.get('/returns/2026Q2/D002');
    expect(form.text).to.contain('退回原因：编目数与上季度相差过大');
    expect((await rep2.get('/review?period=2026Q2')).status).to.equal(403);
  });

  it('admin: create, edit and import units; edit a period deadline', async () => {
    const list = await adminWeb.get('/admin/units');
    expect(list.status).to.equal(200);
    expect(list.text).to.contain('C0571');
    expect(list.text).to.match(/<td><a href="\/units\/C0571">[^<]*<\/a><\/td>\s*<td>[^<]*<\/td>\s*<td>设区市<\/td>/);
    const created = await adminWeb.postForm('/admin/units', { code: 'D010', name: '省大数据管理局', category: 'department', parent: '' });
    expect(created.status).to.equal(303);
    const dup = await adminWeb.postForm('/admin/units', { code: 'D010', name: '重复', category: 'department' });
    expect(dup.status).to.equal(422);
    const edit = await adminWeb.postForm('/admin/units', { editing: '1', code: 'D010', name: '省大数据局', category: 'department', parent: '', active: '0' });
    expect(edit.status).to.equal(303);
    const units = (await t.api(admin).get('/api/v1/units')).body as { code: string; name: string; active: boolean }[];
    expect(units.find((u) => u.code === 'D010')).to.include({ name: '省大数据局', active: false });

    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('单位');
    ws.addRow(['单位清单']);
    ws.addRow(['单位代码', '单位名称', '单位类别', '上级单位代码']);
    ws.addRow(['C0573', '嘉兴市', '设区市', '']);
    ws.addRow(['X330402', '南湖区', '县（市、区）', 'C0573']);
    const good = Buffer.from(await wb.xlsx.writeBuffer());
    const imp = await postUpload(adminWeb, '/admin/units/import', good, 'units.xlsx');
    expect(imp.status).to.equal(303);
    const after = (await t.api(admin).get('/api/v1/units')).body as { code: string; category: string; parent: string | null }[];
    expect(after.find((u) => u.code === 'X330402')).to.include({ category: 'county', parent: 'C0573' });
    ws.addRow(['X330403', '秀洲区', '乡镇', 'C0999']);
    const bad = await postUpload(adminWeb, '/admin/units/import', Buffer.from(await wb.xlsx.writeBuffer()), 'units.xlsx');
    expect(bad.status).to.equal(422);
    expect(bad.text).to.contain('第5行');

    const periods = await adminWeb.get('/admin/periods');
    expect(periods.status).to.equal(200);
    const set = await adminWeb.postForm('/admin/periods', { period: '2026Q4', deadline: '2027-01-20T18:00:00', closed: '0' });
    expect(set.status).to.equal(303);
    const p = await t.api(admin).get('/api/v1/periods/2026Q4');
    expect(p.body.deadline).to.equal('2027-01-20T10:00:00.000Z');
    expect(p.body.defaultDeadline).to.equal(false);
    expect((await rep.get('/admin/units')).status).to.equal(403);
  });
});
