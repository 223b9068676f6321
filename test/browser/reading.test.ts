// The reading side in Chromium (issue 17): printed pages (PDF through the print stylesheet), the
// annual ranking, unit search, comparing units, a city's counties, the 总览 末位单位 table and the
// ranking on a phone. The real app with the demo province (87 departments); screenshots and PDFs go
// to test-artifacts/browser/.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { demoPeriods } from '../../server/services/demo/generator.ts';
import { ARTIFACTS, CHROMIUM, launchBrowser, login, startDemoApp, watchedPage, type RunningApp, type WatchedPage } from './helpers.ts';
import { pdfPages, plainText } from './pdf-text.ts';

describe('browser: reading, printing, finding and comparing units', function () {
  this.timeout(240_000);
  let app: RunningApp;
  let browser: Browser;
  let userDataDir: string;
  const problems: string[] = [];
  const pages: WatchedPage[] = [];
  const { published } = demoPeriods(new Date(), 'Asia/Shanghai');
  const latest = published.at(-1)!;
  const year = latest.slice(0, 4);

  const sessions = new Map<string, WatchedPage>();
  async function session(username: string, opts: Parameters<typeof watchedPage>[3] = {}, key = username): Promise<WatchedPage> {
    let wp = sessions.get(key);
    if (!wp) {
      wp = await watchedPage(browser, app.baseUrl, key, opts);
      pages.push(wp);
      await login(wp, username);
      sessions.set(key, wp);
    }
    return wp;
  }

  /** Prints the current page to PDF (the print stylesheet, CSS page size), keeps it as an artifact, returns each page's text. */
  async function printed(wp: WatchedPage, name: string): Promise<string[]> {
    const buf = await wp.page.pdf({ preferCSSPageSize: true, printBackground: true });
    fs.writeFileSync(path.join(ARTIFACTS, `${name}.pdf`), buf);
    return pdfPages(buf).map(plainText);
  }

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk)`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    [app, { browser, userDataDir }] = await Promise.all([startDemoApp(), launchBrowser()]);
  });

  afterEach(() => {
    for (const wp of pages) problems.push(...wp.problems.splice(0));
  });

  after(async () => {
    for (const wp of pages) await wp.close().catch(() => {});
    await browser?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await app?.stop();
  });

  describe('print', () => {
    it('the ranking of 87 departments prints as a meeting document: title, issuing office and 第 n 页 / 共 N 页 on every page, the header row on every page, no navigation or buttons', async () => {
      for (const who of ['office', 'reviewer']) {
        const wp = await session(who);
        await wp.visit(`/ranking?period=${latest}&category=department`, { shot: 'ranking-screen' });
        const rows = await wp.page.locator('.ranking-table tbody tr').count();
        expect(rows).to.equal(87);
        const text = await printed(wp, `${who}-ranking-print`);
        expect(text.length, 'pages').to.be.within(2, 5);
        text.forEach((t, i) => {
          expect(t, `page ${i + 1}`).to.include(`第${i + 1}页/共${text.length}页`);
          expect(t, `page ${i + 1}`).to.include('省直部门政务数据共享考核排名(正式结果)');
          expect(t, `page ${i + 1}`).to.include('数字政府建设领导小组办公室');
          // The header row repeats: every page names the columns.
          expect(t, `page ${i + 1}`).to.match(/排名.*变化.*单位.*总分.*等级/);
          for (const chrome of ['退出', '下载考核表', '打印', '重新计算', '发布本期结果', '跳到正文']) expect(t, `page ${i + 1}: ${chrome}`).not.to.include(chrome);
        });
        // Every unit is printed exactly once.
        const all = text.join('');
        for (const code of ['D001', 'D041', 'D087']) expect(all.split(code).length - 1, code).to.equal(1);
      }
    });

    it('a unit page prints on at most two A4 pages, each with its title and page number (reporter, office, a city)', async () => {
      const cases = [
        { who: 'rep_d001', path: `/units/D001?period=${latest}`, name: '省发展和改革委员会' },
        { who: 'office', path: `/units/D001?period=${latest}`, name: '省发展和改革委员会' },
        { who: 'office', path: `/units/C0571?period=${latest}`, name: '' },
      ];
      for (const c of cases) {
        const wp = await session(c.who);
        await wp.visit(c.path);
        const name = c.name || (await wp.page.locator('h1').innerText());
        const text = await printed(wp, `${c.who}-unit-${c.path.slice(7, 12)}-print`);
        expect(text.length, `${c.who} ${c.path}`).to.be.within(1, 2);
        text.forEach((t, i) => {
          expect(t).to.include(`第${i + 1}页/共${text.length}页`);
          expect(t).to.include(`${name}${year}年`);
          expect(t).to.include('数字政府建设领导小组办公室');
        });
        expect(text[0]).to.include('总分');
        expect(text.join('')).to.include('为什么是这个分数');
      }
    });
  });

  describe('annual ranking', () => {
    it('lists the year\'s departments by annual total, the same figures as the years API, linked from the nav and the ranking (office)', async () => {
      const wp = await session('office');
      await wp.visit(`/ranking?period=${latest}`);
      expect(await wp.page.locator('.main-nav a[href="/annual"]').innerText()).to.equal('年度排名');
      await Promise.all([wp.page.waitForURL(/\/annual\?/), wp.page.click(`.filter-bar a[href^="/annual?year=${year}"]`)]);
      await wp.shot('annual');
      const api = (await (await wp.page.request.get(`/api/v1/years/${year}/results`)).json()) as { final: boolean; results: { unit: string; category: string; total: number; rank: number; grade: string; eligible: boolean }[] };
      const departments = api.results.filter((r) => r.category === 'department');
      expect(departments).to.have.length(87);
      const rows = await wp.page.locator('.annual-table tbody tr').evaluateAll((trs) =>
        trs.map((tr) => ({
          unit: tr.getAttribute('data-unit'),
          rank: Number(tr.querySelector('td.rank')!.textContent),
          total: Number(tr.querySelector('td.total')!.textContent),
          text: tr.textContent ?? '',
        })),
      );
      expect(rows).to.have.length(87);
      const ranks = rows.map((r) => r.rank);
      expect(ranks).to.deep.equal([...ranks].sort((a, b) => a - b));
      for (const r of rows) {
        const a = departments.find((d) => d.unit === r.unit)!;
        expect(r.rank, r.unit!).to.equal(a.rank);
        expect(r.total, r.unit!).to.equal(a.total);
        expect(r.text).to.include(a.grade);
        expect(r.text).to.include(a.eligible ? '符合' : '不符合');
      }
      const banner = await wp.page.locator('.status-banner').innerText();
      expect(banner).to.include(api.final ? '正式结果' : '暂定结果');
      // Another category through its tab.
      await wp.page.click('.tabs a:has-text("设区市")');
      expect(await wp.page.locator('.annual-table tbody tr').count()).to.equal(api.results.filter((r) => r.category === 'city').length);
    });

    it('a year with no opened quarter is a 404 page in Chinese; a malformed year a 400; reading changes nothing', async () => {
      const wp = await session('office');
      const before = await (await wp.page.request.get('/api/v1/periods')).json();
      await wp.visit('/annual?year=2019', { status: 404, shot: 'annual-404' });
      expect(await wp.page.locator('main').innerText()).to.include('2019 年尚无已开放的考核期次');
      const bad = await wp.page.request.get('/annual?year=20x6');
      expect(bad.status()).to.equal(400);
      expect(await bad.text()).to.include('年度「20x6」无效');
      expect(await (await wp.page.request.get('/api/v1/periods')).json()).to.deep.equal(before);
    });

    it('a reporter sees only its own annual row until the year is final', async () => {
      const wp = await session('rep_d001');
      await wp.visit(`/annual?year=${year}`, { shot: 'annual' });
      const api = (await (await wp.page.request.get(`/api/v1/years/${year}/results`)).json()) as { final: boolean; results: { unit: string }[] };
      const units = await wp.page.locator('.annual-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-unit')));
      if (api.final) expect(units).to.have.length(87);
      else {
        expect(units).to.deep.equal(['D001']);
        expect(await wp.page.locator('main').innerText()).to.include('只显示本单位的年度结果');
      }
    });
  });

  describe('every page above', () => {
    it('had no console errors, page errors, failed requests or CSP violations', () => {
      expect(problems).to.deep.equal([]);
    });
  });
});
