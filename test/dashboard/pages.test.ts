// The read-side pages and the workbook downloads over real HTTP against the real app: a small
// province (4 departments, 3 cities), returns through the API, a period past its deadline published,
// a case moved through the page's form.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { ReturnValues } from '../../server/domain/fields.ts';
import { contentDisposition } from '../../server/routes/api/sheets.ts';
import { boards, figuresOf, gradeDistribution, overview, progressSummary } from '../../server/pages/overview.ts';
import { periodReturns } from '../../server/services/returns.ts';
import { listUnits } from '../../server/services/units.ts';
import { progress } from '../../server/pages/progress.ts';
import { collectingPeriod } from '../../server/pages/common.ts';
import { clock } from '../../server/clock.ts';
import { sortRows } from '../../server/pages/ranking.ts';
import { startTestApp, type ApiClient, type TestApp, type TestUser, type WebClient } from '../helpers/app.ts';

const P = '2026Q2'; // deadline moved into the past, published
const OPEN = '2026Q4'; // provisional

function values(r: number, o: Partial<ReturnValues> = {}): ReturnValues {
  const n = (x: number) => Math.round(x);
  return {
    systems_total: 20,
    systems_extranet: n(20 * r),
    systems_cloud: n(20 * r),
    networks_private: 4,
    networks_standalone: 4 - n(4 * r),
    catalogue_items: 100,
    catalogue_shared: n(100 * r),
    requests_received: 50,
    requests_on_time: n(50 * r),
    duties_total: 200,
    duties_with_data: n(200 * r),
    ...o,
  };
}

