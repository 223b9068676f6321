// The admin side of issue 17 in Chromium, on the demo province: the admin downloads the user import
// template, fills two rows, uploads it through the page, sees the initial passwords once and downloads
// them; a new user is forced to change the password before anything else; the jobs page says its
// schedules in words (no raw cron in what is shown). Console errors, page errors and CSP violations
// fail the test. Screenshots go to test-artifacts/browser-admin/.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Browser } from 'playwright-core';
import { CHROMIUM, closeBrowser, launchBrowser, login, ROOT, startDemoApp, watchedPage, type RunningApp, type WatchedPage } from './helpers.ts';

const SHOTS = path.join(ROOT, 'test-artifacts', 'browser-admin');

async function rowsOf(file: string | Buffer): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  if (typeof file === 'string') await wb.xlsx.readFile(file);
  else await wb.xlsx.load(file as unknown as ArrayBuffer);
  const out: string[][] = [];
  wb.worksheets[0]!.eachRow((row) => out.push((row.values as unknown[]).slice(1).map((v) => (v === null || v === undefined ? '' : String(v)))));
  return out;
}

describe('browser: bulk user import, first-login password change, jobs in words', function () {
  this.timeout(300_000);
  let app: RunningApp;
  let browser: Browser;
  let userDataDir: string;
  const pages: WatchedPage[] = [];
  const shot = (wp: WatchedPage, name: string) => wp.page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    [app, { browser, userDataDir }] = await Promise.all([startDemoApp(), launchBrowser()]);
  });
  after(async () => {
    for (const wp of pages) await wp.close().catch(() => {});
    await closeBrowser(browser, userDataDir);
    await app?.stop();
  });
  afterEach(() => {
    const problems = pages.flatMap((wp) => wp.problems.splice(0));
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  let imported: { username: string; password: string }[] = [];

  it('admin: template → filled file → import → passwords shown once and downloaded', async () => {
    const admin = await watchedPage(browser, app.baseUrl, 'admin');
    pages.push(admin);
    await login(admin, 'admin');
    await admin.visit('/admin/users');
    const [tplDownload] = await Promise.all([admin.page.waitForEvent('download'), admin.page.click('a[href="/admin/users/import/template"]')]);
    const tpl = await rowsOf((await tplDownload.path())!);
    expect(tpl[0]).to.deep.equal(['单位代码', '单位名称', '用户名', '姓名', '角色']);
    expect(tpl.length).to.be.greaterThan(3);
    expect(tpl.slice(1).map((r) => r[0])).not.to.include('D001'); // has rep_d001 already

    // The admin keeps two rows and names the people.
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('用户清单');
    ws.addRow(tpl[0]!);
    const picked = tpl.slice(1, 3);
    picked.forEach((r, i) => ws.addRow([r[0], r[1], r[2], `联系人${i + 1}`, r[4]]));
    const file = path.join(userDataDir, '用户清单.xlsx');
    await wb.xlsx.writeFile(file);

    await admin.page.setInputFiles('form[action="/admin/users/import"] input[type=file]', file);
    await Promise.all([admin.page.waitForURL('**/admin/users/import'), admin.page.click('form[action="/admin/users/import"] button[type=submit]')]);
    expect(await admin.page.locator('h1').innerText()).to.equal('导入完成：初始密码');
    const shown = await admin.page.$$eval('table.initial-passwords tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    expect(shown.map((r) => r[1])).to.deep.equal(picked.map((r) => r[2]));
    imported = shown.map((r) => ({ username: r[1]!, password: r[4]! }));
    for (const u of imported) expect(u.password).to.match(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    await shot(admin, 'admin-users-imported');

    const [pwDownload] = await Promise.all([admin.page.waitForEvent('download'), admin.page.click('a[download^="初始密码"]')]);
    expect(pwDownload.suggestedFilename()).to.match(/^初始密码-\d{4}-\d{2}-\d{2}\.xlsx$/);
    const list = await rowsOf((await pwDownload.path())!);
    expect(list.slice(1, 3).map((r) => [r[2], r[5]])).to.deep.equal(imported.map((u) => [u.username, u.password]));

    // Never shown again: the users list has the accounts, not the passwords.
    await admin.visit('/admin/users');
    const html = await admin.page.content();
    for (const u of imported) {
      expect(html).to.contain(u.username);
      expect(html).not.to.contain(u.password);
    }
    await shot(admin, 'admin-users');
  });

  it('a new user must change the password first, then uses the app', async () => {
    const u = imported[0]!;
    const rep = await watchedPage(browser, app.baseUrl, 'new-reporter');
    pages.push(rep);
    await rep.visit('/login');
    await rep.page.fill('input[name=username]', u.username);
    await rep.page.fill('input[name=password]', u.password);
    await Promise.all([rep.page.waitForURL('**/password**'), rep.page.click('form button[type=submit]')]);
    expect(await rep.page.locator('h2').first().innerText()).to.contain('首次登录，请先设置新密码');
    await shot(rep, 'reporter-password-required');
    for (const p of ['/', '/returns', '/ranking']) {
      await rep.page.goto(p);
      expect(new URL(rep.page.url()).pathname, p).to.equal('/password');
    }
    await rep.page.fill('#pw-current', u.password);
    await rep.page.fill('#pw-new', 'my-own-pass-2026');
    await rep.page.fill('#pw-confirm', 'my-own-pass-2026');
    await Promise.all([rep.page.waitForURL((url) => url.pathname !== '/password'), rep.page.click('form[action="/password"] button[type=submit]')]);
    expect(await rep.page.content()).to.contain('密码已修改');
    await rep.visit('/returns');
    expect(new URL(rep.page.url()).pathname).to.equal('/returns');
    await shot(rep, 'reporter-after-change');
  });

  it('the jobs page shows schedules in words, no raw cron, instance id or job key in what is shown', async () => {
    const admin = pages[0]!;
    await admin.visit('/jobs');
    const shown = await admin.page.locator('main').innerText(); // folded 技术信息 is not rendered
    expect(shown).to.contain('每天 02:00（北京时间）').and.contain('下次运行');
    expect(shown).not.to.match(/\d+ \d+ \* \* \*|periods=|Asia\/Shanghai|\bscore\b|\bremind\b|\bbackup\b/);
    await shot(admin, 'admin-jobs');
    await admin.page.locator('details.tech-info summary').first().click();
    expect(await admin.page.locator('main').innerText()).to.contain('0 2 * * *');
  });

  it('the scheme editor keeps the weight total up to date and previews a chosen period per category', async () => {
    const admin = pages[0]!;
    await admin.visit('/scheme');
    expect(await admin.page.locator('#weight-total').innerText()).to.equal('100');
    await admin.page.fill('#w-0', '30');
    expect(await admin.page.locator('#weight-total').innerText()).to.equal('105');
    expect(await admin.page.locator('#weight-total').getAttribute('class')).to.equal('bad-text');
    await admin.page.fill('#w-1', '15');
    expect(await admin.page.locator('#weight-total').innerText()).to.equal('100');
    const options = await admin.page.locator('select[name=period] option').allInnerTexts();
    expect(options.length).to.be.greaterThan(1);
    for (const o of options) expect(o).to.match(/^\d{4}Q[1-4]（(填报中|已截止|已关闭|已发布)）$/);
    const older = (await admin.page.locator('select[name=period] option').nth(1).getAttribute('value'))!;
    await admin.page.selectOption('select[name=period]', older);
    await Promise.all([admin.page.waitForURL('**/scheme'), admin.page.click('button[value=preview]')]);
    expect(await admin.page.locator('#preview h2').innerText()).to.contain(`预览：${older} 期`);
    expect(await admin.page.locator('#preview h3').allInnerTexts()).to.have.length.greaterThan(1);
    expect(await admin.page.locator('main').innerText()).not.to.contain('clamp(');
    await shot(admin, 'admin-scheme-preview');
  });
});
