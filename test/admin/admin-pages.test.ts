// Admin pages in words (issue 17): the jobs page says schedules, next runs and counts in Chinese (raw
// cron, job keys and instance ids only under 技术信息); periods show their real status (填报中 / 已截止 /
// 已发布 / 已关闭) on every admin page that lists them.
import { expect } from 'chai';
import type { TestApp, TestUser, WebClient } from '../helpers/app.ts';
import { harness } from '../intake/helpers.ts';
import { at, putUnit, submit, ratios } from '../results/fixtures.ts';

/** The page's main text: tags and the collapsible 技术信息 removed. */
const mainText = (html: string) =>
  html
    .replace(/<details class="tech-info">[\s\S]*?<\/details>/g, '')
    .replace(/<meta[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ');

describe('admin pages: jobs in words, periods with their real status', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: TestUser;
  let w: WebClient;

  before(async () => {
    const h = await harness();
    t = await h.startTestApp();
    admin = await t.userFor('admin');
    const a = t.api(admin.token);
    for (const c of ['D1', 'D2', 'D3']) await putUnit(a, c, 'department');
    at('2026-10-20T02:00:00Z'); // 2026Q3's deadline (10-15) has passed; 2026Q4 is being filled in
    await submit(a, '2026Q3', 'D1', ratios({ i1: [4, 4], i2: [1, 2], i3: [1, 2], i4: [1, 2], i5cloud: 2, i6: [1, 2] }));
    w = t.web();
    await w.login(admin.username, admin.password);
  });
  after(async () => {
    await t?.stop();
  });

  it('jobs page: schedules in words with the next run in 北京时间; counts named; no cron or instance id in the main text', async () => {
    expect((await w.postForm('/jobs/remind/run', { period: '' })).status).to.equal(303);
    expect((await w.postForm('/jobs/score/run', { period: '2026Q3' })).status).to.equal(303);
    const page = await w.get('/jobs');
    expect(page.status).to.equal(200);
    const text = mainText(page.text);
    expect(text).to.contain('每天 02:00（北京时间）').and.contain('每天 02:30（北京时间）').and.contain('每天 09:00（北京时间）').and.contain('每天 03:00（北京时间）');
    // 2026-10-20 10:00 北京时间: the next score run is 2026-10-21 02:00, reminders today 09:00 have passed → tomorrow.
    expect(text).to.match(/2026\/10\/21 02:00（北京时间）/).and.match(/2026\/10\/21 09:00（北京时间）/);
    expect(text).to.match(/期次 \d+ 个、单位 \d+ 个、通知 \d+ 条/);
    expect(text).to.match(/期次 \d+ 个、新开放期次 \d+ 个、重新计算 \d+ 期/);
    expect(text).not.to.match(/\d \d \* \* \*|periods=|units=|notices=|api-\d+|Asia\/Shanghai/);
    for (const key of ['score', 'remind', 'accountability', 'backup']) expect(text).not.to.match(new RegExp(`\\b${key}\\b`));
    // The technical details are still there, folded.
    expect(page.text).to.match(/<summary>技术信息<\/summary>[\s\S]*?<code>0 2 \* \* \*<\/code>/);
    expect(page.text).to.match(/实例 <code>api-\d+<\/code>/);
    // The result sets name the period's real status.
    expect(page.text).to.match(/<td>2026Q3<\/td>\s*<td><span class="tag period-status period-past_deadline[^"]*">已截止<\/span>/);
  });

  it('periods page, admin index, jobs page: 填报中 / 已截止 / 已发布 / 已关闭 from the period record', async () => {
    expect((await w.postForm('/admin/periods', { period: '2026Q2', closed: '1' })).status).to.equal(303);
    expect((await t.api(admin.token).post('/api/v1/results/2026Q1/publish')).status).to.be.oneOf([200, 201]);
    const expected: Record<string, string> = { '2026Q4': '填报中', '2026Q3': '已截止', '2026Q2': '已关闭', '2026Q1': '已发布' };
    for (const path of ['/admin/periods', '/admin']) {
      const page = await w.get(path);
      expect(page.status, path).to.equal(200);
      for (const [p, label] of Object.entries(expected)) {
        expect(page.text, `${path} ${p}`).to.match(new RegExp(`${p}[\\s\\S]{0,400}?period-status[^>]*>${label}<`));
      }
      expect(page.text, path).not.to.contain('开放</span>');
    }
    const jobs = await w.get('/jobs');
    for (const [p, label] of Object.entries(expected)) expect(jobs.text).to.contain(`<option value="${p}">${p}（${label}）</option>`);
  });
});
