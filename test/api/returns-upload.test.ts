// Excel upload through POST /api/v1/returns/upload (SPEC §6, §7): all-or-nothing, every error kind,
// revisions, originals kept and downloadable by reviewers, reporter scope, preview + confirm on the web.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { FIELD_KEYS, FIELD_LABELS } from '../../server/domain/fields.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIMPLE_VALUES } from '../fixtures/build-fixtures.ts';
import { FIXTURE_UNITS, MANY_UNITS } from '../fixtures/units.ts';
import type { TestApp } from '../helpers/app.ts';
import { buildWorkbook, createUnits, harness, startWithAdmin, vals } from '../intake/helpers.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'xlsx');
const fixture = (name: string) => readFileSync(join(FIX, name));
const P = '2026Q4';

describe('returns upload API', () => {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let repD001: string;
  const units = [
    ...FIXTURE_UNITS.map((u) => ({ ...u, category: u.code.startsWith('C') ? 'city' : u.code.startsWith('X') ? 'county' : 'department' })),
    ...MANY_UNITS.slice(0, 40).map((u) => ({ ...u, category: 'department' })),
  ];

  /** Everything visible for the period, as a reviewer sees it. */
  const snapshot = async () => {
    const r = await t.api(reviewer).get(`/api/v1/returns?period=${P}`);
    expect(r.status).to.equal(200);
    const ups = await t.api(reviewer).get(`/api/v1/returns/uploads?period=${P}`);
    return { returns: r.body as { unit: string; revision: number }[], uploads: ups.body as unknown[] };
  };

  const upload = (token: string, buf: Buffer, name = 'r.xlsx', period = P) => t.api(token).postFile(`/api/v1/returns/upload?period=${period}`, 'file', buf, name);

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    reviewer = await t.tokenFor('reviewer');
    repD001 = await t.tokenFor('reporter', 'D001');
    await createUnits(t, admin, units);
  });
  after(async () => {
    await t?.stop();
  });

  it('accepts a many-unit file whole: one revision per unit, numbered per unit', async () => {
    const before = await snapshot();
    expect(before.returns).to.have.length(0);
    const r = await upload(admin, fixture('simple.xlsx'), '三个单位.xlsx');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.accepted).to.deep.equal([
      { unit: 'D001', revision: 1 },
      { unit: 'D002', revision: 1 },
      { unit: 'D003', revision: 1 },
    ]);
    for (const code of ['D001', 'D002', 'D003'] as const) {
      const g = await t.api(reviewer).get(`/api/v1/returns/${P}/${code}`);
      expect(g.body).to.include({ revision: 1, source: 'excel', status: 'submitted' });
      expect(g.body.values).to.deep.equal(SIMPLE_VALUES[code]);
    }
    const again = await upload(admin, fixture('messy.xlsx'), 'messy.xlsx');
    expect(again.status, again.text).to.equal(200);
    expect(again.body.accepted.map((a: { revision: number }) => a.revision)).to.deep.equal([2, 2, 2]);
    // messy.xlsx holds the same values as simple.xlsx, written the way people do.
    expect((await t.api(reviewer).get(`/api/v1/returns/${P}/D003`)).body.values).to.deep.equal(SIMPLE_VALUES.D003);
  });

  it('keeps the original file; reviewers download it byte for byte, reporters of other units cannot', async () => {
    const buf = fixture('simple.xlsx');
    const r = await upload(admin, buf, '原始文件.xlsx');
    expect(r.status).to.equal(200);
    const list = await t.api(reviewer).get(`/api/v1/returns/uploads?period=${P}`);
    const mine = list.body.find((u: { id: string }) => u.id === r.body.batch);
    expect(mine).to.include({ fileName: '原始文件.xlsx', status: 'committed' });
    const dl = await t.api(reviewer).get(`/api/v1/returns/uploads/${r.body.batch}/file`);
    expect(dl.status).to.equal(200);
    expect(dl.headers.get('content-disposition')).to.contain(encodeURIComponent('原始文件.xlsx'));
    expect(Buffer.compare(dl.buffer, buf)).to.equal(0);
    expect((await t.api(repD001).get(`/api/v1/returns/uploads/${r.body.batch}/file`)).status).to.equal(403);
    expect((await t.api(reviewer).get('/api/v1/returns/uploads/000000000000000000000000/file')).status).to.equal(404);
  });

  describe('every SPEC §6 error refuses the whole file, lists every problem and stores nothing', () => {
    let baseline: Awaited<ReturnType<typeof snapshot>>;
    before(async () => {
      baseline = await snapshot();
    });
    afterEach(async () => {
      expect(await snapshot()).to.deep.equal(baseline);
    });

    const expect422 = (r: { status: number; body: any; text: string }) => {
      expect(r.status, r.text).to.equal(422);
      expect(r.body.errors).to.be.an('array').that.is.not.empty;
      for (const e of r.body.errors) {
        expect(e).to.have.keys(['sheet', 'row', 'column', 'field', 'message']);
        expect(e.message).to.match(/[\u4e00-\u9fff]/);
      }
      expect(r.body.error.code).to.be.a('string');
      return r.body.errors as { sheet: string | null; row: number | null; column: string | null; field: string | null; message: string }[];
    };

    it('unknown unit, duplicate unit row, negative, fractional, broken ≤ rule — all in one file, all listed', async () => {
      const buf = await buildWorkbook([
        { code: 'D001', name: '省发展和改革委员会', values: vals(1) },
        { code: 'ZZ999', values: vals(2) }, // row 4: unknown
        { code: 'D001', values: vals(3) }, // row 5: duplicate
        { code: 'D002', values: vals(4, { networks_private: -3 }) }, // row 6: negative
        { code: 'D003', values: vals(5, { catalogue_items: 12.5 }) }, // row 7: fraction
        { code: 'C0571', values: vals(6, { systems_total: 10, systems_extranet: 12 }) }, // row 8: ≤
      ]);
      const errs = expect422(await upload(admin, buf));
      const at = (row: number) => errs.filter((e) => e.row === row);
      expect(at(4).map((e) => e.message).join()).to.contain('ZZ999');
      expect(at(5).map((e) => e.message).join()).to.match(/重复/);
      expect(at(6)[0]).to.include({ field: 'networks_private', column: 'F' });
      expect(at(6)[0]!.message).to.match(/负数/);
      expect(at(7)[0]).to.include({ field: 'catalogue_items', column: 'H' });
      expect(at(7)[0]!.message).to.match(/整数/);
      expect(at(8)[0]!.message).to.contain('「已接入电子政务外网的系统数」12 大于「信息系统总数」10');
      expect(at(8)[0]!.message).to.match(/^第8行 D列/);
    });

    it('the fixture with every content error', async () => {
      const errs = expect422(await upload(admin, fixture('errors.xlsx')));
      expect(errs.length).to.be.greaterThan(4);
    });

    it("a reporter uploading another unit's row", async () => {
      const buf = await buildWorkbook([
        { code: 'D001', values: vals(1) },
        { code: 'D002', values: vals(2) },
      ]);
      const errs = expect422(await upload(repD001, buf));
      expect(errs).to.have.length(1);
      expect(errs[0]!.row).to.equal(4);
      expect(errs[0]!.message).to.contain('D002');
    });

    it('.xls, a CSV renamed .xlsx, an HTML export, an .ods, a corrupt and an encrypted file', async () => {
      const legacy = expect422(await upload(admin, fixture('legacy.xls'), 'old.xls'));
      expect(legacy[0]!.message).to.contain('请另存为 .xlsx 格式后上传');
      expect((await upload(admin, fixture('csv-renamed.xlsx'))).body.error.code).to.equal('not_xlsx');
      expect422(await upload(admin, fixture('csv-renamed.xlsx')));
      expect422(await upload(admin, fixture('html-export.xlsx')));
      expect422(await upload(admin, fixture('spreadsheet.ods')));
      const good = fixture('simple.xlsx');
      const truncated = expect422(await upload(admin, good.subarray(0, Math.floor(good.length / 2))));
      expect(truncated[0]!.message).to.match(/损坏|不完整/);
      // An OOXML file encrypted with a password is an OLE compound file holding an "EncryptedPackage" stream.
      const ole = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(504), Buffer.from('EncryptionInfo\0EncryptedPackage', 'utf16le'), Buffer.alloc(1024)]);
      const enc = expect422(await upload(admin, ole));
      expect(enc[0]!.message).to.match(/密码|加密/);
      expect(enc[0]!.message).to.contain('请另存为 .xlsx 格式后上传');
      expect422(await upload(admin, Buffer.alloc(0)));
    });

    it('no header, missing columns, no data rows', async () => {
      expect422(await upload(admin, fixture('no-header.xlsx')));
      expect422(await upload(admin, fixture('missing-columns.xlsx')));
      expect422(await upload(admin, fixture('no-data.xlsx')));
    });

    it('a missing file field or a bad period is a 400; office and reviewers may not upload', async () => {
      const r = await t.api(admin).post(`/api/v1/returns/upload?period=${P}`, {});
      expect(r.status).to.equal(400);
      expect((await upload(admin, fixture('simple.xlsx'), 'r.xlsx', '2026Q5')).status).to.equal(400);
      expect((await upload(reviewer, fixture('simple.xlsx'))).status).to.equal(403);
      expect((await upload(await t.tokenFor('office'), fixture('simple.xlsx'))).status).to.equal(403);
    });
  });

  it('a reporter uploads their own row; files with header keys and a 200-unit file work', async () => {
    const own = await upload(repD001, await buildWorkbook([{ code: 'D001', values: vals(9) }], { header: 'key' }));
    expect(own.status, own.text).to.equal(200);
    expect(own.body.accepted).to.deep.equal([{ unit: 'D001', revision: 4 }]);
    const g = await t.api(repD001).get(`/api/v1/returns/${P}/D001`);
    expect(g.body.values).to.deep.equal(vals(9));
    const rows = MANY_UNITS.slice(0, 40).map((u, i) => ({ code: u.code, name: u.name, values: vals(i) }));
    const many = await upload(admin, await buildWorkbook(rows));
    expect(many.status, many.text).to.equal(200);
    expect(many.body.accepted).to.have.length(40);
    expect(many.body.accepted.every((a: { revision: number }) => a.revision === 1)).to.equal(true);
  });

  it('a deactivated unit: its row refuses the file; a staged preview of it can no longer be confirmed', async () => {
    const [a, b] = [MANY_UNITS[38]!, MANY_UNITS[39]!];
    const off = (u: { code: string; name: string }) => t.api(admin).put(`/api/v1/units/${u.code}`, { name: u.name, category: 'department', active: false });
    expect((await off(b)).body.active).to.equal(false);
    const r = await upload(admin, await buildWorkbook([{ code: a.code, name: a.name, values: vals(2) }, { code: b.code, values: vals(3) }]));
    expect(r.status, r.text).to.equal(422);
    expect(r.body.errors.map((e: { message: string }) => e.message)).to.deep.equal([`第4行 单位「${b.code}」已停用`]);
    expect((await t.api(admin).get(`/api/v1/returns/${P}/${a.code}`)).body.revision).to.equal(1);

    const uploads = await import('../../server/services/uploads.ts');
    const who = { username: 'stager-admin', role: 'admin' as const };
    const staged = await uploads.stageUpload(who, P, await buildWorkbook([{ code: a.code, name: a.name, values: vals(4) }]), 'a.xlsx');
    expect(staged.preview.map((x) => [x.unit, x.name, x.currentRevision])).to.deep.equal([[a.code, a.name, 1]]);
    expect((await off(a)).body.active).to.equal(false);
    const err = await uploads.confirmUpload(who, staged.batch).then(() => null, (e: { code?: string }) => e);
    expect(err?.code).to.equal('unit_inactive');
    expect((await t.api(admin).get(`/api/v1/returns/${P}/${a.code}`)).body.revision).to.equal(1);
  });
});

