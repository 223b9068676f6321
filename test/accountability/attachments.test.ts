// Attachments are judged by their content, never by their name (SPEC §7): accepted types, hostile
// files refused whatever they are called (HTML named .pdf, SVG, EXE, scripts, a docx that is a zip
// bomb — never expanded), the size limit (ATTACHMENT_MAX_BYTES) and the count limits; a refused
// request stores nothing. And 佐证材料 on returns: on the latest revision, listed by its GET, not
// carried to a new revision unless asked, frozen once the period is published.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { Attachment } from '../../server/models/attachment.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { PERFECT, submit } from '../results/fixtures.ts';
import { makeZip } from '../fixtures/zip.ts';
import { at, docx, docxBomb, exe, html, jpeg, ofd, pdf, plainZip, png, postFiles, publishedCases, script, svg, xlsx } from './helpers.ts';

const MAX = 256 * 1024;

describe('attachments: type by content, limits, and 佐证材料 on returns', function () {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let office: string;
  let repD3: string;
  let repD3User: string;
  let repD4: string;
  let ids: { d3: string; d4: string };

  const storedFiles = async () => (await mongoose.connection.db!.collection('attachmentFiles.files').countDocuments()) + (await Attachment.countDocuments());
  const rectify = (files: { name: string; data: Buffer }[], token = repD3) =>
    postFiles(t, token, `/api/v1/accountability/cases/${ids.d3}/rectifications`, files, { report: '整改报告' });

  before(async () => {
    t = await startTestApp({ env: { ATTACHMENT_MAX_BYTES: String(MAX) } });
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    office = await t.tokenFor('office');
    const u = await t.userFor('reporter', 'D3');
    repD3 = u.token;
    repD3User = u.username;
    repD4 = await t.tokenFor('reporter', 'D4');
    ids = await publishedCases(t, admin, reviewer);
    at('2026-05-01T02:00:00Z');
  });
  after(() => t.stop());

  const hostile: [string, () => Buffer, RegExp][] = [
    ['整改报告.pdf', html, /网页/],
    ['图.png', svg, /SVG/],
    ['setup.pdf', exe, /可执行程序/],
    ['run.docx', script, /脚本/],
    ['情况说明.docx', docxBomb, /压缩炸弹/],
    ['旧版.doc', () => Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(504)]), /旧版 Office/],
    ['坏.docx', () => makeZip([{ name: '[Content_Types].xml', data: '<Types/>' }, { name: 'docProps/app.xml', data: '<x/>' }]), /Office 文档结构无效/],
    ['工具.zip', () => makeZip([{ name: 'readme.txt', data: 'hi' }, { name: 'bin/tool.exe', data: 'MZ' }]), /可执行程序/],
    ['加密.zip', () => makeZip([{ name: 'a.pdf', data: pdf(), flags: 1 }]), /加密/],
    ['截断.zip', () => makeZip([{ name: 'a.pdf', data: pdf() }]).subarray(0, 40), /损坏/],
    ['空.pdf', () => Buffer.alloc(0), /为空/],
  ];
  for (const [name, make, why] of hostile) {
    it(`refuses ${name} (${why.source}) and stores nothing`, async () => {
      const before = await storedFiles();
      // Next to a good file: the whole request is refused.
      const r = await rectify([{ name: 'ok.pdf', data: pdf() }, { name, data: make() }]);
      expect(r.status, r.text).to.equal(422);
      expect(r.body.error.code).to.equal('attachment_type_refused');
      expect(r.body.error.message).to.match(why).and.to.include(name);
      expect(await storedFiles()).to.equal(before);
      const c = await t.api(reviewer).get(`/api/v1/accountability/cases/${ids.d3}`);
      expect(c.body.rectifications).to.have.length(0);
      expect(c.body.status).to.equal('open');
    });
  }

  it('accepts PDF, PNG, JPEG, docx, xlsx, OFD and zip by content, whatever the name, and types the download', async () => {
    const files = [
      { name: '报告.pdf', data: pdf() },
      { name: '照片', data: png() },
      { name: 'photo.png', data: jpeg() },
      { name: '说明.docx', data: docx() },
      { name: '台账.xlsx', data: xlsx() },
      { name: '批复.ofd', data: ofd() },
      { name: '材料.zip', data: plainZip() },
    ];
    const r = await rectify(files);
    expect(r.status, r.text).to.equal(201);
    const c = await t.api(reviewer).get(`/api/v1/accountability/cases/${ids.d3}`);
    const att = c.body.rectifications[0].attachments as { id: string; name: string; type: string }[];
    expect(att.map((a) => [a.name, a.type])).to.deep.equal([
      ['报告.pdf', 'pdf'],
      ['照片.png', 'png'],
      ['photo.png.jpg', 'jpeg'],
      ['说明.docx', 'docx'],
      ['台账.xlsx', 'xlsx'],
      ['批复.ofd', 'ofd'],
      ['材料.zip', 'zip'],
    ]);
    const dl = await t.api(repD3).get(`/api/v1/attachments/${att[2]!.id}`);
    expect(dl.status).to.equal(200);
    expect(dl.headers.get('content-type')).to.equal('image/jpeg');
    expect(dl.headers.get('content-disposition')).to.match(/^attachment; filename="?photo\.png\.jpg/);
    expect(dl.buffer.equals(jpeg())).to.equal(true);
    const stored = await Attachment.findById(att[0]!.id).lean();
    expect(stored).to.include({ uploadedBy: repD3User, unit: 'D3', size: pdf().length, contentType: 'application/pdf' });
    expect(stored!.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(stored!.owner).to.include({ kind: 'rectification' });
    await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'return', comment: '继续' });
  });

  it('the size limit: a file over ATTACHMENT_MAX_BYTES is 413 and nothing is stored', async () => {
    const before = await storedFiles();
    const big = Buffer.concat([pdf(), Buffer.alloc(MAX)]);
    const r = await rectify([{ name: '大.pdf', data: big }]);
    expect(r.status).to.equal(413);
    expect(r.body.error.code).to.equal('attachment_too_large');
    expect(await storedFiles()).to.equal(before);
    const exact = await rectify([{ name: '刚好.pdf', data: Buffer.concat([pdf(), Buffer.alloc(MAX - pdf().length)]) }]);
    expect(exact.status, exact.text).to.equal(201);
    await t.api(reviewer).post(`/api/v1/accountability/cases/${ids.d3}/decision`, { decision: 'return', comment: '继续' });
  });

  it('the count limit: at most 10 files per report', async () => {
    const before = await storedFiles();
    const r = await rectify(Array.from({ length: 11 }, (_, i) => ({ name: `${i}.pdf`, data: pdf() })));
    expect(r.status).to.equal(422);
    expect(r.body.error.code).to.equal('too_many_attachments');
    expect(await storedFiles()).to.equal(before);
  });

  describe('佐证材料 on returns', () => {
    it('the reporter attaches files to the latest revision; its GET lists them; office and reviewers download', async () => {
      await submit(t.api(repD4), '2026Q2', 'D4', PERFECT);
      const r = await postFiles(t, repD4, '/api/v1/returns/2026Q2/D4/evidence', [{ name: '系统接入清单.xlsx', data: xlsx() }, { name: '截图.png', data: png() }]);
      expect(r.status, r.text).to.equal(201);
      expect(r.body.revision).to.equal(1);
      const g = await t.api(reviewer).get('/api/v1/returns/2026Q2/D4');
      expect(g.body.evidence.map((e: { name: string; type: string; size: number }) => [e.name, e.type, e.size])).to.deep.equal([
        ['系统接入清单.xlsx', 'xlsx', xlsx().length],
        ['截图.png', 'png', png().length],
      ]);
      for (const tok of [office, reviewer, repD4]) expect((await t.api(tok).get(`/api/v1/attachments/${g.body.evidence[0].id}`)).status).to.equal(200);
      expect((await t.api(repD3).get(`/api/v1/attachments/${g.body.evidence[0].id}`)).status).to.equal(403);
    });

    it('scope and roles: another unit’s reporter, reviewers and office cannot attach; hostile files refused', async () => {
      const before = await storedFiles();
      expect((await postFiles(t, repD3, '/api/v1/returns/2026Q2/D4/evidence', [{ name: 'a.pdf', data: pdf() }])).status).to.equal(403);
      expect((await postFiles(t, reviewer, '/api/v1/returns/2026Q2/D4/evidence', [{ name: 'a.pdf', data: pdf() }])).status).to.equal(403);
      expect((await postFiles(t, office, '/api/v1/returns/2026Q2/D4/evidence', [{ name: 'a.pdf', data: pdf() }])).status).to.equal(403);
      const h = await postFiles(t, repD4, '/api/v1/returns/2026Q2/D4/evidence', [{ name: '证明.pdf', data: html() }]);
      expect(h.status).to.equal(422);
      expect(h.body.error.code).to.equal('attachment_type_refused');
      const none = await postFiles(t, repD4, '/api/v1/returns/2026Q2/D3/evidence', [{ name: 'a.pdf', data: pdf() }]);
      expect(none.status).to.equal(403);
      const noReturn = await postFiles(t, admin, '/api/v1/returns/2026Q2/D3/evidence', [{ name: 'a.pdf', data: pdf() }]);
      expect(noReturn.status).to.equal(404);
      expect(noReturn.body.error.code).to.equal('return_not_found');
      expect(await storedFiles()).to.equal(before);
    });

    it('a new revision starts without evidence unless carried over explicitly (沿用上一版佐证材料)', async () => {
      const r2 = await t.api(repD4).put('/api/v1/returns/2026Q2/D4', { values: PERFECT });
      expect(r2.body.revision).to.equal(2);
      expect((await t.api(reviewer).get('/api/v1/returns/2026Q2/D4')).body.evidence).to.deep.equal([]);
      const r3 = await t.api(repD4).put('/api/v1/returns/2026Q2/D4', { values: PERFECT, carryEvidence: true });
      expect(r3.status, r3.text).to.equal(200);
      expect(r3.body.revision).to.equal(3);
      expect(r3.body.evidence).to.deep.equal([]); // revision 2 had none
      await postFiles(t, admin, '/api/v1/returns/2026Q2/D4/evidence', [{ name: '补充.pdf', data: pdf() }]);
      const r4 = await t.api(repD4).put('/api/v1/returns/2026Q2/D4', { values: PERFECT, carryEvidence: true });
      expect(r4.body.evidence.map((e: { name: string }) => e.name)).to.deep.equal(['补充.pdf']);
      const g = await t.api(reviewer).get('/api/v1/returns/2026Q2/D4');
      expect(g.body.revision).to.equal(4);
      expect(g.body.evidence.map((e: { name: string }) => e.name)).to.deep.equal(['补充.pdf']);
      const dl = await t.api(reviewer).get(`/api/v1/attachments/${g.body.evidence[0].id}`);
      expect(dl.buffer.equals(pdf())).to.equal(true);
      expect((await t.api(repD4).put('/api/v1/returns/2026Q2/D4', { values: PERFECT, carryEvidence: 'yes' })).status).to.equal(400);
    });

    it('evidence on a return of a published period is refused with 409 period_published', async () => {
      const before = await storedFiles();
      const r = await postFiles(t, admin, '/api/v1/returns/2026Q1/D3/evidence', [{ name: 'a.pdf', data: pdf() }]);
      expect(r.status).to.equal(409);
      expect(r.body.error.code).to.equal('period_published');
      expect(await storedFiles()).to.equal(before);
    });
  });
});
