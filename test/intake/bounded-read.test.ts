// Users' workbooks are read within bounds and off the event loop (issue 12 item 1, SPEC §6): the
// 1.6 KB merge bomb, sheets declaring or holding more than 20 000 rows / 200 columns, and a valid
// file of 3.3 million small cells — through the HTTP contract (API upload, web upload, admin unit
// import), while /healthz keeps answering within a second. Every fixture is generated here.
import { expect } from 'chai';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { HEADER, manyCells, mergeBomb, rowXml, xlsxPackage } from '../fixtures/hostile.ts';
import { createUnits, startWithAdmin, vals } from './helpers.ts';
import { FIELD_KEYS } from '../../server/domain/fields.ts';

const P = '2026Q4';

interface Liveness {
  answers: number;
  slowest: number;
  failures: string[];
}

describe('reading users\' workbooks within bounds, off the event loop (issue 12)', function () {
  this.timeout(180_000);
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let adminWeb: WebClient;
  let readBudget: typeof import('../../server/excel/off-thread.ts').readBudget;
  let big: Buffer;

  /**
   * Runs `work` while polling /healthz every 50 ms, each poll with a 1 s deadline; → the result and
   * the liveness record (every poll must have been answered 200 within the second).
   */
  async function whileLive<T>(work: () => Promise<T>): Promise<{ result: T; live: Liveness }> {
    const live: Liveness = { answers: 0, slowest: 0, failures: [] };
    let stop = false;
    const poller = (async () => {
      while (!stop) {
        const t0 = Date.now();
        try {
          const r = await fetch(`${t.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          if (r.status !== 200) live.failures.push(`status ${r.status}`);
          live.answers++;
        } catch (x) {
          live.failures.push(String((x as Error).name));
        }
        live.slowest = Math.max(live.slowest, Date.now() - t0);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    try {
      const result = await work();
      return { result, live };
    } finally {
      stop = true;
      await poller;
    }
  }

  function expectLive(live: Liveness, minAnswers = 3) {
    expect(live.failures, 'every /healthz poll answered').to.deep.equal([]);
    expect(live.answers, 'polls during the read').to.be.at.least(minAnswers);
    expect(live.slowest, 'slowest /healthz answer (ms)').to.be.below(1000);
  }

  const upload = (buf: Buffer, name = 'r.xlsx', token = admin) => t.api(token).postFile(`/api/v1/returns/upload?period=${P}`, 'file', buf, name);

  /** Multipart POST from the browser session (CSRF token in the header, as page scripts send it). */
  const webUpload = async (w: WebClient, path: string, buf: Buffer) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(buf)]), 'f.xlsx');
    const res = await fetch(`${t.baseUrl}${path}`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: `sid=${w.cookie()}`, 'x-csrf-token': await w.csrfToken() }, redirect: 'manual' });
    return { status: res.status, text: await res.text() };
  };

  const nothingStored = async () => {
    const r = await t.api(reviewer).get(`/api/v1/returns?period=${P}`);
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal([]);
    const ups = await t.api(reviewer).get(`/api/v1/returns/uploads?period=${P}`);
    expect(ups.body).to.deep.equal([]);
  };

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    reviewer = await t.tokenFor('reviewer');
    await createUnits(t, admin);
    const u = await t.userFor('admin');
    adminWeb = t.web();
    await adminWeb.login(u.username, u.password);
    ({ readBudget } = await import('../../server/excel/off-thread.ts'));
    // 16 500 rows × 200 columns of small numbers under a header: 3.3 million cells, inside the limits.
    big = manyCells(16_500, 200);
  });
  after(async () => {
    await t?.stop();
  });

  it('the merge bomb (<mergeCell ref="A2:XFD1048576"/>, < 2 KB) is refused at once, naming the range; nothing stored', async () => {
    const bomb = mergeBomb();
    expect(bomb.length).to.be.below(2048);
    const { result: r, live } = await whileLive(() => upload(bomb));
    expect(r.status, r.text).to.equal(422);
    expect(r.body.error.code).to.equal('sheet_too_large');
    expect(r.body.errors).to.deep.equal([
      {
        sheet: 'Sheet1',
        row: 2,
        column: 'A',
        field: null,
        message: '工作表「Sheet1」的合并单元格 A2:XFD1048576 延伸到第 1048576 行、第 16384 列，超过上限（最多 20000 行、200 列），未读取。请删除多余的行、列和合并单元格，只保留填报区域后重新上传',
      },
    ]);
    expectLive(live, 1);
    await nothingStored();
  });

  it('a declared dimension, content or a merged range past 20 000 rows / 200 columns is refused before anything is expanded', async () => {
    const head = rowXml(1, HEADER);
    const one = rowXml(2, ['D001', null, ...FIELD_KEYS.map((k) => vals(0)[k])]);
    const cases: [string, Buffer, RegExp][] = [
      ['dimension', xlsxPackage([{ name: '填报', dimension: 'A1:XFD1048576', rows: head + one }]), /^工作表「填报」声明的数据区域 A1:XFD1048576 有 1048576 行、16384 列，超过上限/],
      ['row 20 001', xlsxPackage([{ name: '填报', rows: head + one + rowXml(20_001, ['x']) }]), /^工作表「填报」第20001行有内容（超过第 20000 行），超过上限/],
      ['column 201', xlsxPackage([{ name: '填报', rows: head + one.replace('</row>', '<c r="GS2"><v>1</v></c></row>') }]), /^工作表「填报」第2行 GS列有内容（超过第 200 列），超过上限/],
      ['whole columns merged', xlsxPackage([{ name: '填报', rows: head + one, after: '<mergeCells><mergeCell ref="B:C"/></mergeCells>' }]), /^工作表「填报」的合并单元格 B:C 延伸到第 1048576 行/],
      ['overlapping merges', xlsxPackage([{ name: '填报', rows: head + one, after: `<mergeCells>${'<mergeCell ref="B3:GR20000"/>'.repeat(3)}</mergeCells>` }]), /^工作表「填报」的合并单元格过多（相互重叠），超过上限/],
    ];
    for (const [what, buf, message] of cases) {
      const r = await upload(buf);
      expect(r.status, `${what}: ${r.text}`).to.equal(422);
      expect(r.body.error.code, what).to.equal('sheet_too_large');
      expect(r.body.errors, what).to.have.length(1);
      expect(r.body.errors[0].sheet, what).to.equal('填报');
      expect(r.body.errors[0].message, what).to.match(message);
    }
    // The same at the limit is read: 20 000 rows declared, content in column 200 of a title row.
    const atLimit = xlsxPackage([{ name: '填报', dimension: 'A1:GR20000', rows: head + one.replace('</row>', '<c r="GR2" t="inlineStr"><is><t>备注</t></is></c></row>') }]);
    const ok = await upload(atLimit);
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.accepted).to.deep.equal([{ unit: 'D001', revision: 1 }]);
  });

  it('limits are checked on the data sheet only: a huge instructions sheet before it is skipped, not read', async () => {
    const instructions = { name: '填报说明', dimension: 'A1:XFD1048576', rows: rowXml(1, ['填报说明：请在下一个工作表填写']), after: '<mergeCells><mergeCell ref="A1:XFD1048576"/></mergeCells>' };
    const data = { name: '数据', rows: rowXml(1, HEADER) + rowXml(2, ['D002', null, ...FIELD_KEYS.map((k) => vals(1)[k])]) };
    const { result: r, live } = await whileLive(() => upload(xlsxPackage([instructions, data])));
    expect(r.status, r.text).to.equal(200);
    expect(r.body.accepted).to.deep.equal([{ unit: 'D002', revision: 1 }]);
    expectLive(live, 1);
  });

  it('a valid file of 3.3 million cells is read in a worker: its errors are listed, and /healthz answers within a second throughout', async () => {
    expect(big.length).to.be.above(5 * 1024 * 1024).and.below(10 * 1024 * 1024);
    const { result: r, live } = await whileLive(() => upload(big, 'big.xlsx'));
    expect(r.status, r.text.slice(0, 500)).to.equal(422);
    expect(r.body.error.code).to.equal('invalid_file');
    // 16 500 data rows with codes that are no unit: the first 1 000 errors listed, then how many more.
    expect(r.body.errors).to.have.length(1001);
    expect(r.body.errors[0]).to.include({ sheet: 'Sheet1', row: 2, column: 'A', field: 'unit_code' });
    expect(r.body.errors[1000].message).to.match(/^错误过多，另有 \d+ 处错误未列出/);
    expectLive(live);
  });

  it('three such uploads at once (two read, one waits): the server stays live', async () => {
    const { result, live } = await whileLive(() => Promise.all([upload(big), upload(big), upload(big)]));
    expect(result.map((r) => r.status)).to.deep.equal([422, 422, 422]);
    expect(result.map((r) => r.body.error.code)).to.deep.equal(['invalid_file', 'invalid_file', 'invalid_file']);
    expectLive(live);
  });

  it('a read past its time budget or its memory budget is refused (422 upload_too_complex), never fatal', async () => {
    const prev = readBudget({ timeoutMs: 300 });
    try {
      const { result: r, live } = await whileLive(() => upload(big));
      expect(r.status, r.text.slice(0, 300)).to.equal(422);
      expect(r.body.error.code).to.equal('upload_too_complex');
      expect(r.body.errors[0].message).to.equal('文件过于复杂，读取超过 0.3 秒仍未完成，已拒绝，未保存任何数据。请只保留填报区域（删除多余的工作表、行、列和格式）后重新上传');
      expectLive(live, 1);
    } finally {
      readBudget(prev);
    }
    // 16 MB of heap is not enough to read 3.3 million cells: the worker dies of it, the server does not.
    const prev2 = readBudget({ maxMemoryMb: 16 });
    try {
      const { result: r, live } = await whileLive(() => upload(big));
      expect(r.status, r.text.slice(0, 300)).to.equal(422);
      expect(r.body.error.code).to.equal('upload_too_complex');
      expect(r.body.errors[0].message).to.match(/^文件过于复杂，读取所需内存超过 16 MB，已拒绝/);
      expectLive(live);
    } finally {
      readBudget(prev2);
    }
    // And the next upload is read as usual.
    const after = await upload(mergeBomb());
    expect(after.body.error.code).to.equal('sheet_too_large');
  });

  it('the web upload and the admin unit import use the same guard (the page lists the error; nothing changes)', async () => {
    const page = await webUpload(adminWeb, `/returns/upload?period=${P}&unit=D003`, mergeBomb());
    expect(page.status).to.equal(422);
    expect(page.text).to.contain('工作表「Sheet1」的合并单元格 A2:XFD1048576 延伸到第 1048576 行');
    const unitsBefore = (await t.api(admin).get('/api/v1/units')).body;
    const bomb = mergeBomb(['单位代码', '单位名称', '单位类别']);
    const { result: imp, live } = await whileLive(() => webUpload(adminWeb, '/admin/units/import', bomb));
    expect(imp.status).to.equal(422);
    expect(imp.text).to.contain('工作表「Sheet1」的合并单元格 A2:XFD1048576 延伸到第 1048576 行、第 16384 列，超过上限');
    expectLive(live, 1);
    // A unit list of 3.3 million cells: read off the loop too.
    const list = manyCells(16_500, 200, { header: ['单位代码', '单位名称', '单位类别'] });
    const { result: imp2, live: live2 } = await whileLive(() => webUpload(adminWeb, '/admin/units/import', list));
    expect(imp2.status).to.equal(422);
    expect(imp2.text).to.contain('单位类别应为');
    expectLive(live2);
    expect((await t.api(admin).get('/api/v1/units')).body).to.deep.equal(unitsBefore);
  });
});