describe('returns template round trip', () => {
  let t: TestApp;
  before(async () => {
    const h = await harness();
    t = await h.startTestApp();
  });
  after(async () => {
    await t?.stop();
  });

  it('a reporter downloads their template, fills it in and uploads it', async () => {
    const admin = await t.tokenFor('admin');
    await createUnits(t, admin);
    const rep = await t.tokenFor('reporter', 'D002');
    expect((await t.api(rep).get(`/api/v1/returns/template?period=${P}&unit=D001`)).status).to.equal(403);
    const all = await t.api(admin).get(`/api/v1/returns/template?period=${P}`);
    expect(all.status).to.equal(200);
    const tpl = await t.api(rep).get(`/api/v1/returns/template?period=${P}`);
    expect(tpl.status).to.equal(200);
    expect(tpl.headers.get('content-type')).to.contain('spreadsheetml');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(tpl.buffer as never);
    const ws = wb.worksheets[0]!;
    let header = 0;
    let unitRow = 0;
    ws.eachRow((row, n) => {
      if (!header && row.getCell(1).value === '单位代码') header = n;
      if (row.getCell(1).value === 'D002') unitRow = n;
      expect(row.getCell(1).value).to.not.equal('D001'); // only the reporter's own unit
    });
    expect(header).to.be.greaterThan(0);
    expect(unitRow).to.be.greaterThan(header);
    const colOf = new Map<string, number>();
    ws.getRow(header).eachCell((c, col) => colOf.set(String(c.value).replace(/\s/g, ''), col));
    for (const k of FIELD_KEYS) ws.getRow(unitRow).getCell(colOf.get(FIELD_LABELS[k])!).value = vals(7)[k];
    const filled = Buffer.from(await wb.xlsx.writeBuffer());
    const up = await t.api(rep).postFile(`/api/v1/returns/upload?period=${P}`, 'file', filled, '模板.xlsx');
    expect(up.status, up.text).to.equal(200);
    expect(up.body.accepted).to.deep.equal([{ unit: 'D002', revision: 1 }]);
    expect((await t.api(rep).get(`/api/v1/returns/${P}/D002`)).body.values).to.deep.equal(vals(7));
  });
});

describe('returns upload API: size limit', () => {
  let t: TestApp;
  before(async () => {
    const h = await harness();
    t = await h.startTestApp({ env: { UPLOAD_MAX_BYTES: '4096' } });
  });
  after(async () => {
    await t?.stop();
  });

  it('refuses a file over the limit with 413 and stores nothing', async () => {
    const admin = await t.tokenFor('admin');
    await createUnits(t, admin);
    const rows = Array.from({ length: 300 }, (_, i) => ({ code: 'D001', name: `很长的单位名称${i}`.repeat(5), values: vals(i) }));
    const big = await buildWorkbook(rows);
    expect(big.length).to.be.greaterThan(4096);
    const r = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', big, 'big.xlsx');
    expect(r.status).to.equal(413);
    expect(r.body.error.code).to.equal('file_too_large');
    expect(r.body.error.message).to.match(/文件过大/);
    expect((await t.api(admin).get(`/api/v1/returns?period=${P}`)).body).to.deep.equal([]);
  });
});
