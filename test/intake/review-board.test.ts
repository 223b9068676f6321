// The review board that moves (issue 14 item 5), through HTTP: it opens on the current open period;
// a 有异常提示 column and filter; decisions keep the filters — from the board back to the board, from
// the detail page on to the next pending return matching them (下一条待审); bulk approval of pending
// rows without warnings, one audited review each, refused rows reported; the detail page shows the
// previous quarter and the year before side by side with the warnings. Roles and CSRF.
import { expect } from 'chai';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { createUnits, harness, vals } from './helpers.ts';

const P = '2026Q3';
const Q = '2026Q4';
const calm = vals(0);
const jumpy = { ...calm, systems_total: calm.systems_total * 5 + 20 };

describe('review board (issue 14 item 5)', function () {
  this.timeout(90_000);
  let t: TestApp;
  let admin: string;
  let reviewer: WebClient;
  let clock: Awaited<ReturnType<typeof harness>>['clock'];
  const put = (period: string, unit: string, values: object) => t.api(admin).put(`/api/v1/returns/${period}/${unit}`, { values });
  const status = async (period: string, unit: string) => (await t.api(admin).get(`/api/v1/returns/${period}/${unit}`)).body.status;
  const follow = async (w: WebClient, location: string | null) => {
    expect(location).to.be.a('string');
    return w.get(location!);
  };
  /** Page text with the entities Handlebars writes in attributes decoded (= and &). */
  const decoded = (html: string) => html.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
  /** A form post with repeated fields (the bulk form's checkboxes), CSRF token in the body. */
  const postPairs = async (w: WebClient, path: string, pairs: [string, string][]) => {
    const body = new URLSearchParams([...pairs, ['_csrf', await w.csrfToken()]]);
    const r = await fetch(t.baseUrl + path, { method: 'POST', body, headers: { cookie: w.cookies(), 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    return { status: r.status, location: r.headers.get('location') };
  };
  const units = (html: string) => [...html.matchAll(/<tr data-unit="([^"]+)"/g)].map((m) => m[1]);

  before(async () => {
    const h = await harness();
    clock = h.clock;
    // 2026-10-05 (Beijing): 2026Q3 is the quarter being collected (deadline 10-15, not yet passed).
    clock.set(() => new Date('2026-10-05T02:00:00Z'));
    t = await h.startTestApp();
    admin = await t.tokenFor('admin');
    await createUnits(t, admin);
    for (const u of ['D001', 'D002', 'D003', 'C0571']) expect((await put('2026Q2', u, calm)).status).to.equal(200);
    expect((await t.api(admin).put('/api/v1/periods/2025Q3', { deadline: '2025-10-15T23:59:59+08:00' })).status).to.be.oneOf([200, 201]);
    expect((await put('2025Q3', 'D001', calm)).status).to.equal(200);
    // 2026Q3: D001 jumps (warnings), D002, D003 and C0571 in line; X330102 has not reported.
    expect((await put(P, 'D001', jumpy)).body.warnings).to.have.length.greaterThan(0);
    for (const u of ['D002', 'D003', 'C0571']) expect((await put(P, u, calm)).body.warnings).to.deep.equal([]);
    const u = await t.userFor('reviewer');
    reviewer = t.web();
    await reviewer.login(u.username, u.password);
  });
  after(async () => {
    clock?.set(null);
    await t?.stop();
  });

  it('opens on the current open period; the 有异常提示 column and filter', async () => {
    const board = await reviewer.get('/review');
    expect(board.status).to.equal(200);
    expect(board.text).to.contain(`${P} 报送审核`);
    expect(board.text).to.match(/<tr data-unit="D001" data-state="submitted" data-warnings="[1-9]\d*">/);
    expect(board.text).to.match(/<tr data-unit="D002" data-state="submitted" data-warnings="0">/);
    expect(board.text).to.contain('⚠ ');
    expect(board.text).to.contain('有异常提示 1');
    expect(board.text).to.contain('无异常提示 3');
    expect(units((await reviewer.get(`/review?period=${P}&warn=yes`)).text)).to.deep.equal(['D001']);
    expect(units((await reviewer.get(`/review?period=${P}&warn=no`)).text)).to.deep.equal(['C0571', 'D002', 'D003']);
    expect(units((await reviewer.get(`/review?period=${P}&state=missing`)).text)).to.deep.equal(['X330102']);
    // The links of the filters keep the other filter.
    const f = decoded((await reviewer.get(`/review?period=${P}&warn=no`)).text);
    expect(f).to.contain(`href="/review?period=${P}&state=submitted&warn=no"`);
    expect(f).to.contain(`href="/review/${P}/D002?warn=no"`);
    // A row with warnings has no one-click approval on the board; the others do.
    expect(board.text).to.not.match(/action="\/review\/2026Q3\/D001"/);
    expect(board.text).to.match(/action="\/review\/2026Q3\/D002"/);
  });

  it('the detail page: previous quarter and the year before side by side, the warnings marked', async () => {
    const d = await reviewer.get(`/review/${P}/D001?warn=yes`);
    expect(d.status).to.equal(200);
    expect(d.text).to.contain('上季度（2026Q2）').and.to.contain('去年同期（2025Q3）');
    expect(d.text).to.match(/<tr class=" warned" data-field="systems_total"><th scope="row"><span class="warn-mark"[^>]*>⚠<\/span> 信息系统总数<\/th><td class="num">[\d,]+<\/td><td class="num">—<\/td><td class="num">\d+<\/td><td class="num">\d+<\/td><\/tr>/);
    expect(d.text).to.contain('「信息系统总数」为');
    expect(decoded(d.text)).to.contain(`href="/review?period=${P}&warn=yes"`);
    // One form: reason + approve / reject.
    expect(d.text.match(/class="decision-form"/g)).to.have.length(1);
    expect(d.text).to.contain('name="decision" value="approve"').and.to.contain('name="decision" value="reject"');
    const c = await reviewer.get(`/review/${P}/C0571`);
    expect(c.text).to.contain('本版没有异常提示');
    expect(c.text).to.contain('去年同期没有可用数据');
  });

  it('from the detail page: 下一条待审 matching the filters, wrapping round; refusals stay on the page; the board when none is left', async () => {
    // C0571 → next pending without warnings after it in code order: D002.
    const d = await reviewer.get(`/review/${P}/C0571?state=submitted&warn=no`);
    expect(decoded(d.text)).to.contain(`href="/review/${P}/D002?state=submitted&warn=no" data-next="D002"`);
    const noReason = await reviewer.postForm(`/review/${P}/C0571`, { decision: 'reject', reason: ' ', revision: '1', state: 'submitted', warn: 'no' });
    expect(noReason.location).to.equal(`/review/${P}/C0571?state=submitted&warn=no`);
    expect((await follow(reviewer, noReason.location)).text).to.contain('退回时必须填写退回原因');
    expect(await status(P, 'C0571')).to.equal('submitted');

    const a = await reviewer.postForm(`/review/${P}/C0571`, { decision: 'approve', reason: '', revision: '1', state: 'submitted', warn: 'no' });
    expect(a.status).to.equal(303);
    expect(a.location).to.equal(`/review/${P}/D002?state=submitted&warn=no`);
    expect((await follow(reviewer, a.location)).text).to.contain('已审核通过 C0571 第 1 版。下一条待审：D002');
    const r = await reviewer.postForm(`/review/${P}/D002`, { decision: 'reject', reason: '请补充佐证材料', revision: '1', state: 'submitted', warn: 'no' });
    expect(r.location).to.equal(`/review/${P}/D003?state=submitted&warn=no`);
    expect(await status(P, 'D002')).to.equal('rejected');
    // D002 reports again: pending again, and found by wrapping round from D003.
    expect((await put(P, 'D002', calm)).status).to.equal(200);
    const w = await reviewer.postForm(`/review/${P}/D003`, { decision: 'approve', revision: '1', state: 'submitted', warn: 'no' });
    expect(w.location).to.equal(`/review/${P}/D002?state=submitted&warn=no`);
    // D001 has warnings: outside the filter, so after D002 there is nothing left → the board, filters kept.
    const last = await reviewer.postForm(`/review/${P}/D002`, { decision: 'approve', revision: '2', state: 'submitted', warn: 'no' });
    expect(last.location).to.equal(`/review?period=${P}&state=submitted&warn=no`);
    expect((await follow(reviewer, last.location)).text).to.contain('筛选范围内已没有待审核的报送');
    expect(await status(P, 'D001')).to.equal('submitted');
  });

  it('from the board: back to the board with the same filters; junk in the filters is dropped', async () => {
    expect((await put(P, 'C0571', { ...calm, duties_total: calm.duties_total + 1 })).status).to.equal(200);
    const a = await reviewer.postForm(`/review/${P}/C0571`, { from: 'board', decision: 'approve', revision: '2', state: 'submitted', warn: 'no' });
    expect(a.location).to.equal(`/review?period=${P}&state=submitted&warn=no`);
    expect(await status(P, 'C0571')).to.equal('approved');
    const junk = await reviewer.postForm(`/review/${P}/C0571`, { from: 'board', decision: 'approve', revision: '2', state: 'https://evil.example/', warn: '"><script>' });
    expect(junk.location).to.equal(`/review?period=${P}`);
  });

  it('bulk approval: each selected pending row without warnings approved on its own (audited); the others refused and reported', async () => {
    for (const u of ['D001', 'D002', 'D003', 'C0571']) expect((await put(Q, u, calm)).status).to.equal(200);
    // D001 rev 2, with warnings (against its 2026Q3 return).
    expect((await put(Q, 'D001', { ...calm, systems_total: jumpy.systems_total * 5 })).body.warnings.length).to.be.greaterThan(0);
    expect((await put(Q, 'D003', calm)).status).to.equal(200); // D003 rev 2: the board showed rev 1
    expect((await t.api(admin).post(`/api/v1/returns/${Q}/C0571/review`, { decision: 'approve' })).status).to.equal(200);
    const board = await reviewer.get(`/review?period=${Q}`);
    expect(board.text).to.contain(`name="pick" value="D002:1"`);
    const before = (await t.api(admin).get(`/api/v1/returns/${Q}/D002/audit`)).body.length;

    const res = await postPairs(reviewer, `/review/${Q}`, [['scope', 'selected'], ...['D001:2', 'D002:1', 'D003:1', 'C0571:1', 'X330102:1'].map((x) => ['pick', x] as [string, string]), ['warn', 'no']]);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal(`/review?period=${Q}&warn=no`);
    const page = await follow(reviewer, res.location);
    expect(page.text).to.contain('批量审核通过 1 条：D002 第 1 版；未通过 4 条：');
    expect(page.text).to.match(/D001（有 \d+ 条异常提示，请逐条审核）/);
    expect(page.text).to.contain('D003（该单位已提交新的版本（第 2 版），请刷新后再审核）');
    expect(page.text).to.contain('C0571（已通过，无需再审）');
    expect(page.text).to.contain('X330102（未报送）');
    expect(await status(Q, 'D002')).to.equal('approved');
    expect(await status(Q, 'D001')).to.equal('submitted');
    expect(await status(Q, 'D003')).to.equal('submitted');
    const trail = (await t.api(admin).get(`/api/v1/returns/${Q}/D002/audit`)).body as { action: string; actor: string }[];
    expect(trail.length).to.equal(before + 1);
    expect(trail.at(-1)!.action).to.equal('return.review');

    // Everything pending without warnings under the filters: D003 (rev 2); D001 stays.
    const all = await reviewer.postForm(`/review/${Q}`, { scope: 'filtered', state: 'submitted' });
    expect(all.location).to.equal(`/review?period=${Q}&state=submitted`);
    expect((await follow(reviewer, all.location)).text).to.contain('批量审核通过 1 条：D003 第 2 版；未通过 1 条：D001');
    expect(await status(Q, 'D003')).to.equal('approved');
    expect(await status(Q, 'D001')).to.equal('submitted');
    const none = await reviewer.postForm(`/review/${Q}`, { scope: 'selected' });
    expect((await follow(reviewer, none.location)).text).to.contain('请先勾选要批量通过的报送');
  });

  it('only reviewers and admins; CSRF on every decision', async () => {
    const login = async (role: 'office' | 'reporter' | 'admin', unit?: string) => {
      const u = await t.userFor(role, unit);
      const w = t.web();
      await w.login(u.username, u.password);
      return w;
    };
    const office = await login('office');
    const rep = await login('reporter', 'D001');
    for (const w of [office, rep]) {
      expect((await w.get(`/review?period=${P}`)).status).to.equal(403);
      expect((await w.get(`/review/${P}/D001`)).status).to.equal(403);
      expect((await w.postForm(`/review/${P}`, { scope: 'filtered' })).status).to.equal(403);
      expect((await w.postForm(`/review/${P}/D001`, { decision: 'approve', revision: '1' })).status).to.equal(403);
    }
    expect(await status(P, 'D001')).to.equal('submitted');
    const noCsrf = await reviewer.postForm(`/review/${P}`, { scope: 'filtered' }, { csrf: false });
    expect(noCsrf.status).to.equal(403);
    const noCsrf2 = await reviewer.postForm(`/review/${P}/D001`, { decision: 'approve', revision: '1' }, { csrf: false });
    expect(noCsrf2.status).to.equal(403);
    expect(await status(P, 'D001')).to.equal('submitted');
    const adm = await login('admin');
    expect((await adm.get(`/review?period=${P}`)).status).to.equal(200);
    const ok = await adm.postForm(`/review/${P}/D001`, { decision: 'approve', revision: '1' });
    expect(ok.status).to.equal(303);
    expect(await status(P, 'D001')).to.equal('approved');
  });
});
