// The reporter's upload in Chromium: public/js/upload.js posts the file with XHR (progress bar), a bad
// file's errors appear on the page without leaving it, a good file opens the preview, confirming commits.
// No console error, page error or CSP violation on the way (the 422 of the refused file aside).
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { closeBrowser, launchBrowser, login, watchedPage } from '../browser/helpers.ts';
import type { TestApp, TestUser } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from './helpers.ts';

describe('browser: Excel upload with progress, preview and confirm', function () {
  this.timeout(90_000);
  let t: TestApp;
  let admin: string;
  let rep: TestUser;
  let browser: Browser;
  let userDataDir: string;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    rep = await t.userFor('reporter', 'D001');
    ({ browser, userDataDir } = await launchBrowser());
  });
  after(async () => {
    await closeBrowser(browser, userDataDir);
    await t?.stop();
  });

  it('refused file: errors listed in place; good file: preview, confirm, new revision', async () => {
    const wp = await watchedPage(browser, t.baseUrl, 'reporter-upload');
    await login(wp, rep.username, rep.password);
    await wp.visit('/returns/2026Q4/D001');
    const page = wp.page;

    // A bad file (another unit's row and a negative number): refused, every error shown, nothing stored.
    const bad = await buildWorkbook([
      { code: 'D001', values: vals(1, { duties_total: -5 }) },
      { code: 'D002', values: vals(2) },
    ]);
    await page.setInputFiles('form[data-upload] input[type=file]', { name: '错误.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: bad });
    // Record what the progress bar shows (upload.js reflects XHR upload progress into it).
    await page.evaluate(() => {
      const bar = document.querySelector('[data-upload-progress]') as HTMLProgressElement;
      const seen: { value: number; hidden: boolean }[] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() => seen.push({ value: bar.value, hidden: bar.hidden })).observe(bar, { attributes: true });
    });
    await page.click('form[data-upload] button[type=submit]');
    await page.waitForSelector('[data-upload-errors] tbody tr');
    const seen = await page.evaluate(() => (window as unknown as { seen: { value: number; hidden: boolean }[] }).seen);
    expect(seen.some((s) => !s.hidden)).to.equal(true);
    expect(seen.some((s) => s.value === 100)).to.equal(true);
    expect(await page.isHidden('[data-upload-progress]')).to.equal(true);
    expect(page.url()).to.match(/\/returns\/2026Q4\/D001$/);
    // One table line per problem; D002's row (another unit's) is one line however many problems it has.
    const items = await page.$$eval('[data-upload-errors] tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(items).to.have.length(2);
    expect(items.find((x) => x.includes('D002'))).to.contain('整行不能导入');
    expect(items.join('\n')).to.contain('负数');
    expect(items.join('\n')).to.contain('D002');
    expect(await page.textContent('[data-upload-status]')).to.contain('2 处错误');
    expect((await t.api(admin).get('/api/v1/returns/2026Q4/D001')).status).to.equal(404);

    // A good file: progress reaches 100 %, the preview opens, confirming commits it.
    const good = await buildWorkbook([{ code: 'D001', values: vals(4) }]);
    await page.setInputFiles('form[data-upload] input[type=file]', { name: '本单位.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: good });
    await Promise.all([page.waitForURL(/\/returns\/uploads\/[0-9a-f]{24}$/), page.click('form[data-upload] button[type=submit]')]);
    expect(await page.textContent('main')).to.contain('本期首次提交');
    await Promise.all([page.waitForURL(/\/returns\/2026Q4\/D001$/), page.click('button:has-text("确认提交")')]);
    expect(await page.textContent('.flash')).to.contain('D001 第 1 版');
    const g = await t.api(admin).get('/api/v1/returns/2026Q4/D001');
    expect(g.body).to.include({ revision: 1, source: 'excel' });
    expect(g.body.values).to.deep.equal(vals(4));

    const problems = wp.problems.filter((p) => !/status of 422/.test(p));
    expect(problems).to.deep.equal([]);
    await wp.close();
  });
});
