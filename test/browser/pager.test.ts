// A long table in a real browser (排名; 年度排名 renders the same pager): the pager's links and jump form
// walk the category a page at a time, and a reporter lands on the page with its own unit. Rows per page
// are made small so that the demo province's counties take several pages.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { paging } from '../../server/pages/paging.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { closeBrowser, launchBrowser } from './helpers.ts';

describe('browser: long tables a page at a time', function () {
  this.timeout(180_000);
  let t: TestApp;
  let browser: Browser | undefined;
  let userDataDir: string | undefined;
  let period: string;
  const NOW = new Date('2026-10-23T02:00:00Z');

  before(async () => {
    t = await startTestApp({ periods: [] });
    const { clock } = await import('../../server/clock.ts');
    clock.set(() => NOW);
    const { loadDemoData } = await import('../../server/services/demo.ts');
    const r = await loadDemoData({ now: NOW, password: () => 'demo-password-1', restoreClock: () => NOW });
    expect(r.loaded, r.reason).to.equal(true);
    period = r.published!.at(-1)!;
    await t.settle();
    paging.rows = 8;
    ({ browser, userDataDir } = await launchBrowser());
  });
  after(async () => {
    paging.rows = 1000;
    const { clock } = await import('../../server/clock.ts');
    clock.set(null);
    await closeBrowser(browser, userDataDir);
    await t?.stop();
  });

  async function signedIn(username: string, password: string): Promise<Page> {
    const page = await browser!.newPage();
    await page.goto(`${t.baseUrl}/login`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', password);
    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
    return page;
  }

  it('walks the counties with 下一页, the jump form and 末页; every county once', async () => {
    const office = await t.userFor('office');
    const page = await signedIn(office.username, office.password);
    await page.goto(`${t.baseUrl}/ranking?period=${period}&category=county`);
    const text = (await page.locator('.pager-text').first().textContent())!;
    const m = /^第 1 \/ (\d+) 页，第 1–8 行（共 (\d+) 个单位，每页 8 个）$/.exec(text);
    expect(m, text).to.not.equal(null);
    const pages = Number(m![1]);
    const total = Number(m![2]);
    expect(pages).to.equal(Math.ceil(total / 8)).and.be.at.least(3);
    const seen: string[] = [];
    seen.push(...(await page.locator('table.ranking-table tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelector('a[href^="/units/"]')?.getAttribute('href') ?? ''))));
    expect(await page.locator('nav.pager a', { hasText: '上一页' }).count()).to.equal(0);
    await Promise.all([page.waitForURL(/page=2/), page.locator('nav.pager a', { hasText: '下一页' }).first().click()]);
    seen.push(...(await page.locator('table.ranking-table tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelector('a[href^="/units/"]')?.getAttribute('href') ?? ''))));
    for (let k = 3; k <= pages; k++) {
      await page.locator('.pager-jump input[name=page]').first().fill(String(k));
      await Promise.all([page.waitForURL(new RegExp(`page=${k}(&|$)`)), page.locator('.pager-jump button').first().click()]);
      expect(await page.locator('.pager-text').first().textContent()).to.include(`第 ${k} / ${pages} 页`);
      seen.push(...(await page.locator('table.ranking-table tbody tr').evaluateAll((rows) => rows.map((r) => r.querySelector('a[href^="/units/"]')?.getAttribute('href') ?? ''))));
    }
    expect(await page.locator('nav.pager a', { hasText: '末页' }).count()).to.equal(0); // on the last page
    expect(seen.length).to.equal(total);
    expect(new Set(seen).size).to.equal(total);
    // The period and category are kept by the pager: still the counties of that period.
    expect(page.url()).to.include(`period=${period}`).and.include('category=county');
    await page.close();
  });

  it('a reporter lands on the page with its own unit', async () => {
    const { readSet } = await import('../../server/results/read.ts');
    const { readRows } = await import('../../server/results/store.ts');
    const rows = (await readRows(period, (await readSet(period)).computeId)).filter((r) => r.category === 'county');
    const own = rows[20]!; // result order within the category is the default sort (rank, then code)
    const reporter = await t.userFor('reporter', own.unit);
    const page = await signedIn(reporter.username, reporter.password);
    await page.goto(`${t.baseUrl}/ranking?period=${period}&category=county`);
    expect(await page.locator('.pager-text').first().textContent()).to.include(`第 ${Math.floor(20 / 8) + 1} / `);
    expect(await page.locator('table.ranking-table tbody').textContent()).to.include(own.name);
    await page.close();
  });
});
