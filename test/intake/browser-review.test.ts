// The reviewer's flow in Chromium (issue 14 item 5): filter the board (无异常提示) → open the first
// return → approve → land on the next pending return with the filter kept → … → back on the board,
// still filtered. The return with warnings is left for a second look. No console error, page error or
// CSP violation on the way.
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { closeBrowser, launchBrowser, login, watchedPage } from '../browser/helpers.ts';
import type { TestApp, TestUser } from '../helpers/app.ts';
import { createUnits, startWithAdmin, vals } from './helpers.ts';

const P = '2026Q3';

describe('browser: review board flow with filters kept', function () {
  this.timeout(120_000);
  let t: TestApp;
  let admin: string;
  let rev: TestUser;
  let browser: Browser;
  let userDataDir: string;
  const status = async (unit: string) => (await t.api(admin).get(`/api/v1/returns/${P}/${unit}`)).body.status;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    const calm = vals(0);
    for (const u of ['D001', 'D002', 'D003', 'C0571']) await t.api(admin).put(`/api/v1/returns/2026Q2/${u}`, { values: calm });
    const jump = await t.api(admin).put(`/api/v1/returns/${P}/D001`, { values: { ...calm, systems_total: calm.systems_total * 6 + 10 } });
    expect(jump.body.warnings.length).to.be.greaterThan(0);
    for (const u of ['D002', 'D003', 'C0571']) await t.api(admin).put(`/api/v1/returns/${P}/${u}`, { values: calm });
    rev = await t.userFor('reviewer');
    ({ browser, userDataDir } = await launchBrowser());
  });
  after(async () => {
    await closeBrowser(browser, userDataDir);
    await t?.stop();
  });

  it('filter → open → approve → next pending, filter kept → … → the board, still filtered', async () => {
    const wp = await watchedPage(browser, t.baseUrl, 'reviewer-board');
    await login(wp, rev.username, rev.password);
    await wp.visit(`/review?period=${P}`, { shot: 'board' });
    const page = wp.page;
    expect(await page.$$eval('tr[data-unit]', (trs) => trs.map((tr) => tr.getAttribute('data-unit')))).to.include.members(['D001', 'D002', 'D003', 'C0571', 'X330102']);
    expect(await page.textContent('tr[data-unit="D001"]')).to.contain('⚠');

    // Filter: 无异常提示.
    await Promise.all([page.waitForURL(/warn=no/), page.click('a[data-filter="warn:no"]')]);
    expect(await page.$$eval('tr[data-unit]', (trs) => trs.map((tr) => tr.getAttribute('data-unit')))).to.deep.equal(['C0571', 'D002', 'D003']);
    // Then 待审核, keeping 无异常提示.
    await Promise.all([page.waitForURL(/state=submitted/), page.click('a[data-filter="state:submitted"]')]);
    expect(new URL(page.url()).search).to.equal(`?period=${P}&state=submitted&warn=no`);

    // Open the first row.
    await Promise.all([page.waitForURL(/\/review\/2026Q3\/C0571/), page.click('tr[data-unit="C0571"] a.button')]);
    await wp.shot('detail');
    expect(await page.textContent('table.side-by-side thead')).to.contain('上季度（2026Q2）');

    // Approve → the next pending row matching the filters.
    await Promise.all([page.waitForURL(/\/review\/2026Q3\/D002\?/), page.click('.decision-form button[value="approve"]')]);
    expect(new URL(page.url()).search).to.equal('?state=submitted&warn=no');
    expect(await page.textContent('.flash')).to.contain('已审核通过 C0571 第 1 版。下一条待审：D002');
    expect(await status('C0571')).to.equal('approved');

    // Reject with a reason, in the same form → D003.
    await page.fill('.decision-form textarea[name="reason"]', '请核对申请数');
    await Promise.all([page.waitForURL(/\/review\/2026Q3\/D003\?/), page.click('.decision-form button[value="reject"]')]);
    expect(await status('D002')).to.equal('rejected');

    // The last one → back on the board, still filtered; D001 (with warnings) is left pending.
    await Promise.all([page.waitForURL((u) => u.pathname === '/review'), page.click('.decision-form button[value="approve"]')]);
    expect(new URL(page.url()).search).to.equal(`?period=${P}&state=submitted&warn=no`);
    expect(await page.textContent('.flash')).to.contain('筛选范围内已没有待审核的报送');
    expect(await page.$$('tr[data-unit]')).to.have.length(0);
    expect(await status('D001')).to.equal('submitted');
    await wp.shot('board-after');
    // The one left: its warnings and the marked row, beside last quarter's value.
    await wp.visit(`/review/${P}/D001?warn=yes`, { shot: 'detail-warnings', full: true });
    expect(await page.textContent('#warnings')).to.contain('「信息系统总数」为');
    expect(await page.isVisible('tr.warned[data-field="systems_total"] .warn-mark')).to.equal(true);
    expect(wp.problems).to.deep.equal([]);
    await wp.close();
  });
});
