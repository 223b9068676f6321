// The scheme editor's what-if (issue 17): on a chosen opened period (not only the latest), per category,
// with the weight total shown; a total other than 100 is refused in Chinese and nothing is saved.
import { expect } from 'chai';
import type { TestApp, TestUser, WebClient } from '../helpers/app.ts';
import { harness } from '../intake/helpers.ts';
import { at, PERFECT, putUnit, ratios, submit } from '../results/fixtures.ts';

const HALF = ratios({ i1: [4, 4], i2: [1, 2], i3: [1, 2], i4: [1, 2], i5cloud: 2, i6: [1, 2] }); // I1 = 1, the rest 0.5

function form(weights: number[], extra: Record<string, string> = {}): Record<string, string> {
  const f: Record<string, string> = {
    baseVersion: '1', excellentQuota: '0.3', lateDeduction: '2', a1Enabled: 'on', a1DueDays: '30', a2Enabled: 'on', a3Enabled: 'on', a3MinRanked: '3', a3Consecutive: '2',
    'grades[0][min]': '90', 'grades[1][min]': '80', 'grades[2][min]': '60', 'grades[3][min]': '0',
  };
  weights.forEach((wt, i) => Object.assign(f, { [`indicators[${i}][weight]`]: String(wt), [`indicators[${i}][floor]`]: '0', [`indicators[${i}][target]`]: '1' }));
  return { ...f, ...extra };
}

/** The text of one category's preview section. */
const section = (html: string, category: string) => {
  const m = new RegExp(`<section class="preview-category" aria-labelledby="pv-${category}">([\\s\\S]*?)</section>`).exec(html);
  return m ? m[1]! : '';
};

describe('scheme editor: what-if on a chosen period, per category, with the weight total', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: TestUser;
  let w: WebClient;

  before(async () => {
    const h = await harness();
    t = await h.startTestApp();
    admin = await t.userFor('admin');
    const a = t.api(admin.token);
    for (const c of ['D1', 'D2']) await putUnit(a, c, 'department');
    for (const c of ['C1', 'C2']) await putUnit(a, c, 'city');
    at('2026-07-01T02:00:00Z'); // 2026Q2 on time
    await submit(a, '2026Q2', 'D1', HALF);
    await submit(a, '2026Q2', 'D2', PERFECT);
    await submit(a, '2026Q2', 'C1', PERFECT);
    await submit(a, '2026Q2', 'C2', PERFECT);
    at('2026-10-01T02:00:00Z'); // 2026Q3: only D1, on time
    await submit(a, '2026Q3', 'D1', PERFECT);
    w = t.web();
    await w.login(admin.username, admin.password);
  });
  after(async () => {
    await t?.stop();
  });

  it('the editor shows the weight total and offers every opened period with its status', async () => {
    const page = await w.get('/scheme');
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/权重合计（应为 100）[\s\S]*?<output id="weight-total"[^>]*class="ok-text">100<\/output>/);
    expect(page.text).to.contain('<option value="2026Q3" selected>2026Q3（填报中）</option>');
    expect(page.text).to.contain('<option value="2026Q2">2026Q2（已截止）</option>');
    expect(page.text).not.to.contain('clamp(');
  });

  it('previews the chosen (older) period, category by category; writes nothing', async () => {
    // I1 35 instead of 25, I3 10 instead of 20: D1 (I1 = 1, rest 0.5) 62.5 → 67.5; perfect units stay at 100.
    const r = await w.postForm('/scheme', form([35, 20, 10, 15, 10, 10], { action: 'preview', period: '2026Q2' }));
    expect(r.status, r.text.slice(0, 600)).to.equal(200);
    expect(r.text).to.contain('预览：2026Q2 期（已截止），现行第 1 版 → 草案');
    expect(r.text).to.contain('权重合计：现行 100，草案 100');
    const dept = section(r.text, 'department');
    const city = section(r.text, 'city');
    expect(dept).to.contain('省直部门（2 个单位）').and.contain('D1 单位D1').and.contain('62.50').and.contain('67.50').and.contain('5.00');
    expect(city).to.contain('设区市（2 个单位）').and.contain('草案不改变本类别任何单位的总分、等级或名次');
    expect(section(r.text, 'county')).to.equal(''); // no county units: no section
    expect(r.text).to.contain('<option value="2026Q2" selected>');
    expect((await t.api(admin.token).get('/api/v1/scheme')).body.version).to.equal(1);

    // The latest period gives another picture (there D1 is perfect): the choice matters.
    const latest = await w.postForm('/scheme', form([35, 20, 10, 15, 10, 10], { action: 'preview', period: '2026Q3' }));
    expect(latest.text).to.contain('预览：2026Q3 期（填报中）');
    expect(section(latest.text, 'department')).not.to.contain('62.50');

    // The API gives the same per category, with the weight totals.
    const cur = (await t.api(admin.token).get('/api/v1/scheme')).body.scheme;
    cur.indicators[0].weight = 35;
    cur.indicators[2].weight = 10;
    const api = await t.api(admin.token).post('/api/v1/scheme/preview', { scheme: cur, period: '2026Q2' });
    expect(api.status).to.equal(200);
    expect(api.body.categories.map((c: { category: string; diff: { summary: { units: number; changedTotals: number } } }) => [c.category, c.diff.summary.units, c.diff.summary.changedTotals])).to.deep.equal([
      ['department', 2, 1],
      ['city', 2, 0],
    ]);
    expect(api.body.weightTotal).to.deep.equal({ before: 100, after: 100 });
  });

  it('weights that do not add up to 100: a Chinese error with the total, no preview, nothing saved', async () => {
    for (const action of ['preview', 'save']) {
      const r = await w.postForm('/scheme', form([50, 20, 20, 15, 10, 10], { action, period: '2026Q2' }));
      expect(r.status, action).to.equal(422);
      expect(r.text).to.contain('各指标权重合计应为 100，当前为 125（多 25）');
      expect(r.text).to.match(/<output id="weight-total"[^>]*class="bad-text">125<\/output>/);
      expect(r.text).not.to.contain('id="preview"');
    }
    const low = await w.postForm('/scheme', form([25, 20, 20, 15, 10, 9.5], { action: 'preview' }));
    expect(low.text).to.contain('当前为 99.5（少 0.5）');
    expect((await t.api(admin.token).get('/api/v1/scheme')).body.version).to.equal(1);
  });

  it('a period never opened or not a period: a Chinese error, the draft kept', async () => {
    const r = await w.postForm('/scheme', form([25, 20, 20, 15, 10, 10], { action: 'preview', period: '2024Q1' }));
    expect(r.status).to.equal(404);
    expect(r.text).to.contain('2024Q1 期尚未开放考核');
    const bad = await w.postForm('/scheme', form([25, 20, 20, 15, 10, 10], { action: 'preview', period: 'abc' }));
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('期次「abc」无效');
  });
});
