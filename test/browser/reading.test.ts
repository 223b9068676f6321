// The reading side in Chromium (issue 17): printed pages (PDF through the print stylesheet), the
// annual ranking, unit search, comparing units, a city's counties, the 总览 末位单位 table and the
// ranking on a phone. The real app with the demo province (87 departments); screenshots and PDFs go
// to test-artifacts/browser/.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { demoPeriods } from '../../server/services/demo/generator.ts';
import { ARTIFACTS, CHROMIUM, closeBrowser, launchBrowser, login, startDemoApp, watchedPage, type RunningApp, type WatchedPage } from './helpers.ts';
import { pdfPages, plainText } from './pdf-text.ts';

describe('browser: reading, printing, finding and comparing units', function () {
  this.timeout(240_000);
  let app: RunningApp;
  let browser: Browser;
  let userDataDir: string;
  const problems: string[] = [];
  const pages: WatchedPage[] = [];
  const { published, current } = demoPeriods(new Date(), 'Asia/Shanghai');
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
    await closeBrowser(browser, userDataDir);
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

    it('a unit page prints on at most two A4 pages, each with its title and page number (reporters, office, a city, the unit with most cases)', async () => {
      const cases = [
        { who: 'rep_d001', path: `/units/D001?period=${latest}`, name: '省发展和改革委员会' },
        { who: 'office', path: `/units/D001?period=${latest}`, name: '省发展和改革委员会' },
        { who: 'office', path: `/units/C0571?period=${latest}`, name: '' },
        // The demo unit with the most cases (7, each with its history).
        { who: 'rep_d052', path: `/units/D052?period=${latest}`, name: '' },
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
      const text = await printed(wp, 'office-annual-print');
      expect(text.length).to.be.within(2, 5);
      text.forEach((t, i) => {
        expect(t).to.include(`第${i + 1}页/共${text.length}页`);
        expect(t).to.include(`${year}年度省直部门政务数据共享考核排名(${api.final ? '正式结果' : '暂定结果'})`);
        expect(t).to.match(/排名.*单位.*年度总分.*等级.*评先评优/);
      });
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

  describe('unit search (header)', () => {
    it('finds a unit by alias from the header and opens it directly; a code prefix lists its matches with links (admin, office)', async () => {
      const admin = await session('admin');
      await admin.visit('/');
      const csrf = (await admin.page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
      const put = await admin.page.request.put('/api/v1/units/D001', { data: { name: '省发展和改革委员会', category: 'department', aliases: ['省发改委'] }, headers: { 'X-CSRF-Token': csrf } });
      expect(put.status()).to.equal(200);
      for (const who of ['admin', 'office']) {
        const wp = await session(who);
        await wp.visit('/');
        await wp.page.fill('#unit-search-q', '省发改委');
        await Promise.all([wp.page.waitForURL(/\/units\/D001$/), wp.page.press('#unit-search-q', 'Enter')]);
        expect(await wp.page.locator('h1').innerText()).to.equal('省发展和改革委员会');
        await wp.page.fill('#unit-search-q', 'd00');
        await Promise.all([wp.page.waitForURL(/\/search\?q=d00/), wp.page.press('#unit-search-q', 'Enter')]);
        await wp.shot('search-d00');
        const codes = await wp.page.locator('.search-results tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-unit')));
        expect(codes).to.deep.equal(['D001', 'D002', 'D003', 'D004', 'D005', 'D006', 'D007', 'D008', 'D009']);
        expect(await wp.page.locator('.search-results tbody tr a[href="/units/D002"]').count()).to.equal(1);
        expect(await wp.page.locator('.search-results tbody tr').first().innerText()).to.include('省直部门');
      }
      const office = await session('office');
      await office.visit(`/search?q=${encodeURIComponent('厅')}`);
      const names = await office.page.locator('.search-results tbody tr td:nth-child(2)').allInnerTexts();
      expect(names.length).to.be.greaterThan(5);
      for (const n of names) expect(n).to.include('厅');
      await office.visit(`/search?q=${encodeURIComponent('没有这个单位')}`);
      expect(await office.page.locator('main').innerText()).to.include('没有找到代码、名称或简称含「没有这个单位」的单位');
      const long = await office.page.request.get(`/search?q=${'长'.repeat(51)}`);
      expect(long.status()).to.equal(400);
      expect(await long.text()).to.include('查询内容不能超过 50 个字');
    });

    it('a reporter finds other units without a way into their pages; its own code opens its page', async () => {
      const wp = await session('rep_d001');
      await wp.visit('/search?q=C0571', { shot: 'search-other' });
      expect(wp.page.url()).to.match(/\/search\?q=C0571$/);
      expect(await wp.page.locator('.search-results tbody tr[data-unit="C0571"]').count()).to.equal(1);
      expect(await wp.page.locator('.search-results a').count()).to.equal(0);
      await wp.visit('/search?q=D001');
      expect(new URL(wp.page.url()).pathname).to.equal('/units/D001');
    });
  });

  describe('compare units', () => {
    type ApiRow = { unit: string; total: number | null; grade: string | null; rank: number | null; indicators: Record<string, { score: number | null }> };
    async function apiRows(wp: WatchedPage, period: string): Promise<ApiRow[]> {
      return ((await (await wp.page.request.get(`/api/v1/results/${period}`)).json()) as { results: ApiRow[] }).results;
    }

    it('ticking 3 units on the ranking compares them side by side: total, grade, rank, each indicator with its band, 提分路径 (office)', async () => {
      const wp = await session('office');
      await wp.visit(`/ranking?period=${latest}&category=department`);
      const button = wp.page.locator('form[data-compare] button[type=submit]');
      expect(await button.isDisabled()).to.equal(true);
      for (const code of ['D001', 'D041', 'D052']) await wp.page.check(`tr[data-unit="${code}"] input[type=checkbox]`);
      expect(await wp.page.locator('[data-compare-status]').innerText()).to.equal('已选 3 个');
      await Promise.all([wp.page.waitForURL(/\/compare\?/), button.click()]);
      await wp.shot('compare', true);
      const heads = await wp.page.locator('.compare-table thead th[data-unit]').evaluateAll((ths) => ths.map((th) => th.getAttribute('data-unit')));
      // In the ranking's order (the form sends the ticked boxes in document order).
      expect(heads).to.deep.equal(['D041', 'D001', 'D052']);
      const api = await apiRows(wp, latest);
      const cells = async (cls: string) => wp.page.locator(`.compare-table tr.${cls} td`).allInnerTexts();
      const totals = await cells('compare-total');
      const ranks = await cells('compare-rank');
      const grades = await cells('compare-grade');
      heads.forEach((code, i) => {
        const a = api.find((r) => r.unit === code)!;
        expect(totals[i], code!).to.equal(a.total!.toFixed(2));
        expect(ranks[i], code!).to.match(new RegExp(`^${a.rank} / 87`));
        expect(grades[i], code!).to.include(a.grade!);
      });
      const indicatorRows = wp.page.locator('.compare-table tr.compare-indicator');
      expect(await indicatorRows.count()).to.equal(6);
      const i1 = await wp.page.locator('.compare-table tr[data-indicator="I1"] td').evaluateAll((tds) => tds.map((td) => ({ cls: td.className, text: td.textContent ?? '' })));
      i1.forEach((c, i) => {
        const score = api.find((r) => r.unit === heads[i])!.indicators.I1!.score!;
        expect(c.cls).to.match(/band-(high|mid|low)/);
        expect(c.text).to.include(score.toFixed(2));
        expect(c.text).to.match(/[●◐○]/);
      });
      const improve = await cells('compare-improve');
      expect(improve).to.have.length(3);
      for (const t of improve) expect(t).to.match(/当前 \d+\.\d\d 分|本期不评分/);
    });

    it('fewer than 2 or more than 5 units: a 400 page in Chinese; the ranking form refuses 6 ticks', async () => {
      const wp = await session('office');
      for (const list of [['D001'], ['D001', 'D002', 'D003', 'D004', 'D005', 'D006']]) {
        const r = await wp.page.request.get(`/compare?period=${latest}&${list.map((u) => `units=${u}`).join('&')}`);
        expect(r.status()).to.equal(400);
        expect(await r.text()).to.include(`请选择 2–5 个单位进行对比（当前选择了 ${list.length} 个）`);
      }
      const unknown = await wp.page.request.get(`/compare?period=${latest}&units=D001&units=NOPE`);
      expect(unknown.status()).to.equal(404);
      expect(await unknown.text()).to.include('单位「NOPE」');
      await wp.visit(`/ranking?period=${latest}&category=department`);
      for (const code of ['D001', 'D002', 'D003', 'D004', 'D005', 'D006']) await wp.page.check(`tr[data-unit="${code}"] input[type=checkbox]`);
      expect(await wp.page.locator('form[data-compare] button[type=submit]').isDisabled()).to.equal(true);
      expect(await wp.page.locator('[data-compare-status]').innerText()).to.include('最多 5 个');
    });

    it('a reporter compares published results; only its own 提分路径 is shown, other units are not linked; provisional periods are refused', async () => {
      const wp = await session('rep_d001');
      await wp.visit(`/compare?period=${latest}&units=D001&units=D002`, { shot: 'compare' });
      const improve = await wp.page.locator('.compare-table tr.compare-improve td').allInnerTexts();
      expect(improve[0]).to.match(/当前 \d+\.\d\d 分/);
      expect(improve[1]).to.equal('仅本单位可见');
      expect(await wp.page.locator('.compare-table thead a[href^="/units/D002"]').count()).to.equal(0);
      expect(await wp.page.locator('.compare-table thead a[href^="/units/D001"]').count()).to.equal(1);
      const r = await wp.page.request.get(`/compare?period=${current}&units=D001&units=D002`);
      expect(r.status()).to.equal(403);
    });
  });

  describe('a city and its counties', () => {
    it('a city\'s page lists its counties with their ranks among all counties (office; the city\'s reporter without links)', async () => {
      const admin = await session('admin');
      const units = (await (await admin.page.request.get('/api/v1/units')).json()) as { code: string; parent: string | null }[];
      const counties = units.filter((u) => u.parent === 'C0571').map((u) => u.code);
      expect(counties.length).to.be.greaterThan(2);
      const api = ((await (await admin.page.request.get(`/api/v1/results/${latest}`)).json()) as { results: { unit: string; category: string; rank: number | null; total: number | null }[] }).results;
      const rankedCounties = api.filter((r) => r.category === 'county' && r.rank !== null).length;
      for (const who of ['office', 'rep_c0571']) {
        const wp = await session(who);
        await wp.visit(`/units/C0571?period=${latest}`);
        await wp.page.locator('.children-table').screenshot({ path: path.join(ARTIFACTS, `${who}-city-counties.png`) });
        const rows = await wp.page.locator('.children-table tbody tr').evaluateAll((trs) =>
          trs.map((tr) => ({ unit: tr.getAttribute('data-unit')!, rank: tr.children[0]!.textContent!.trim(), total: tr.children[2]!.textContent!.trim(), links: tr.querySelectorAll('a').length })),
        );
        expect(rows.map((r) => r.unit).sort()).to.deep.equal([...counties].sort());
        for (const r of rows) {
          const a = api.find((x) => x.unit === r.unit)!;
          expect(r.rank, r.unit).to.equal(a.rank === null ? '—' : `${a.rank} / ${rankedCounties}`);
          expect(r.links, r.unit).to.equal(who === 'office' ? 1 : 0);
        }
        const order = rows.map((r) => (r.rank === '—' ? Infinity : Number(r.rank.split(' ')[0])));
        expect(order).to.deep.equal([...order].sort((a, b) => a - b));
      }
    });
  });

  describe('layout', () => {
    it('末位单位: each quarter\'s dot sits under that quarter\'s header (office, reviewer)', async () => {
      for (const who of ['office', 'reviewer']) {
        const wp = await session(who);
        await wp.visit('/accountability');
        const table = wp.page.locator('section[aria-labelledby="last-h"] table').first();
        await table.screenshot({ path: path.join(ARTIFACTS, `${who}-last-places.png`) });
        // Centre of the text of each quarter's header and of each cell's mark (● or —), per column.
        // No named functions inside evaluate: tsx would wrap them in a helper the page does not have.
        const centres = await table.evaluate((t) => {
          const cols = t.querySelectorAll('thead th').length;
          const cells = [...t.querySelectorAll('thead th, tbody td')].map((el) => {
            const node = [...el.childNodes].find((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim() !== '') ?? el.firstElementChild?.firstChild ?? null;
            if (!node) return null;
            const range = document.createRange();
            range.selectNodeContents(node);
            const r = range.getBoundingClientRect();
            return (r.left + r.right) / 2;
          });
          const rows: (number | null)[][] = [];
          for (let i = 0; i < cells.length; i += cols) rows.push(cells.slice(i, i + cols).slice(1, -1));
          return { heads: rows[0]!, rows: rows.slice(1) };
        });
        expect(centres.heads.length).to.be.greaterThan(1);
        expect(centres.rows.length).to.be.greaterThan(0);
        for (const row of centres.rows) {
          expect(row).to.have.length(centres.heads.length);
          row.forEach((x, i) => expect(Math.abs(x! - centres.heads[i]!), `column ${i + 1}`).to.be.below(4));
        }
      }
    });

    it('the ranking on a 390 px phone: 总分 on the first screen, the unit column sticky while the table scrolls (office, reporter)', async () => {
      for (const who of ['office', 'rep_d001']) {
        const wp = await session(who, { viewport: { width: 390, height: 844 } }, `${who}-phone`);
        await wp.visit(`/ranking?period=${latest}&category=department`, { shot: 'ranking-phone' });
        const total = await wp.page.locator('.ranking-table thead th.total-col').boundingBox();
        const firstTotal = await wp.page.locator('.ranking-table tbody tr').first().locator('td.total').boundingBox();
        expect(total!.x).to.be.greaterThan(0);
        expect(total!.x + total!.width, '总分 header inside the screen').to.be.at.most(390);
        expect(firstTotal!.x + firstTotal!.width, '总分 cell inside the screen').to.be.at.most(390);
        const wrap = wp.page.locator('.table-wrap').filter({ has: wp.page.locator('.ranking-table') });
        const wrapBox = (await wrap.boundingBox())!;
        const cell = wp.page.locator('.ranking-table tbody tr').nth(3).locator('td.unit-cell');
        const before = (await cell.boundingBox())!;
        const scrolled = await wrap.evaluate((el) => {
          el.scrollLeft = 400;
          return el.scrollLeft;
        });
        expect(scrolled, 'the table scrolls sideways').to.be.greaterThan(100);
        const after = (await cell.boundingBox())!;
        expect(Math.abs(after.x - wrapBox.x), 'unit column stuck to the left edge').to.be.below(2);
        expect(after.x).to.be.at.most(before.x);
        await wp.shot('ranking-phone-scrolled');
        // The first indicator column went under it (scrolled past), the unit column did not move off-screen.
        expect(after.x + after.width).to.be.at.most(390);
      }
    });
  });

  describe('every page above', () => {
    it('had no console errors, page errors, failed requests or CSP violations', () => {
      expect(problems).to.deep.equal([]);
    });
  });
});
