// Bulk user import (issue 17): an admin uploads an account list (exceljs- and LibreOffice-made files),
// the whole file is checked first (every problem listed by row and column, nothing created), the
// generated initial passwords are shown once (page and a downloadable xlsx in the same response, never
// stored in plain text) and the new users must change them before anything else (pages redirect, the
// API answers 403 password_change_required).
import fs from 'node:fs';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { AuditLog } from '../../server/models/audit-log.ts';
import { User } from '../../server/models/user.ts';
import type { TestApp, TestUser, WebClient } from '../helpers/app.ts';
import { createUnits, harness } from '../intake/helpers.ts';

const LO_FILE = new URL('../fixtures/xlsx/lo-users.xlsx', import.meta.url);

async function book(rows: unknown[][], head: unknown[] = ['单位代码', '单位名称', '用户名', '姓名', '角色']): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.addWorksheet('说明').addRow(['每个单位一个填报员账号']);
  const ws = wb.addWorksheet('用户清单');
  ws.addRow(['2026 年填报员账号']); // a title above the header
  ws.addRow(head);
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

async function sheetRows(buf: Buffer): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ArrayBuffer);
  const out: string[][] = [];
  wb.worksheets[0]!.eachRow((row) => out.push((row.values as unknown[]).slice(1).map((v) => (v === null || v === undefined ? '' : String(v)))));
  return out;
}

