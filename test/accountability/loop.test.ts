// The rectification loop through the HTTP contract (SPEC §7): a unit's reporter submits a report with
// two files, the reviewer returns it, the reporter resubmits, the reviewer accepts (销号) — every step in
// the case's history; scope (another unit's reporter sees and touches nothing; office reads only);
// due-date extensions (申请延期), decided once per request.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { Attachment } from '../../server/models/attachment.ts';
import { AuditLog } from '../../server/models/audit-log.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, docx, pdf, png, postFiles, publishedCases } from './helpers.ts';

describe('accountability: the rectification loop (整改 → 核查 → 销号)', function () {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let office: string;
  let repD3: string;
  let repD4: string;
  let ids: { d3: string; d4: string };

  const getCase = async (token: string, id: string) => {
    const r = await t.api(token).get(`/api/v1/accountability/cases/${id}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    office = await t.tokenFor('office');
    repD3 = await t.tokenFor('reporter', 'D3');
    repD4 = await t.tokenFor('reporter', 'D4');
    ids = await publishedCases(t, admin, reviewer);
  });
  after(() => t.stop());

  it('submit with two files → rectifying; return → open, the unit notified; resubmit; accept → resolved', async () => {
    at('2026-05-01T02:00:00Z');
    const first = await postFiles(t, repD3, `/api/v1/accountability/cases/${ids.d3}/rectifications`, [
      { name: '整改报告.pdf', data: pdf('第一次') },
      { name: '机房照片.png', data: png() },
    ], { report: '已关停 2 个独立运行的业务专网，迁入电子政务外网。' });
    expect(first.status, first.text).to.equal(201);
    expect(first.body.id).to.match(/^[0-9a-f]{24}$/);

    let c = await getCase(reviewer, ids.d3);
    expect(c.status).to.equal('rectifying');
    expect(c.rectifications).to.have.length(1);
    const r1 = c.rectifications[0];
    expect(r1).to.include({ id: first.body.id, by: c.rectifications[0].by, report: '已关停 2 个独立运行的业务专网，迁入电子政务外网。', at: '2026-05-01T02:00:00.000Z' });
    expect(r1.decision).to.equal(undefined);
    expect(r1.attachments.map((a: { name: string; type: string; size: number }) => [a.name, a.type, a.size])).to.deep.equal([
      ['整改报告.pdf', 'pdf', pdf('第一次').length],
      ['机房照片.png', 'png', png().length],
    ]);

    // The reviewer downloads the files: the very bytes, as attachments, never inline.
    const dl = await t.api(reviewer).get(`/api/v1/attachments/${r1.attachments[0].id}`);
    expect(dl.status).to.equal(200);
    expect(dl.buffer.equals(pdf('第一次'))).to.equal(true);
    expect(dl.headers.get('content-type')).to.equal('application/pdf');
    expect(dl.headers.get('content-disposition')).to.match(/^attachment;/).and.to.include("filename*=UTF-8''%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A.pdf");
    expect(dl.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(dl.headers.get('content-security-policy')).to.include('sandbox');

    // A second report while the first awaits 核查 is refused, and changes nothing.
    const again = await postFiles(t, repD3, `/api/v1/accountability/cases/${ids.d3}/rectifications`, [], { report: '补充' });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('rectification_pending');

    // Return needs a comment; then the case is open again and the unit has a notice.
    at('2026-05-03T02:00:00Z');
    const noComment = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'return' });
    expect(noComment.status).to.equal(400);
    expect(noComment.body.error.code).to.equal('comment_required');
    const ret = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'return', comment: '缺少专网关停的书面证明' });
    expect(ret.status, ret.text).to.equal(200);
    expect(ret.body.status).to.equal('open');
    expect(ret.body.rectifications[0].decision).to.include({ decision: 'return', comment: '缺少专网关停的书面证明', at: '2026-05-03T02:00:00.000Z' });
    const notices = await t.api(repD3).get('/api/v1/notices');
    expect(notices.body.map((n: { title: string; body: string }) => n.body)).to.include('缺少专网关停的书面证明');

    // Resubmit; accept → resolved (销号), before the due date.
    at('2026-05-10T02:00:00Z');
    const second = await postFiles(t, repD3, `/api/v1/accountability/cases/${ids.d3}/rectifications`, [{ name: '关停证明.docx', data: docx() }], {
      report: '补充专网关停的书面证明。',
    });
    expect(second.status, second.text).to.equal(201);
    expect((await getCase(repD3, ids.d3)).status).to.equal('rectifying');
    at('2026-05-12T02:00:00Z');
    const acc = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'accept', comment: '核查属实，予以销号' });
    expect(acc.status, acc.text).to.equal(200);
    expect(acc.body).to.include({ status: 'resolved', resolvedAt: '2026-05-12T02:00:00.000Z', rectification: 'accepted' });
    expect(acc.body.rectifications.map((r: { decision: { decision: string } }) => r.decision.decision)).to.deep.equal(['return', 'accept']);
    expect(acc.body.rectifications[1].attachments[0]).to.include({ name: '关停证明.docx', type: 'docx' });

    // Every step in the history: who, when, what, files.
    c = await getCase(office, ids.d3);
    const steps = c.history.map((h: { action: string | null; from: string | null; to: string }) => `${h.action ?? 'status'}:${h.from}→${h.to}`);
    expect(steps).to.deep.equal([
      'status:null→open',
      'rectification.submit:open→rectifying',
      'rectification.return:rectifying→open',
      'rectification.submit:open→rectifying',
      'rectification.accept:rectifying→resolved',
    ]);
    expect(c.history[1].attachments.map((a: { name: string }) => a.name)).to.deep.equal(['整改报告.pdf', '机房照片.png']);
    expect(c.history[4]).to.include({ at: '2026-05-12T02:00:00.000Z', comment: '核查属实，予以销号' });

    // A resolved case takes no more reports or decisions.
    const late = await postFiles(t, repD3, `/api/v1/accountability/cases/${ids.d3}/rectifications`, [], { report: '再次提交' });
    expect(late.status).to.equal(409);
    expect(late.body.error.code).to.equal('case_resolved');
    const dec = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'accept' });
    expect(dec.status).to.equal(409);
    expect(dec.body.error.code).to.equal('no_pending_rectification');
  });

  it('scope: another unit’s reporter sees and touches nothing; office reads and changes nothing', async () => {
    const c = await getCase(reviewer, ids.d3);
    const file = c.rectifications[0].attachments[0].id;
    const before = JSON.stringify(c);
    const files = await Attachment.countDocuments();

    expect((await t.api(repD4).get(`/api/v1/accountability/cases/${ids.d3}`)).status).to.equal(403);
    expect((await t.api(repD4).get(`/api/v1/attachments/${file}`)).status).to.equal(403);
    const sub = await postFiles(t, repD4, `/api/v1/accountability/cases/${ids.d3}/rectifications`, [{ name: 'x.pdf', data: pdf() }], { report: '冒名提交' });
    expect(sub.status).to.equal(403);
    expect((await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'accept' })).status).to.equal(403);
    expect((await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d3}/extensions`, { reason: '冒名' })).status).to.equal(403);
    const own = await t.api(repD4).get('/api/v1/accountability');
    expect(own.body.map((x: { unit: string }) => x.unit)).to.deep.equal(['D4']);

    // Office: reads everything, decides nothing, submits nothing.
    expect((await t.api(office).get(`/api/v1/attachments/${file}`)).status).to.equal(200);
    expect((await t.api(office).post(`/api/v1/accountability/cases/${ids.d4}/decision`, { decision: 'accept' })).status).to.equal(403);
    expect((await postFiles(t, office, `/api/v1/accountability/cases/${ids.d4}/rectifications`, [], { report: 'x' })).status).to.equal(403);
    // Reviewers do not write reports either.
    expect((await postFiles(t, reviewer, `/api/v1/accountability/cases/${ids.d4}/rectifications`, [], { report: 'x' })).status).to.equal(403);

    // Unknown ids.
    expect((await t.api(reviewer).get('/api/v1/attachments/000000000000000000000000')).status).to.equal(404);
    expect((await t.api(reviewer).get('/api/v1/attachments/nope')).status).to.equal(404);
    expect((await t.api().get(`/api/v1/attachments/${file}`)).status).to.equal(401);

    expect(JSON.stringify(await getCase(reviewer, ids.d3))).to.equal(before);
    expect(await Attachment.countDocuments()).to.equal(files);
    expect((await getCase(reviewer, ids.d4)).history).to.have.length(1);
  });

  it('a report needs text; bad decisions are refused', async () => {
    const noText = await postFiles(t, repD4, `/api/v1/accountability/cases/${ids.d4}/rectifications`, [{ name: 'a.pdf', data: pdf() }], { report: '  ' });
    expect(noText.status).to.equal(400);
    expect(noText.body.error.code).to.equal('report_required');
    const bad = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/decision`, { decision: 'maybe' });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('invalid_decision');
    expect((await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/decision`, { decision: 'accept' })).body.error.code).to.equal('no_pending_rectification');
    expect((await getCase(reviewer, ids.d4)).history).to.have.length(1);
  });

  it('extension: the unit asks with a reason, a reviewer grants once (new due date, in the history and audited)', async () => {
    at('2026-05-15T02:00:00Z');
    const noReason = await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d4}/extensions`, {});
    expect(noReason.status).to.equal(400);
    const req1 = await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d4}/extensions`, { reason: '专网迁移需等待运营商割接窗口' });
    expect(req1.status, req1.text).to.equal(201);
    const dup = await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d4}/extensions`, { reason: '再申请' });
    expect(dup.status).to.equal(409);
    expect(dup.body.error.code).to.equal('extension_pending');

    const earlier = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/extensions/${req1.body.id}/decision`, { decision: 'grant', dueAt: '2026-05-01T00:00:00Z' });
    expect(earlier.status).to.equal(400);
    expect(earlier.body.error.code).to.equal('invalid_due_date');
    const grant = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/extensions/${req1.body.id}/decision`, {
      decision: 'grant',
      dueAt: '2026-06-30T23:59:59+08:00',
      comment: '同意延期一个月',
    });
    expect(grant.status, grant.text).to.equal(200);
    expect(grant.body.dueAt).to.equal('2026-06-30T15:59:59.000Z');
    expect(grant.body.extensions[0].decision).to.include({ decision: 'grant', dueAt: '2026-06-30T15:59:59.000Z' });
    expect(grant.body.history.at(-1)).to.include({ action: 'extension.grant' });
    expect(grant.body.history.at(-2)).to.include({ action: 'extension.request', comment: '专网迁移需等待运营商割接窗口' });
    const twice = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/extensions/${req1.body.id}/decision`, { decision: 'grant', dueAt: '2026-07-30T00:00:00Z' });
    expect(twice.status).to.equal(409);
    expect(twice.body.error.code).to.equal('extension_decided');
    expect((await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d4}/extensions/${req1.body.id}/decision`, { decision: 'grant', dueAt: '2026-07-30' })).status).to.equal(403);

    const audit = await AuditLog.find({ entity: 'case', entityId: ids.d4 }).sort({ at: 1 }).lean();
    expect(audit.map((a) => a.action)).to.deep.equal(['case.extension.request', 'case.extension.grant']);
    expect(audit[1]!.after).to.deep.include({ dueAt: '2026-06-30T15:59:59.000Z' });

    // Past the old due date, not overdue: the new one holds.
    at('2026-05-25T02:00:00Z');
    expect((await getCase(reviewer, ids.d4)).status).to.equal('open');
  });

  it('an overdue case stays overdue through its rectification; resolving it records the late 销号', async () => {
    at('2026-07-02T00:00:00Z'); // past the extended due date
    const sub = await postFiles(t, repD4, `/api/v1/accountability/cases/${ids.d4}/rectifications`, [{ name: '报告.pdf', data: pdf() }], { report: '逾期后提交的整改报告' });
    expect(sub.status, sub.text).to.equal(201);
    expect(sub.body.status).to.equal('overdue');
    let c = await getCase(reviewer, ids.d4);
    expect(c).to.include({ status: 'overdue', rectification: 'pending' });
    expect(c.history.map((h: { action: string | null; to: string }) => `${h.action ?? 'status'}→${h.to}`).slice(-2)).to.deep.equal(['status→overdue', 'rectification.submit→overdue']);
    // Too late to ask for more time.
    const ext = await t.api(repD4).post(`/api/v1/accountability/cases/${ids.d4}/extensions`, { reason: '再宽限' });
    expect(ext.status).to.equal(409);
    expect(ext.body.error.code).to.equal('case_overdue');

    const queue = await t.api(reviewer).get('/api/v1/accountability/rectifications/pending');
    expect(queue.status).to.equal(200);
    expect(queue.body.map((q: { id: string; overdue: boolean }) => [q.id, q.overdue])).to.deep.equal([[ids.d4, true]]);

    const ret = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/decision`, { decision: 'return', comment: '材料不全' });
    expect(ret.body.status).to.equal('overdue');
    await postFiles(t, repD4, `/api/v1/accountability/cases/${ids.d4}/rectifications`, [], { report: '补充材料' });
    const acc = await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d4}/decision`, { decision: 'accept' });
    expect(acc.body.status).to.equal('resolved');
    c = await getCase(reviewer, ids.d4);
    expect(c.history.at(-1)).to.include({ action: 'rectification.accept', from: 'overdue', to: 'resolved' });
    expect(c.resolvedAt! > c.dueAt!).to.equal(true); // wasOverdue() (SPEC §4 merit rule) sees it
  });

  it('the workbook’s cases sheet and the single-unit sheet show rectification, decision, extension and 销号', async () => {
    const r = await t.api(reviewer).get('/api/v1/results/2026Q1/sheet.xlsx');
    expect(r.status, r.text).to.equal(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.buffer as never);
    const ws = wb.getWorksheet('问责情况')!;
    const rows: string[][] = [];
    ws.eachRow((row) => rows.push((row.values as unknown[]).slice(1).map((v) => String(v ?? ''))));
    const header = rows.find((x) => x[0] === '单位代码')!;
    const col = (h: string) => header.indexOf(h);
    const d3 = rows.find((x) => x[0] === 'D3')!;
    const d4 = rows.find((x) => x[0] === 'D4')!;
    expect(d3[col('整改与核查')]).to.include('已提交 2 次').and.to.include('核查通过（销号）：核查属实，予以销号');
    expect(d3[col('销号时间')]).to.include('2026-05-12');
    expect(d4[col('延期')]).to.include('延至 2026-06-30');
    const u = await t.api(repD4).get('/api/v1/results/2026Q1/units/D4/sheet.xlsx');
    expect(u.status, u.text).to.equal(200);
    const uw = new ExcelJS.Workbook();
    await uw.xlsx.load(u.buffer as never);
    const all: string[] = [];
    uw.worksheets[0]!.eachRow((row) => all.push((row.values as unknown[]).map((v) => String(v ?? '')).join(' ')));
    expect(all.join('\n')).to.include('整改：已提交 2 次').and.to.include('由 2026-05-20 延期').and.to.include('销号');
  });
});
