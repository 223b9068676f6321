// The 问责 pages of the rectification loop: the reporter's case page with its 提交整改报告 form
// (multipart, CSRF in a form field), the reviewers' queue (oldest first, overdue marked), the decision
// form, the timeline, and the overview counts by status.
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, pdf, png, publishedCases } from './helpers.ts';
import { PERFECT } from '../results/fixtures.ts';

/** The page's CSRF token (every form carries it as a `_csrf` field, never in its URL). */
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

describe('accountability pages: case page, 提交整改报告, 核查队列', function () {
  let t: TestApp;
  let ids: { d3: string; d4: string };

  before(async () => {
    t = await startTestApp();
    ids = await publishedCases(t, await t.tokenFor('admin'), await t.tokenFor('reviewer'));
  });
  after(() => t.stop());

  it('the reporter submits a report with files from the case page; the reviewer verifies it from the queue', async () => {
    const rep = await t.userFor('reporter', 'D3');
    const w = t.web();
    await w.login(rep.username, rep.password);
    const overview = await w.get('/accountability');
    expect(overview.status).to.equal(200);
    expect(overview.text).to.include('已销号').and.to.include(`/accountability/cases/${ids.d3}`);
    const page = await w.get(`/accountability/cases/${ids.d3}`);
    expect(page.status).to.equal(200);
    // The case was opened by the publication: its timeline names the system in words.
    expect(page.text).to.include('系统自动').and.not.to.match(/· system\b/);
    expect(page.text).to.include('提交整改报告').and.to.include('enctype="multipart/form-data"').and.not.to.include('<script>');
    expect((await w.get(`/accountability/cases/${ids.d4}`)).status).to.equal(403);

    at('2026-05-01T02:00:00Z');
    const action = /action="(\/accountability\/cases\/[0-9a-f]+\/rectifications)"/.exec(page.text)![1]!;
    const form = new FormData();
    form.append('_csrf', csrfOf(page.text));
    form.append('report', '网页提交的整改报告');
    form.append('files', new Blob([new Uint8Array(pdf())]), '报告.pdf');
    form.append('files', new Blob([new Uint8Array(png())]), '照片.png');
    await t.settle();
    const sent = await fetch(t.baseUrl + action, { method: 'POST', body: form, headers: { cookie: `sid=${w.cookie()}`, accept: 'text/html' }, redirect: 'manual' });
    expect(sent.status).to.equal(303);
    const after = await w.get(`/accountability/cases/${ids.d3}`);
    expect(after.text).to.include('整改报告已提交').and.to.include('报告.pdf').and.to.include('照片.png').and.to.include('待核查');
    expect(after.text).not.to.include('id="report"'); // no second report while the first awaits 核查

    const revUser = await t.userFor('reviewer');
    const r = t.web();
    await r.login(revUser.username, revUser.password);
    const queue = await r.get('/accountability/queue');
    expect(queue.status).to.equal(200);
    expect(queue.text).to.include(`data-case="${ids.d3}"`);
    const casePage = await r.get(`/accountability/cases/${ids.d3}`);
    const rect = /name="rectification" value="([0-9a-f]+)"/.exec(casePage.text)![1]!;
    const done = await r.postForm(`/accountability/cases/${ids.d3}/decision`, { decision: 'accept', comment: '属实', rectification: rect });
    expect(done.status).to.equal(303);
    const final = await r.get(`/accountability/cases/${ids.d3}`);
    expect(final.text).to.include('核查通过，案件已销号').and.to.include('核查通过，销号').and.to.include('已销号');
    expect((await r.get('/accountability/queue')).text).not.to.include(`data-case="${ids.d3}"`);
  });

  it('the reporter uploads 佐证材料 from the return form; the review page lists them; carrying over is a tick box', async () => {
    const rep = await t.userFor('reporter', 'D2');
    const w = t.web();
    await w.login(rep.username, rep.password);
    const put = await w.api().put('/api/v1/returns/2026Q2/D2', { values: PERFECT });
    expect(put.status, put.text).to.equal(200);
    const form = await w.get('/returns/2026Q2/D2');
    expect(form.status).to.equal(200);
    const action = /action="(\/returns\/2026Q2\/D2\/evidence)"/.exec(form.text)![1]!;
    const body = new FormData();
    body.append('_csrf', csrfOf(form.text));
    body.append('files', new Blob([new Uint8Array(pdf())]), '接入清单.pdf');
    await t.settle();
    const sent = await fetch(t.baseUrl + action, { method: 'POST', body, headers: { cookie: `sid=${w.cookie()}`, accept: 'text/html' }, redirect: 'manual' });
    expect(sent.status).to.equal(303);
    const again = await w.get('/returns/2026Q2/D2');
    expect(again.text).to.include('接入清单.pdf').and.to.include('沿用上一版佐证材料');

    const revUser = await t.userFor('reviewer');
    const r = t.web();
    await r.login(revUser.username, revUser.password);
    const review = await r.get('/review/2026Q2/D2');
    expect(review.status).to.equal(200);
    expect(review.text).to.include('佐证材料').and.to.include('接入清单.pdf');

    // A new revision from the form with the box ticked keeps the evidence; without it, none.
    const fields = Object.fromEntries(Object.entries(PERFECT).map(([k, v]) => [k, String(v)]));
    expect((await w.postForm('/returns/2026Q2/D2', { ...fields, carryEvidence: '1' })).status).to.equal(303);
    expect((await r.get('/review/2026Q2/D2')).text).to.include('接入清单.pdf');
    expect((await w.postForm('/returns/2026Q2/D2', fields)).status).to.equal(303);
    expect((await r.get('/review/2026Q2/D2')).text).not.to.include('接入清单.pdf');
  });
});
