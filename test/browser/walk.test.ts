// The real app with the demo province, in Debian's Chromium: every role logs in and walks every
// page of its navigation; a reporter uploads a return through the page; an admin runs the score job
// and sees the ranking change; a reviewer moves a case; the office downloads a workbook. Any console
// error, page error, failed request or CSP violation fails the suite. Screenshots of every page go
// to test-artifacts/browser/.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Browser } from 'playwright-core';
import { demoPeriods } from '../../server/services/demo/generator.ts';
import { ARTIFACTS, CHROMIUM, closeBrowser, launchBrowser, login, slug, startDemoApp, watchedPage, type RunningApp, type WatchedPage } from './helpers.ts';

const ROLES = [
  { username: 'admin', role: 'admin' },
  { username: 'reviewer', role: 'reviewer' },
  { username: 'office', role: 'office' },
  { username: 'rep_d001', role: 'reporter', unit: 'D001' },
] as const;

describe('browser: the demo province in Chromium', function () {
  this.timeout(240_000);
  let app: RunningApp;
  let browser: Browser;
  let userDataDir: string;
  const problems: string[] = [];
  const pages: WatchedPage[] = [];
  const { published, current } = demoPeriods(new Date(), 'Asia/Shanghai');
  const latest = published.at(-1)!;

  async function open(who: string, opts: Parameters<typeof watchedPage>[3] = {}): Promise<WatchedPage> {
    const wp = await watchedPage(browser, app.baseUrl, who, opts);
    pages.push(wp);
    return wp;
  }
  /** One signed-in page per account, reused by the tests. */
  const sessions = new Map<string, WatchedPage>();
  async function session(username: string): Promise<WatchedPage> {
    let wp = sessions.get(username);
    if (!wp) {
      wp = await open(username);
      await login(wp, username);
      sessions.set(username, wp);
    }
    return wp;
  }

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk)`);
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    const t0 = Date.now();
    [app, { browser, userDataDir }] = await Promise.all([startDemoApp(), launchBrowser()]);
    if (process.env.BROWSER_TIMING) console.log(`app with demo data up in ${Date.now() - t0} ms`);
  });

  afterEach(() => {
    for (const wp of pages) problems.push(...wp.problems.splice(0));
  });

  after(async () => {
    for (const wp of pages) await wp.close().catch(() => {});
    await closeBrowser(browser, userDataDir);
    await app?.stop();
  });

  it('the demo province: 87 departments with 767 systems (11 connected, 28 standalone), 11 cities, a year published, cases', async () => {
    const wp = await session('admin');
    const get = async (p: string) => {
      const r = await wp.page.request.get(p);
      expect(r.status(), p).to.equal(200);
      return r.json();
    };
    const units = (await get('/api/v1/units')) as { code: string; category: string; parent: string | null }[];
    const by = (c: string) => units.filter((u) => u.category === c);
    expect(by('department')).to.have.length(87);
    expect(by('city')).to.have.length(11);
    const cities = new Set(by('city').map((u) => u.code));
    expect(by('county').length).to.be.greaterThan(40);
    expect(by('county').every((u) => cities.has(u.parent!))).to.equal(true);

    const flags = new Set<string>();
    let rejected = 0;
    for (const p of published) {
      const res = await get(`/api/v1/results/${p}`);
      expect(res.status, p).to.equal('final');
      for (const r of res.results as { flags: string[] }[]) for (const f of r.flags) flags.add(f);
      const returns = (await get(`/api/v1/returns?period=${p}`)) as { unit: string; status: string; values: Record<string, number> }[];
      rejected += returns.filter((r) => r.status === 'rejected').length;
      const deps = returns.filter((r) => r.unit.startsWith('D'));
      expect(deps, p).to.have.length(87);
      expect(deps.reduce((a, r) => a + r.values.systems_total!, 0), p).to.equal(767);
      expect(deps.filter((r) => r.values.networks_private! > 0 && r.values.networks_standalone === 0), p).to.have.length(11);
      expect(deps.filter((r) => r.values.networks_standalone! > 0), p).to.have.length(28);
    }
    expect([...flags]).to.include.members(['late', 'missing']);
    expect(rejected).to.be.greaterThan(0);
    expect((await get(`/api/v1/results/${current}`)).status).to.equal('provisional');
    // Trend: the province improves quarter on quarter (mean total of the departments).
    const mean = async (p: string) => {
      const rows = ((await get(`/api/v1/results/${p}`)).results as { category: string; total: number }[]).filter((r) => r.category === 'department');
      return rows.reduce((a, r) => a + r.total, 0) / rows.length;
    };
    expect(await mean(latest)).to.be.greaterThan(await mean(published[0]!));
    const cases = (await get('/api/v1/accountability')) as { rule: string; status: string }[];
    expect(new Set(cases.map((c) => c.rule))).to.deep.equal(new Set(['A1', 'A2', 'A3']));
    expect(cases.map((c) => c.status)).to.include.members(['resolved', 'overdue']);
    const runs = (await get('/api/v1/jobs/runs')) as { job: string; outcome: string }[];
    expect(runs.filter((r) => r.job === 'score' && r.outcome === 'success').length).to.be.at.least(published.length);
  });

  it('every role walks every page of its navigation without a console error', async () => {
    for (const r of ROLES) {
      const wp = await session(r.username);
      await wp.visit('/', { shot: 'home', full: true });
      const nav = await wp.page.$$eval('nav.main-nav a', (as) => as.map((a) => a.getAttribute('href')!));
      expect(nav, r.username).to.include.members(['/', '/ranking', '/accountability']);
      if (r.role === 'reporter') expect(nav).to.not.include('/progress');
      if (r.role === 'office') expect(nav).to.not.include.members(['/review', '/admin', '/returns']);
      const extra = ['/ranking?category=city', '/ranking?category=county', `/units/${r.role === 'reporter' ? r.unit : 'D052'}`];
      for (const p of [...new Set([...nav, ...extra])].filter((x) => x !== '/')) {
        await wp.visit(p, { shot: slug(p) });
        if (r.role === 'reporter') {
          // A reporter is never offered a link into another unit's pages.
          const units = await wp.page.$$eval('a[href^="/units/"]', (as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname));
          expect(units.filter((u) => u !== `/units/${r.unit}`), `${p}: links to other units`).to.deep.equal([]);
        }
      }
      expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
    }
  });

  it('总览 shows the province figures, charts with accessible fallbacks, boards and progress', async () => {
    const wp = await session('office');
    await wp.visit('/');
    const text = await wp.page.textContent('main');
    expect(text).to.include(`总览`);
    const banner = (await wp.page.textContent('.field-banner'))!.replace(/\s+/g, '');
    expect(banner).to.include('省直部门87个').and.include('运行信息系统767个').and.include('11个').and.include('28个');
    expect(await wp.page.locator('.kpi').count()).to.equal(6);
    expect(await wp.page.locator('.tag.ok').first().textContent()).to.include('正式结果');
    // Every chart: role=img, an aria-label, drawn, and its data table next to it.
    const charts = await wp.page.$$eval('canvas[data-chart]', (cs) =>
      cs.map((c) => ({
        role: c.getAttribute('role'),
        label: c.getAttribute('aria-label'),
        drawn: (c as HTMLCanvasElement).width > 0 && !(c.closest('.chart-box') as HTMLElement).hidden,
        table: !!c.closest('.panel')?.querySelector('details.chart-data table'),
      })),
    );
    expect(charts.length).to.be.at.least(3);
    for (const c of charts) {
      expect(c.role).to.equal('img');
      expect(c.label).to.be.a('string').that.is.not.empty;
      expect(c.drawn).to.equal(true);
      expect(c.table).to.equal(true);
    }
    expect(await wp.page.locator('.red-board li').count()).to.be.greaterThan(5);
    expect(await wp.page.locator('.black-board li').count()).to.be.greaterThan(5);
    expect(await wp.page.textContent('#prog-h')).to.include('报送进度');
    // Another period through the filter form (auto-submits on change).
    await Promise.all([wp.page.waitForURL(/period=/), wp.page.selectOption('select[name=period]', published[0]!)]);
    expect(await wp.page.textContent('h1')).to.include(published[0]!.slice(0, 4));
    await wp.shot('overview-earlier-period');
    expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
  });

  it('排名 sorts on the server, marks provisional / final, and the office downloads the workbook', async () => {
    const wp = await session('office');
    await wp.visit(`/ranking?period=${latest}&category=city`);
    expect(await wp.page.textContent('.status-banner')).to.include('正式结果');
    await Promise.all([wp.page.waitForURL(/sort=total/), wp.page.click('th a:has-text("总分")')]);
    const totals = await wp.page.$$eval('.ranking-table tbody td.total', (tds) => tds.map((t) => Number(t.textContent!.replace(/,/g, ''))));
    expect(totals.length).to.equal(11);
    expect([...totals].sort((a, b) => b - a)).to.deep.equal(totals);
    await wp.shot('ranking-city-by-total');
    await wp.visit(`/ranking?period=${current}`);
    expect(await wp.page.textContent('.status-banner')).to.include('暂定结果');

    // The workbook: a fetch with visible progress, saved under its Chinese name.
    await wp.visit(`/ranking?period=${latest}`);
    const [download] = await Promise.all([wp.page.waitForEvent('download'), wp.page.click('a[data-download]')]);
    expect(download.suggestedFilename()).to.equal(`${latest.slice(0, 4)}年第${latest.slice(5)}季度政务数据共享考核表.xlsx`);
    const file = path.join(ARTIFACTS, `ranking-${latest}.xlsx`);
    await download.saveAs(file);
    await wp.page.waitForSelector('.download-status:has-text("已下载")');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const first = wb.worksheets[0]!;
    const cells: string[] = [];
    first.eachRow((row) => row.eachCell((c) => cells.push(String(c.value ?? ''))));
    expect(cells.join('|')).to.include('省发展和改革委员会').and.include('云州市');
    expect(wb.worksheets.length).to.be.at.least(3);
    expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
  });

  it('a reporter sees its own unit and the published ranking only', async () => {
    const wp = await session('rep_d001');
    await wp.visit('/');
    expect(await wp.page.textContent('.own-unit')).to.include('省发展和改革委员会');
    await wp.visit('/ranking');
    expect(await wp.page.locator('tr.own-row').count()).to.equal(1);
    // Other units are names in the ranking, not links.
    expect(await wp.page.locator('.ranking-table a[href^="/units/D002"]').count()).to.equal(0);
    await wp.visit('/units/D002', { status: 403, shot: 'other-unit-403' });
    expect(await wp.page.textContent('main')).to.include('无权访问');
    await wp.visit('/progress', { status: 403 });
    await wp.visit(`/ranking?period=${current}`, { status: 403 });
    await wp.visit('/accountability');
    const units = await wp.page.$$eval('tr.case-row', (rows) => rows.map((r) => r.querySelector('td a')?.getAttribute('href')));
    expect(units.every((h) => h === '/units/D001')).to.equal(true);
    expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
  });

  it('a reporter uploads a return through the page; after the score job the ranking changes', async () => {
    const admin = await session('admin');
    const rowOf = async () => {
      await admin.visit(`/ranking?period=${current}&category=department`);
      return admin.page.$eval('tr[data-unit="D001"]', (tr) => ({
        rank: tr.querySelector('td.rank')!.textContent!.trim(),
        total: tr.querySelector('td.total')!.textContent!.trim(),
      }));
    };
    const before = await rowOf();

    const rep = await session('rep_d001');
    await rep.visit(`/returns/${current}/D001`, { shot: 'return-form' });
    // Fill the unit's own template: every system on the extranet and the cloud, everything shared.
    const tpl = await rep.page.request.get(`/api/v1/returns/template?period=${current}&unit=D001`);
    expect(tpl.status()).to.equal(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await tpl.body()) as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    let headerRow = 0;
    const col: Record<string, number> = {};
    ws.eachRow((row, n) => {
      if (headerRow) return;
      row.eachCell((c, i) => {
        if (String(c.value).trim() === '单位代码') headerRow = n;
        col[String(c.value).trim()] = i;
      });
    });
    expect(headerRow).to.be.greaterThan(0);
    const values: Record<string, number> = {
      信息系统总数: 40, 已接入电子政务外网的系统数: 40, 已部署政务云的系统数: 40, 业务专网总数: 2, 仍独立运行的业务专网数: 0,
      数据资源目录编目数: 300, 已发布共享的目录数: 300, 收到的共享申请数: 120, 按时响应的共享申请数: 120, 权责清单事项数: 500, 有数据支撑的事项数: 500,
    };
    let dataRow = headerRow + 1;
    ws.eachRow((row, n) => {
      if (n > headerRow && String(row.getCell(col['单位代码']!).value) === 'D001') dataRow = n;
    });
    ws.getCell(dataRow, col['单位代码']!).value = 'D001';
    for (const [label, v] of Object.entries(values)) {
      expect(col[label], label).to.be.a('number');
      ws.getCell(dataRow, col[label]!).value = v;
    }
    const upload = path.join(ARTIFACTS, 'reporter-upload.xlsx');
    await wb.xlsx.writeFile(upload);
    await rep.page.setInputFiles('form[data-upload] input[type=file]', upload);
    await Promise.all([rep.page.waitForURL(/\/returns\/uploads\//), rep.page.click('form[data-upload] button[type=submit]')]);
    await rep.shot('upload-preview');
    await Promise.all([rep.page.waitForURL(new RegExp(`/returns/${current}/D001`)), rep.page.click('button:has-text("确认提交")')]);
    expect(await rep.page.textContent('.flash')).to.include('已提交');
    await rep.shot('upload-confirmed');

    // The admin runs the score job from the jobs page (the page shows the run while it works).
    await admin.visit('/jobs');
    const form = admin.page.locator('form[action="/jobs/score/run"]');
    await form.locator('select[name=period]').selectOption(current); // the opened periods, with their status
    await Promise.all([admin.page.waitForURL(/\/jobs$/), form.locator('button[type=submit]').click()]);
    expect(await admin.page.textContent('.flash')).to.include('已运行完成');
    await admin.shot('jobs-after-score');
    const after = await rowOf();
    await admin.shot('ranking-after-upload');
    expect(after.total).to.equal('100.00');
    expect(after.rank).to.equal('1');
    expect(after).to.not.deep.equal(before);
    for (const wp of [admin, rep]) expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
  });

  it('单位详情 explains the score, shows revisions and cases', async () => {
    const wp = await session('reviewer');
    await wp.visit(`/units/D052?period=${latest}`, { shot: 'unit-D052', full: true });
    const why = await wp.page.textContent('#why-h + p');
    expect(why).to.be.a('string').that.is.not.empty;
    expect(await wp.page.locator('.explain-list li').count()).to.equal(6);
    expect(await wp.page.locator('.indicator-bars li').count()).to.equal(6);
    expect(await wp.page.textContent('.revision-table')).to.include('第 1 版');
    expect(await wp.page.locator('#cases-h + .table-wrap tbody tr').count()).to.be.greaterThan(0);
    // The unit's own sheet downloads too.
    const [download] = await Promise.all([wp.page.waitForEvent('download'), wp.page.click('a[data-download]')]);
    expect(download.suggestedFilename()).to.include('省戒毒管理局').and.match(/\.xlsx$/);
    expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
  });

  it('a reviewer moves a case with a comment; the office cannot', async () => {
    const wp = await session('reviewer');
    await wp.visit('/accountability?status=active');
    const row = wp.page.locator('tr.case-row:has(details.case-update)').first();
    const id = await row.getAttribute('data-case');
    await row.locator('details.case-update summary').click();
    await row.locator('select[name=status]').selectOption('resolved');
    await row.locator('textarea[name=comment]').fill('浏览器测试：整改材料已复核，予以办结');
    await Promise.all([wp.page.waitForURL(/\/accountability/), row.locator('button[type=submit]').click()]);
    expect(await wp.page.textContent('.flash')).to.include('已办结');
    await wp.visit('/accountability?status=resolved', { shot: 'accountability-resolved' });
    expect(await wp.page.locator(`tr[data-case="${id}"]`).count()).to.equal(1);
    expect(await wp.page.textContent(`tr[data-case="${id}"]`)).to.include('浏览器测试');

    const office = await session('office');
    await office.visit('/accountability');
    expect(await office.page.locator('details.case-update').count()).to.equal(0);
    for (const p of [wp, office]) expect(p.problems, p.problems.join('\n')).to.deep.equal([]);
  });

  it('works without JavaScript: tables instead of charts, sorting by links; prints without navigation', async () => {
    const wp = await open('office-nojs', { javaScriptEnabled: false });
    await login(wp, 'office');
    await wp.visit('/', { shot: 'home-nojs', full: true });
    expect(await wp.page.locator('.chart-box:visible').count()).to.equal(0);
    expect(await wp.page.locator('details.chart-data[open] table:visible').count()).to.be.at.least(3);
    await wp.visit('/ranking?category=department&sort=name&dir=asc', { shot: 'ranking-nojs' });
    expect(await wp.page.locator('.ranking-table tbody tr').count()).to.equal(87);
    await wp.page.emulateMedia({ media: 'print' });
    expect(await wp.page.locator('.site-header').isVisible()).to.equal(false);
    await wp.page.emulateMedia({ media: 'screen' });
    // A projector: 1920 wide, larger type.
    await wp.page.setViewportSize({ width: 1920, height: 1080 });
    await wp.visit('/', { shot: 'home-projector' });
    expect(wp.problems, wp.problems.join('\n')).to.deep.equal([]);
  });

  it('no console error, page error, failed request or CSP violation anywhere', () => {
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