/** Text of the page without tags (for simple assertions). */
const text = (html: string) => html.replace(/<script[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/&nbsp;|\s+/g, ' ');

describe('dashboard pages and workbooks (real app)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: ApiClient;
  let office: TestUser;
  let reviewer: TestUser;
  let reporter: TestUser;
  let officeWeb: WebClient;
  let reviewerWeb: WebClient;
  let reporterWeb: WebClient;

  before(async () => {
    t = await startTestApp();
    admin = t.api(await t.tokenFor('admin'));
    const units = [
      ['D001', '省甲厅', 'department'],
      ['D002', '省乙厅', 'department'],
      ['D003', '省丙局', 'department'],
      ['D004', '=HYPERLINK("http://x","省丁办")', 'department'],
      ['C0571', '甲市', 'city'],
      ['C0572', '乙市', 'city'],
      ['C0573', '丙市', 'city'],
    ] as const;
    for (const [code, name, category] of units) {
      const r = await admin.put(`/api/v1/units/${code}`, { name, category });
      expect(r.status, r.text).to.be.oneOf([200, 201]);
    }
    const ratios: Record<string, number> = { D001: 1, D002: 0.85, D003: 0.3, D004: 0.7, C0571: 0.9, C0572: 0.6 }; // C0573: no return (missing)
    for (const [code, r] of Object.entries(ratios)) {
      for (const period of [P, OPEN]) {
        const put = await admin.put(`/api/v1/returns/${period}/${code}`, { values: values(r) });
        expect(put.status, put.text).to.equal(200);
      }
    }
    // A second revision for D002 (history shows both), then move P's deadline into the past and publish.
    expect((await admin.put(`/api/v1/returns/${P}/D002`, { values: values(0.9) })).status).to.equal(200);
    expect((await admin.put(`/api/v1/periods/${P}`, { deadline: '2026-01-01T00:00:00+08:00' })).status).to.be.oneOf([200, 201]);
    const pub = await admin.post(`/api/v1/results/${P}/publish`);
    expect(pub.status, pub.text).to.equal(200);

    office = await t.userFor('office');
    reviewer = await t.userFor('reviewer');
    reporter = await t.userFor('reporter', 'D001');
    officeWeb = t.web();
    await officeWeb.login(office.username, office.password);
    reviewerWeb = t.web();
    await reviewerWeb.login(reviewer.username, reviewer.password);
    reporterWeb = t.web();
    await reporterWeb.login(reporter.username, reporter.password);
  });
  after(async () => {
    await t?.stop();
  });

  it('总览: figures from the returns, boards, grades, progress, charts with fallbacks; no inline script', async () => {
    const r = await officeWeb.get('/');
    expect(r.status).to.equal(200);
    const s = text(r.text);
    expect(s).to.include('总览').and.include('2026年第二季度').and.include('正式结果');
    // 6 units reported in P: 120 systems, extranet rate over all of them.
    const api = (await admin.get(`/api/v1/returns?period=${P}`)).body as { values: ReturnValues }[];
    const sys = api.reduce((a, x) => a + x.values.systems_total, 0);
    const ext = api.reduce((a, x) => a + x.values.systems_extranet, 0);
    expect(s).to.include(`${sys} 个`);
    expect(s).to.include(`${((ext / sys) * 100).toFixed(1)}%`);
    expect(s).to.include('红榜').and.include('黑榜').and.include('报送进度');
    // Every canvas: role=img, aria-label, and a data table in its panel.
    const canvases = r.text.match(/<canvas[^>]*>/g) ?? [];
    expect(canvases.length).to.be.at.least(3);
    for (const c of canvases) {
      expect(c).to.include('role="img"');
      expect(c).to.match(/aria-label="[^"]+"/);
      expect(c).to.match(/data-chart="\{/);
    }
    expect((r.text.match(/<details class="chart-data" open>/g) ?? []).length).to.equal(canvases.length);
    expect(r.text).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(r.text).to.include('/vendor/chart.js/chart.umd.min.js');
    // Chart.js itself is served locally.
    const js = await fetch(`${t.baseUrl}/vendor/chart.js/chart.umd.min.js`);
    expect(js.status).to.equal(200);
  });

  it('排名: server-side sort by any column, provisional/final mark, rank-change arrows', async () => {
    const byTotal = await officeWeb.get(`/ranking?period=${P}&category=department&sort=total&dir=asc`);
    expect(byTotal.status).to.equal(200);
    const order = [...byTotal.text.matchAll(/data-unit="(\w+)"/g)].map((m) => m[1]);
    const results = (await admin.get(`/api/v1/results/${P}`)).body.results as { unit: string; category: string; total: number }[];
    const expected = results.filter((x) => x.category === 'department').sort((a, b) => a.total - b.total).map((x) => x.unit);
    expect(order).to.deep.equal(expected);
    expect(byTotal.text).to.include('aria-sort="ascending"');
    expect(text(byTotal.text)).to.include('正式结果');
    const byI1 = await officeWeb.get(`/ranking?period=${P}&category=department&sort=I1`);
    expect(byI1.text).to.include('aria-sort="descending"');
    const prov = await officeWeb.get(`/ranking?period=${OPEN}&category=city`);
    expect(text(prov.text)).to.include('暂定结果');
    expect([...prov.text.matchAll(/data-unit="(\w+)"/g)].map((m) => m[1])).to.have.members(['C0571', 'C0572', 'C0573']);
    // Unknown sort keys fall back to rank; a bad period is a clear 400 page.
    expect((await officeWeb.get(`/ranking?period=${P}&sort=__proto__`)).status).to.equal(200);
    const bad = await officeWeb.get('/ranking?period=2026Q9');
    expect(bad.status).to.equal(400);
    expect(text(bad.text)).to.include('期次「2026Q9」无效');
  });

  it('排名 tells the whole truth: the 优秀-quota mark and legend, 待报 rows without values or 扣分, score bands with glyphs', async () => {
    const results = (await admin.get(`/api/v1/results/${P}`)).body.results as { unit: string; category: string; total: number; grade: string }[];
    const capped = results.filter((x) => x.category === 'department' && x.grade === '良好' && x.total >= 90);
    expect(capped.length, 'a department capped by the quota (4 ranked → 1 优秀)').to.be.greaterThan(0);
    const r = await officeWeb.get(`/ranking?period=${P}&category=department`);
    const rowOf = (html: string, unit: string) => new RegExp(`<tr[^>]*data-unit="${unit}">[\\s\\S]*?</tr>`).exec(html)![0];
    for (const c of capped) expect(rowOf(r.text, c.unit)).to.include('class="capped-mark"').and.include('受 30% 优秀名额限制评为良好');
    const uncapped = results.find((x) => x.category === 'department' && x.grade !== '良好')!;
    expect(rowOf(r.text, uncapped.unit)).to.not.include('capped-mark');
    expect(text(r.text)).to.include('但本类别优秀名额（排名单位数 × 30%，向下取整）已满，评为良好');
    // Bands: full marks are 较好 (●), with the words for screen readers.
    expect(rowOf(r.text, 'D001')).to.include('band-high').and.include('●').and.include('较好（得分率 ≥ 90%）');
    expect(text(r.text)).to.include('偏弱（&lt; 60%）');
    // 2026Q4 (before its deadline): C0573 has no return → 待报, no indicator values, no 扣分.
    const prov = await officeWeb.get(`/ranking?period=${OPEN}&category=city`);
    const pending = text(rowOf(prov.text, 'C0573'));
    expect(pending).to.include('待报').and.not.include('不适用');
    expect(pending.match(/—/g)!.length).to.be.greaterThanOrEqual(9); // total, 6 indicators, base, 扣分 (rank/change too)
    expect(rowOf(prov.text, 'C0573')).to.not.match(/<td class="num">0<\/td>/);
  });

  it('a reporter: own unit highlighted in the published ranking; not the provisional one, not other units', async () => {
    const r = await reporterWeb.get(`/ranking?period=${P}`);
    expect(r.status).to.equal(200);
    expect(r.text).to.match(/<tr class="own-row[^"]*" data-unit="D001">/);
    expect(r.text).to.not.include('href="/units/D002');
    expect((await reporterWeb.get(`/ranking?period=${OPEN}`)).status).to.equal(403);
    expect((await reporterWeb.get('/units/D002')).status).to.equal(403);
    expect((await reporterWeb.get('/progress')).status).to.equal(403);
    const home = await reporterWeb.get('/');
    expect(home.status).to.equal(200);
    expect(text(home.text)).to.include('本单位：省甲厅');
    expect(text(home.text)).to.include('提分路径').and.include('已是最高等级（优秀）');
    expect(home.text).to.not.include('field-banner');
    const own = await reporterWeb.get('/units/D001');
    expect(own.status).to.equal(200);
    expect(text(own.text)).to.include('为什么是这个分数');
  });

  it('单位详情: indicators against targets, explanation, every revision with who made it', async () => {
    const r = await officeWeb.get(`/units/D002?period=${P}`);
    expect(r.status).to.equal(200);
    const s = text(r.text);
    expect(s).to.include('指标与目标值').and.include('为什么是这个分数').and.include('第 2 版').and.include('第 1 版');
    const revs = (await admin.get(`/api/v1/returns/${P}/D002/revisions`)).body as { submittedBy: string }[];
    expect(s).to.include(revs[0]!.submittedBy);
    expect(r.text).to.include('class="num changed"');
    const expl = (await admin.get(`/api/v1/results/${P}/units/D002/explain`)).body as { summary: string };
    expect(s).to.include(expl.summary);
    expect((await officeWeb.get('/units/NOPE')).status).to.equal(404);
  });

  it('单位详情: the explanation in words — no clamp( and no fraction outside the 精确计算 toggle', async () => {
    const r = await officeWeb.get(`/units/C0572?period=${P}`);
    expect(r.status).to.equal(200);
    const m = /<section class="panel explain"[\s\S]*?<\/section>/.exec(r.text);
    expect(m, 'explanation section').to.not.equal(null);
    const section = m![0];
    const details = /<details class="exact">[\s\S]*?<\/details>/.exec(section);
    expect(details, '精确计算 toggle').to.not.equal(null);
    expect(details![0]).to.include('<summary>精确计算</summary>').and.include('clamp(');
    const outside = text(r.text.replace(details![0], ''));
    expect(outside).to.not.include('clamp(').and.not.include('÷');
    // The page shows ranks as "2 / 3" elsewhere; the explanation itself has no fraction outside the toggle.
    expect(text(section.replace(details![0], ''))).to.not.match(/\d\s*\/\s*\d/);
    const words = text(section).replace(/&#x3D;/g, '=');
    expect(words).to.include('已接入电子政务外网的系统数 12 个 / 信息系统总数 20 个 = 60.00%，得 15.00 分（满分 25 分）');
    expect(words).to.include('逾期报送，扣 2.00 分。').and.include('总分 = 基础分 58.00 − 扣分 2.00 = 56.00 分');
    expect(r.text).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it('单位详情: 提分路径 — the smallest change per field to the next grade, exactly as the scheme scores it', async () => {
    // C0572 at ratio 0.6, late (−2): 15 + 12 + 10 + 9 + 6 + 6 − 2 = 56 (不合格); 合格 needs +4.
    const r = await officeWeb.get(`/units/C0572?period=${P}`);
    expect(r.status).to.equal(200);
    const s = text(r.text);
    expect(s).to.include('提分路径').and.include('当前 56.00 分（不合格），目标：合格');
    // I1 25 × k/20 ≥ 4 ⇔ k ≥ 3.2 → 4 (+5); I2 20 × k/100 ≥ 4 → 20; I3 20 × k/4 ≥ 4 → 1 (+5); I4 15 × k/50 ≥ 4 → 14 (+4.2);
    // I6 10 × k/200 ≥ 4 → 80; I5 10 × k/20 ≥ 4 → 8.
    for (const line of [
      '再接入 4 个系统到电子政务外网（+5.00 分）→ 61.00 分，可达合格',
      '再发布共享 20 个数据资源目录（+4.00 分）→ 60.00 分，可达合格',
      '再整合（关停）1 个独立运行的业务专网（+5.00 分）→ 61.00 分，可达合格',
      '再按时响应 14 个共享申请（+4.20 分）→ 60.20 分，可达合格',
      '再为 80 个权责清单事项提供数据支撑（+4.00 分）→ 60.00 分，可达合格',
      '再部署 8 个系统到政务云（+4.00 分）→ 60.00 分，可达合格',
    ])
      expect(s).to.include(line);
    // The top unit has no way up; a reporter sees the way up of its own unit.
    expect(text((await officeWeb.get(`/units/D001?period=${P}`)).text)).to.include('提分路径').and.include('已是最高等级（优秀）');
    expect(text((await reporterWeb.get(`/units/D001?period=${P}`)).text)).to.include('已是最高等级（优秀）');
    const cityReporter = await t.userFor('reporter', 'C0572');
    const cityWeb = t.web();
    await cityWeb.login(cityReporter.username, cityReporter.password);
    const home = text((await cityWeb.get(`/?period=${P}`)).text);
    expect(home).to.include('提分路径').and.include('再整合（关停）1 个独立运行的业务专网（+5.00 分）→ 61.00 分，可达合格');
  });

  it('填报进度: submitted, missing, per category', async () => {
    const r = await officeWeb.get(`/progress?period=${P}`);
    expect(r.status).to.equal(200);
    const s = text(r.text);
    expect(s).to.include('6 / 7 个单位已报送');
    expect(s).to.match(/丙市 C0573 设区市 缺报/);
    const only = await officeWeb.get(`/progress?period=${P}&state=missing`);
    expect([...only.text.matchAll(/href="\/units\/(\w+)\?period/g)].map((m) => m[1])).to.deep.equal(['C0573']);
  });

  it('问责: cases of the published period; a reviewer moves one with a comment through the form', async () => {
    const cases = (await admin.get(`/api/v1/accountability?period=${P}`)).body as { unit: string; rule: string; status: string }[];
    expect(cases.map((c) => `${c.unit}:${c.rule}`)).to.include.members(['D003:A1', 'C0573:A2']);
    const page = await reviewerWeb.get('/accountability');
    expect(page.status).to.equal(200);
    const m = /data-case="([0-9a-f]{24})"[\s\S]*?action="\/accountability\/cases\/\1\/status"/.exec(page.text);
    expect(m, 'a case with an update form').to.not.equal(null);
    const id = m![1]!;
    // No comment: a clear message, nothing changed.
    const noComment = await reviewerWeb.postForm(`/accountability/cases/${id}/status`, { status: 'rectifying', comment: '' });
    expect(noComment.status).to.equal(303);
    expect(text((await reviewerWeb.get(noComment.location!)).text)).to.include('必须填写说明');
    const ok = await reviewerWeb.postForm(`/accountability/cases/${id}/status`, { status: 'rectifying', comment: '已部署整改', returnTo: '/accountability?status=all' });
    expect(ok.status).to.equal(303);
    expect(ok.location).to.equal('/accountability?status=all');
    expect(text((await reviewerWeb.get(ok.location!)).text)).to.include('整改中');
    const after = (await admin.get(`/api/v1/accountability/cases/${id}`)).body as { status: string; history: { comment: string }[] };
    expect(after.status).to.equal('rectifying');
    expect(after.history.at(-1)!.comment).to.equal('已部署整改');
    // Office: read-only (no forms, POST refused); a foreign redirect target is ignored.
    const officePage = await officeWeb.get('/accountability');
    expect(officePage.text).to.not.include('case-update');
    expect((await officeWeb.postForm(`/accountability/cases/${id}/status`, { status: 'resolved', comment: 'x' })).status).to.equal(403);
    const evil = await reviewerWeb.postForm(`/accountability/cases/${id}/status`, { status: 'resolved', comment: '办结', returnTo: '//evil.example/' });
    expect(evil.location).to.equal('/accountability');
    // Merit eligibility: the 不合格 unit is not eligible.
    expect(text(officePage.text)).to.match(/省丙局[^。]*?不符合/);
  });

  it('workbooks: streamed xlsx with Chinese filenames (RFC 5987), the same figures as the API, by role', async () => {
    const officeApi = t.api(office.token);
    const r = await officeApi.get(`/api/v1/results/${P}/sheet.xlsx`);
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.equal('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const cd = r.headers.get('content-disposition')!;
    expect(cd).to.match(/^attachment; filename="assessment-2026Q2\.xlsx"; filename\*=UTF-8''/);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(cd)![1]!)).to.equal('2026年第2季度政务数据共享考核表.xlsx');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.buffer as unknown as ArrayBuffer);
    const ranking = wb.worksheets[0]!;
    const results = (await admin.get(`/api/v1/results/${P}`)).body.results as { unit: string; total: number }[];
    const cells = new Map<string, unknown[]>();
    ranking.eachRow((row) => {
      const vals = (row.values as unknown[]).slice(1);
      const code = vals.find((v) => typeof v === 'string' && results.some((x) => x.unit === v));
      if (typeof code === 'string') cells.set(code, vals);
    });
    expect([...cells.keys()]).to.have.members(results.map((x) => x.unit));
    for (const x of results) expect(cells.get(x.unit), x.unit).to.include(x.total);
    // A unit name that looks like a formula stays text.
    let formula = false;
    for (const ws of wb.worksheets) ws.eachRow((row) => row.eachCell((c) => (formula ||= c.type === ExcelJS.ValueType.Formula)));
    expect(formula).to.equal(false);
    expect(wb.worksheets.length).to.be.at.least(3);

    const unit = await t.api(reporter.token).get(`/api/v1/results/${P}/units/D001/sheet.xlsx`);
    expect(unit.status).to.equal(200);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(unit.headers.get('content-disposition')!)![1]!)).to.equal('2026Q2-省甲厅-考核表.xlsx');
    const uwb = new ExcelJS.Workbook();
    await uwb.xlsx.load(unit.buffer as unknown as ArrayBuffer);
    const unitText: string[] = [];
    uwb.worksheets[0]!.eachRow((row) => row.eachCell((c) => unitText.push(String(c.text))));
    expect(unitText.join('|')).to.include('省甲厅').and.include('单位负责人');

    expect((await t.api(reporter.token).get(`/api/v1/results/${P}/units/D002/sheet.xlsx`)).status).to.equal(403);
    expect((await t.api(reporter.token).get(`/api/v1/results/${P}/sheet.xlsx`)).status).to.equal(403);
    const year = await officeApi.get('/api/v1/years/2026/sheet.xlsx');
    expect(year.status).to.equal(200);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(year.headers.get('content-disposition')!)![1]!)).to.equal('2026年度政务数据共享考核表.xlsx');
    const missing = await officeApi.get(`/api/v1/results/${P}/units/ZZZ/sheet.xlsx`);
    expect(missing.status).to.equal(404);
    expect(missing.body.error.code).to.equal('unit_not_found');
    const badPeriod = await officeApi.get('/api/v1/results/2026-2/sheet.xlsx');
    expect(badPeriod.status).to.equal(400);
    expect(badPeriod.body.error.code).to.equal('invalid_period');
    expect((await officeApi.get('/api/v1/years/26/sheet.xlsx')).body.error.code).to.equal('invalid_year');
    // Through the browser session (the page's download link) too.
    expect((await officeWeb.api().get(`/api/v1/results/${P}/sheet.xlsx`)).status).to.equal(200);
  });

  it('总览, many at once: office and reviewers see the same figures, a reporter its own view, and every answer reflects the writes made before it', async () => {
    const charts = (html: string) => html.match(/<canvas[^>]*>/g) ?? [];
    const burst = await Promise.all([officeWeb.get(`/?period=${P}`), reviewerWeb.get(`/?period=${P}`), reporterWeb.get(`/?period=${P}`), officeWeb.get(`/?period=${P}&scope=city`)]);
    for (const r of burst) expect(r.status).to.equal(200);
    expect(charts(burst[1]!.text)).to.deep.equal(charts(burst[0]!.text));
    expect(charts(burst[0]!.text).length).to.be.at.least(3);
    expect(text(burst[2]!.text)).to.include('本单位');
    expect(text(burst[3]!.text)).to.include('参评单位').and.include('/ 3 个');
    expect(text(burst[0]!.text)).to.include('/ 7 个');
    // C0573 reports in OPEN while other 总览 requests are under way: the next answer counts it.
    const reported = async () => /已报送可用报表 (\d+) 个/.exec(text((await officeWeb.get(`/?period=${OPEN}`)).text))?.[1];
    expect(await reported()).to.equal('6');
    const during = Promise.all([reviewerWeb.get(`/?period=${OPEN}`), officeWeb.get(`/?period=${OPEN}`)]);
    const put = await admin.put(`/api/v1/returns/${OPEN}/C0573`, { values: values(0.5) });
    expect(put.status, put.text).to.equal(200);
    expect(await reported()).to.equal('7');
    for (const r of await during) expect(r.status).to.equal(200);
  });

  it('填报进度 summary (总览 and the 填报进度 page): approved, rejected and late counted as the period’s latest returns say', async () => {
    const reviewerApi = t.api(reviewer.token);
    expect((await reviewerApi.post(`/api/v1/returns/${OPEN}/D001/review`, { decision: 'approve' })).status).to.equal(200);
    expect((await reviewerApi.post(`/api/v1/returns/${OPEN}/D002/review`, { decision: 'reject', reason: '与台账不符' })).status).to.equal(200);
    expect((await reviewerApi.post(`/api/v1/returns/${OPEN}/D003/review`, { decision: 'approve' })).status).to.equal(200);
    expect((await admin.put(`/api/v1/returns/${OPEN}/D003`, { values: values(0.4) })).status).to.equal(200); // a newer revision: no longer approved
    expect((await admin.put(`/api/v1/units/C0572`, { name: '乙市', category: 'city', active: false })).status).to.be.oneOf([200, 201]);
    for (const period of [P, OPEN]) {
      // The whole-period read, unit by active unit, as the page's rows are made.
      const returns = await periodReturns(period);
      const latest = (await listUnits({ activeOnly: true })).flatMap((u) => (returns.has(u.code) ? [returns.get(u.code)!.latest] : []));
      const s = await progressSummary(period);
      expect({ submitted: s.submitted, approved: s.approved, rejected: s.rejected, late: s.late }, period).to.deep.equal({
        submitted: latest.length,
        approved: latest.filter((l) => l.status === 'approved').length,
        rejected: latest.filter((l) => l.status === 'rejected').length,
        late: latest.filter((l) => l.late).length,
      });
      if (period === OPEN) expect(s).to.include({ submitted: 6, approved: 1, rejected: 1 });
      // 总览 of the period being collected counts its progress from the same read as its values.
      clock.set(() => new Date('2027-01-05T02:00:00Z'));
      try {
        expect(await collectingPeriod()).to.equal(OPEN);
        expect((await overview({ username: 'office', role: 'office' }, OPEN)).progress, '总览 of the collecting period').to.deep.equal(await progressSummary(OPEN));
      } finally {
        clock.set(null);
      }
      // The 填报进度 page counts its summary from the rows it reads, 总览 while it reads the collecting
      // period's values (when it shows that period; otherwise by itself): the same figures.
      expect((await progress({ username: 'office', role: 'office' }, { period })).summary, period).to.deep.equal(s);
      const collecting = (await collectingPeriod())!;
      expect((await overview({ username: 'office', role: 'office' }, period)).progress, `总览 ${period}`).to.deep.equal(await progressSummary(collecting));
    }
  });

  it('Content-Disposition: ASCII fallback and RFC 5987 encoding of awkward names', () => {
    const cd = contentDisposition('a"b;c.xlsx', `单位(一)'s *"考核"/表.xlsx`);
    expect(cd).to.match(/^attachment; filename="a_b_c\.xlsx"; filename\*=UTF-8''[A-Za-z0-9%._~-]+$/);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(cd)![1]!)).to.equal(`单位(一)'s _考核_表.xlsx`);
  });
});