describe('admin: bulk user import with one-time initial passwords', function () {
  this.timeout(90_000);
  let t: TestApp;
  let admin: TestUser;
  let w: WebClient;

  /** Posts the file through the page form (multipart, CSRF token in the body). */
  const importFile = async (buf: Buffer) => {
    const form = new FormData();
    form.append('_csrf', await w.csrfToken());
    form.append('file', new Blob([new Uint8Array(buf)]), 'users.xlsx');
    const res = await fetch(`${t.baseUrl}/admin/users/import`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: w.cookies() }, redirect: 'manual' });
    return { status: res.status, text: await res.text(), cacheControl: res.headers.get('cache-control') };
  };
  const userCount = () => User.countDocuments({});

  before(async () => {
    const h = await harness();
    t = await h.startTestApp();
    admin = await t.userFor('admin', undefined, { username: 'import-admin' });
    await createUnits(t, admin.token);
    w = t.web();
    await w.login(admin.username, admin.password);
  });
  after(async () => {
    await t?.stop();
  });

  it('the template lists every unit without a reporter account, with the role list', async () => {
    const r = await w.get('/admin/users/import/template');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.contain('spreadsheetml');
    const rows = await sheetRows(r.buffer);
    expect(rows[0]).to.deep.equal(['单位代码', '单位名称', '用户名', '姓名', '角色']);
    expect(rows.slice(1).map((x) => x[0])).to.deep.equal(['C0571', 'D001', 'D002', 'D003', 'X330102']);
    expect(rows[2]).to.deep.equal(['D001', '省发展和改革委员会', 'd001', '', '单位填报员']);
  });

  it('refuses a file with problems as a whole: every problem by row and column, nothing created', async () => {
    await t.userFor('office', undefined, { username: 'taken-name' });
    const before = await userCount();
    const buf = await book([
      ['D001', '', 'new-d001', '张三', '单位填报员'],
      ['D002', '', 'new-d001', '李四', ''], // duplicate user name in the file
      ['D404', '', 'new-d404', '', '填报员'], // unknown unit
      ['D003', '', 'new-d003', '', '超级管理员'], // bad role
      ['', '', 'taken-name', '', '审核员'], // name taken
      ['D001', '', 'again-d001', '', ''], // second account for D001
      ['', '', 'no-unit', '', ''], // reporter without unit
      ['C0571', '', 'reviewer-with-unit', '', '审核员'], // unit on another role
      ['C0571', '', 'x', '', ''], // bad user name
    ]);
    const r = await importFile(buf);
    expect(r.status).to.equal(422);
    expect(r.text).to.contain('用户清单有 8 处错误，未导入任何账号');
    for (const msg of [
      '第4行 用户名「new-d001」与第3行重复',
      '第5行 单位代码「D404」不存在',
      '第6行 角色「超级管理员」无效',
      '第7行 用户名「taken-name」已存在',
      '第8行 单位 D001 与第3行重复：每个单位只导入一个账号',
      '第9行 单位填报员必须填写单位代码',
      '第10行 只有单位填报员可以绑定单位',
      '第11行 用户名「x」无效',
    ]) expect(r.text).to.contain(msg);
    // The error table names sheet and column letters.
    expect(r.text).to.match(/<td>用户清单<\/td><td>5<\/td><td>A<\/td>/);
    expect(r.text).to.match(/<td>用户清单<\/td><td>6<\/td><td>E<\/td>/);
    expect(await userCount()).to.equal(before);

    const api = await t.api(admin.token).postFile('/api/v1/users/import', 'file', buf, 'users.xlsx');
    expect(api.status).to.equal(422);
    expect(api.body.error.code).to.equal('invalid_file');
    expect(api.body.error.details.errors).to.have.length(8);
    expect(api.body.error.details.errors[1]).to.deep.include({ sheet: '用户清单', row: 5, column: 'A', field: 'unit' });
    expect(await userCount()).to.equal(before);
  });

  it('a file without a 用户名 header, or not a workbook, is refused with a clear message', async () => {
    const noHeader = await importFile(await book([['D001', 'x']], ['单位代码', '单位名称']));
    expect(noHeader.status).to.equal(422);
    expect(noHeader.text).to.contain('没有找到「用户名」表头');
    const notXlsx = await t.api(admin.token).postFile('/api/v1/users/import', 'file', Buffer.from('单位代码,用户名\nD001,a\n'), 'users.xlsx');
    expect(notXlsx.status).to.equal(422);
    expect(notXlsx.body.error.message).to.match(/[\u4e00-\u9fa5]/);
  });

  it('imports an exceljs file: passwords shown once with a download, stored only as hashes, audited', async () => {
    const r = await importFile(await book([['D001', '省发展和改革委员会', 'rep-d001', '张三', '单位填报员'], ['D002', '', 'rep-d002', '', '']]));
    expect(r.status, r.text.slice(0, 800)).to.equal(200);
    expect(r.cacheControl).to.equal('no-store');
    expect(r.text).to.contain('已创建 2 个账号').and.contain('只显示这一次');
    const shown = [...r.text.matchAll(/<td>(rep-d00\d)<\/td>[\s\S]*?<code class="initial-password">([^<]+)<\/code>/g)].map((m) => [m[1], m[2]]);
    expect(shown.map((x) => x[0])).to.deep.equal(['rep-d001', 'rep-d002']);
    for (const [, pw] of shown) expect(pw).to.match(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    expect(shown[0]![1]).not.to.equal(shown[1]![1]);
    // The download is in the page itself (nothing kept on the server): the same passwords.
    const m = /href="data:application\/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet;base64,([^"]+)" download="([^"]+)"/.exec(r.text);
    expect(m, 'download link').to.not.equal(null);
    expect(m![2]).to.match(/^初始密码-\d{4}-\d{2}-\d{2}\.xlsx$/);
    const rows = await sheetRows(Buffer.from(m![1]!, 'base64'));
    expect(rows[0]).to.deep.equal(['单位代码', '单位名称', '用户名', '姓名', '角色', '初始密码']);
    expect(rows[1]).to.deep.equal(['D001', '省发展和改革委员会', 'rep-d001', '张三', '单位填报员', shown[0]![1]]);
    expect(rows[2]!.slice(0, 6)).to.deep.equal(['D002', '省教育厅', 'rep-d002', '', '单位填报员', shown[1]![1]]);

    // Never stored in plain text, never shown again.
    const docs = await User.find({ username: { $in: ['rep-d001', 'rep-d002'] } }).lean();
    expect(docs.map((d) => [d.username, d.role, d.unit, d.active, d.mustChangePassword])).to.have.deep.members([
      ['rep-d001', 'reporter', 'D001', true, true],
      ['rep-d002', 'reporter', 'D002', true, true],
    ]);
    const everything = JSON.stringify(await User.find({}).lean()) + JSON.stringify(await AuditLog.find({}).lean());
    for (const [, pw] of shown) expect(everything).not.to.contain(pw);
    const list = await w.get('/admin/users');
    expect(list.text).to.contain('rep-d001').and.contain('待改初始密码');
    for (const [, pw] of shown) expect(list.text).not.to.contain(pw);

    const entries = await AuditLog.find({ action: { $in: ['user.create', 'user.import'] }, actor: 'import-admin' }).lean();
    expect(entries.map((e) => e.action).sort()).to.deep.equal(['user.create', 'user.create', 'user.import']);
    expect(entries.find((e) => e.action === 'user.import')!.after).to.deep.include({ created: 2, usernames: ['rep-d001', 'rep-d002'] });

    // The template no longer offers the units that now have an account.
    const tpl = await sheetRows((await w.get('/admin/users/import/template')).buffer);
    expect(tpl.slice(1).map((x) => x[0])).to.deep.equal(['C0571', 'D003', 'X330102']);

    // The new user must change the password before anything else.
    const [, pw] = shown[0]!;
    const rep = t.web();
    const login = await rep.postForm('/login', { username: 'rep-d001', password: pw!, next: '/returns' });
    expect(login.status).to.equal(303);
    expect(login.location).to.equal('/password?next=%2Freturns');
    for (const path of ['/', '/returns', '/ranking', '/accountability']) {
      const g = await rep.get(path);
      expect(g.status, path).to.equal(303);
      expect(g.location, path).to.match(/^\/password/);
    }
    const page = await rep.get('/password?next=%2Freturns');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('首次登录，请先设置新密码');
    const csrf = { csrf: /<meta name="csrf-token" content="([^"]+)"/.exec(page.text)![1]! }; // every other page redirects here
    const apiCall = await t.api().get('/api/v1/units', { cookie: rep.cookies() }); // a page script's call
    expect(apiCall.status).to.equal(403);
    expect(apiCall.body.error.code).to.equal('password_change_required');
    const token = (await t.api().post('/api/v1/auth/token', { username: 'rep-d001', password: pw })).body.token as string;
    const byToken = await t.api(token).get('/api/v1/results/2026Q3');
    expect(byToken.status).to.equal(403);
    expect(byToken.body.error.code).to.equal('password_change_required');
    expect((await t.api(token).get('/api/v1/auth/me')).body).to.deep.include({ username: 'rep-d001', mustChangePassword: true });
    const refused = await rep.postForm('/admin/users', { username: 'sneaky' }, csrf);
    expect(refused.status).to.equal(403);
    expect(refused.text).to.contain('请先修改初始密码');

    // Wrong current password, mismatch, same password: refused in Chinese, nothing changes.
    const wrong = await rep.postForm('/password', { current: 'not-it-123', password: 'brand-new-pass-1', confirm: 'brand-new-pass-1' }, csrf);
    expect(wrong.status).to.equal(422);
    expect(wrong.text).to.contain('当前密码不正确');
    const mismatch = await rep.postForm('/password', { current: pw!, password: 'brand-new-pass-1', confirm: 'brand-new-pass-2' }, csrf);
    expect(mismatch.status).to.equal(400);
    expect(mismatch.text).to.contain('两次输入的新密码不一致');
    const same = await rep.postForm('/password', { current: pw!, password: pw!, confirm: pw! }, csrf);
    expect(same.status).to.equal(400);
    expect(same.text).to.contain('新密码不能与当前密码相同');
    expect((await rep.get('/returns')).status).to.equal(303);

    const changed = await rep.postForm('/password', { current: pw!, password: 'brand-new-pass-1', confirm: 'brand-new-pass-1', next: '/returns' }, csrf);
    expect(changed.status).to.equal(303);
    expect(changed.location).to.equal('/returns');
    expect((await rep.get('/returns')).status).to.equal(200);
    expect((await rep.get('/')).status).to.equal(200);
    // The token issued before the change is revoked; the old password no longer works.
    expect((await t.api(token).get('/api/v1/auth/me')).status).to.equal(401);
    expect((await t.api().post('/api/v1/auth/token', { username: 'rep-d001', password: pw })).status).to.equal(401);
    const fresh = (await t.api().post('/api/v1/auth/token', { username: 'rep-d001', password: 'brand-new-pass-1' })).body.token as string;
    expect((await t.api(fresh).get('/api/v1/units')).status).to.equal(200);
    expect((await User.findOne({ username: 'rep-d001' }).lean())!.mustChangePassword).to.equal(false);
    expect((await AuditLog.find({ action: 'user.password_change', actor: 'rep-d001' }).lean())).to.have.length(1);
  });

  it('imports a LibreOffice-made file through the API (roles by label, empty role = 单位填报员)', async () => {
    const r = await t.api(admin.token).postFile('/api/v1/users/import', 'file', fs.readFileSync(LO_FILE), 'lo-users.xlsx');
    // D001 and D002 already have accounts by now: one account per unit is the rule of the file only.
    expect(r.status, r.text).to.equal(201);
    expect(r.headers.get('cache-control')).to.equal('no-store');
    expect(r.body.created.map((u: { username: string; role: string; unit: string | null; displayName: string }) => [u.username, u.role, u.unit, u.displayName])).to.deep.equal([
      ['lo-d001', 'reporter', 'D001', '张三'],
      ['lo-d002', 'reporter', 'D002', '李四'],
      ['lo-reviewer', 'reviewer', null, '王五'],
    ]);
    const pw = r.body.created[2].password as string;
    const token = (await t.api().post('/api/v1/auth/token', { username: 'lo-reviewer', password: pw })).body.token as string;
    expect((await t.api(token).get('/api/v1/units')).status).to.equal(403);
  });

  it('two admins importing the same names at once: one file goes in whole, the other creates nothing', async () => {
    const before = await userCount();
    const buf = await book([['D003', '', 'race-1', '', ''], ['C0571', '', 'race-2', '', '']]);
    const [a, b] = await Promise.all([1, 2].map(() => t.api(admin.token).postFile('/api/v1/users/import', 'file', buf, 'users.xlsx')));
    const statuses = [a!.status, b!.status].sort();
    expect(statuses[0]).to.equal(201);
    expect(statuses[1]).to.be.oneOf([409, 422]); // refused while checking (422) or by the unique index when inserting (409)
    expect(await userCount()).to.equal(before + 2);
    expect(await User.countDocuments({ pendingImport: { $ne: null } })).to.equal(0);
    expect((await User.find({ username: { $in: ['race-1', 'race-2'] } }).lean()).every((u) => u.active)).to.equal(true);
  });

  it('accounts left by an import that died before activating them are no accounts; an hour on, their names are free', async () => {
    const old = new Date(Date.now() - 2 * 3600_000);
    const { insertedId } = await User.collection.insertOne({ username: 'ghost', passwordHash: 'x', role: 'office', unit: null, displayName: null, active: false, authVersion: 0, mustChangePassword: true, pendingImport: 'dead-batch', createdAt: old, updatedAt: old });
    const one = await t.api(admin.token).get(`/api/v1/users/${insertedId}`);
    expect(one.status, one.text).to.equal(404);
    const activate = await t.api(admin.token).patch(`/api/v1/users/${insertedId}`, { active: true });
    expect(activate.status, activate.text).to.equal(404);
    expect((await w.get('/admin/users')).text).not.to.contain('ghost');
    expect((await t.api(admin.token).get('/api/v1/users')).body.map((u: { username: string }) => u.username)).not.to.include('ghost');
    const r = await t.api(admin.token).postFile('/api/v1/users/import', 'file', await book([['', '', 'ghost', '', '领导小组办公室']]), 'users.xlsx');
    expect(r.status, r.text).to.equal(201);
    const ghost = await User.findOne({ username: 'ghost' }).lean();
    expect(ghost).to.deep.include({ role: 'office', active: true, pendingImport: null, mustChangePassword: true });
  });

  it('only admins import', async () => {
    const reviewer = await t.tokenFor('reviewer');
    const r = await t.api(reviewer).postFile('/api/v1/users/import', 'file', await book([['D003', '', 'nope', '', '']]), 'u.xlsx');
    expect(r.status).to.equal(403);
    expect(await User.exists({ username: 'nope' })).to.equal(null);
  });
});