describe('dashboard read models (pure parts)', () => {
  const row = (unit: string, category: 'department' | 'city', total: number | null, rank: number | null, grade: '优秀' | '良好' | '合格' | '不合格' | null = null) => ({
    unit,
    name: unit,
    category,
    indicators: { I1: { value: 0.5, score: total === null ? null : total / 4, applicable: true } },
    base: total,
    deductions: 0,
    total,
    grade,
    rank,
    rankChange: null,
    flags: [],
    revision: 1,
  });

  it('sorts by a key in either direction, absent values last, ties by rank', () => {
    const rows = [row('A', 'department', 80, 2), row('B', 'department', null, null), row('C', 'department', 90, 1), row('D', 'department', 80, 2)];
    expect(sortRows(rows, 'total', 'desc').map((r) => r.unit)).to.deep.equal(['C', 'A', 'D', 'B']);
    expect(sortRows(rows, 'total', 'asc').map((r) => r.unit)).to.deep.equal(['A', 'D', 'C', 'B']);
    expect(sortRows(rows, 'I1', 'desc').map((r) => r.unit)).to.deep.equal(['C', 'A', 'D', 'B']);
    expect(sortRows(rows, 'rank', 'asc').map((r) => r.unit)).to.deep.equal(['C', 'A', 'D', 'B']);
  });

  it('boards take the top and bottom of each category, never overlapping', () => {
    const rows = [row('A', 'city', 95, 1), row('B', 'city', 80, 2), row('C', 'city', 60, 3), row('D', 'department', 70, 1)];
    const b = boards(rows);
    expect(b.map((x) => x.category)).to.deep.equal(['city']);
    expect(b[0]!.top.map((e) => e.unit)).to.deep.equal(['A']);
    expect(b[0]!.bottom.map((e) => e.unit)).to.deep.equal(['C']);
  });

  it('grade distribution counts per category, unrated apart', () => {
    const d = gradeDistribution([row('A', 'city', 95, 1, '优秀'), row('B', 'city', null, null), row('C', 'department', 50, 1, '不合格')]);
    expect(d.find((x) => x.category === 'city')).to.include({ unrated: 1, ranked: 1 });
    expect(d.find((x) => x.category === 'department')!.counts['不合格']).to.equal(1);
  });

  it('province figures: ratios of sums, connected vs standalone networks', () => {
    const u = (code: string) => ({ code, name: code, category: 'department' as const, parent: null, active: true });
    const f = figuresOf([u('A'), u('B'), u('C')], new Map([
      ['A', values(1)],
      ['B', values(0.5, { networks_private: 0, networks_standalone: 0 })],
    ]));
    expect(f).to.include({ units: 3, reported: 2, systems: 40, systemsExtranet: 30, networkedConnected: 1, networkedStandalone: 0, standaloneLeft: 0 });
    expect(f.extranetRate).to.equal(0.75);
  });
});
