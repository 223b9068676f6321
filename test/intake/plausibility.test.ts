// Plausibility against the unit's history (issue 14 item 3), through the HTTP contract, with files made
// by LibreOffice Calc (test/fixtures/build-plausibility.sh): jumps against the previous quarter and
// against the same quarter a year before are accepted with warnings — 200 {accepted, warnings} from
// the API upload, 200 {revision, warnings} from PUT, shown in the web preview, kept on the revision
// (and so shown to reviewers). A rejected previous return is no comparison base.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_Q3, FILE_Q4, PREVIOUS_Q2, YEAR_AGO_Q4 } from '../fixtures/build-plausibility-sources.ts';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from './helpers.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'xlsx');
const fixture = (name: string) => readFileSync(join(FIX, name));

const Q3_WARNINGS = [
  { sheet: '填报', row: 4, column: 'C', field: 'systems_total', message: '第4行 C列 「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实' },
  { sheet: '填报', row: 4, column: 'I', field: 'catalogue_shared', message: '第4行 I列 「已发布共享的目录数」为 70，上季度（2026Q2）为 80，减少 10；此项通常只增不减，请核实' },
  { sheet: '填报', row: 6, column: 'G', field: 'networks_standalone', message: '第6行 G列 「仍独立运行的业务专网数」为 3，上季度（2026Q2）已降为 0，现又出现，请核实' },
];

describe('plausibility warnings on every intake path (issue 14 item 3)', function () {
  this.timeout(90_000);
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  const webLogin = async (role: 'admin' | 'reviewer' | 'reporter', unit?: string): Promise<WebClient> => {
    const u = await t.userFor(role, unit);
    const w = t.web();
    await w.login(u.username, u.password);
    return w;
  };
  const put = (period: string, unit: string, values: object, token = admin) => t.api(token).put(`/api/v1/returns/${period}/${unit}`, { values });

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    reviewer = await t.tokenFor('reviewer');
    await createUnits(t, admin);
    for (const [u, v] of Object.entries(PREVIOUS_Q2)) expect((await put('2026Q2', u, v)).status).to.equal(200);
    for (const [u, v] of Object.entries(YEAR_AGO_Q4)) expect((await put('2025Q4', u, v)).status).to.equal(200);
  });
  after(async () => {
    await t?.stop();
  });

  it('API upload: jumps against the previous quarter → 200 with warnings, kept on each revision', async () => {
    const r = await t.api(admin).postFile('/api/v1/returns/upload?period=2026Q3', 'file', fixture('lo-plausibility-previous.xlsx'), 'q3.xlsx');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.accepted).to.deep.equal([{ unit: 'D001', revision: 1 }, { unit: 'D002', revision: 1 }, { unit: 'D003', revision: 1 }]);
    expect(r.body.warnings).to.deep.equal(Q3_WARNINGS);
    const d1 = await t.api(reviewer).get('/api/v1/returns/2026Q3/D001');
    expect(d1.body.values).to.deep.equal(FILE_Q3.D001);
    expect(d1.body.warnings).to.deep.equal(Q3_WARNINGS.slice(0, 2));
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D002')).body.warnings).to.deep.equal([]);
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D003')).body.warnings).to.deep.equal([Q3_WARNINGS[2]]);
  });

  it('API upload: a first return of the quarter is compared with the same quarter last year', async () => {
    const r = await t.api(admin).postFile('/api/v1/returns/upload?period=2026Q4', 'file', fixture('lo-plausibility-year-ago.xlsx'), 'q4.xlsx');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.accepted).to.deep.equal([{ unit: 'C0571', revision: 1 }, { unit: 'X330102', revision: 1 }]);
    expect(r.body.warnings).to.deep.equal([
      { sheet: '填报', row: 4, column: 'J', field: 'requests_received', message: '第4行 J列 「收到的共享申请数」为 600，去年同期（2025Q4）为 120，增至 5 倍，请核实' },
      { sheet: '填报', row: 4, column: 'K', field: 'requests_on_time', message: '第4行 K列 「按时响应的共享申请数」为 550，去年同期（2025Q4）为 100，增至 5.5 倍，请核实' },
    ]);
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q4/C0571')).body.values).to.deep.equal(FILE_Q4.C0571);
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q4/X330102')).body.warnings).to.deep.equal([]);
  });

  it('web upload: the preview shows the warnings before confirming; confirming keeps them', async () => {
    const w = await webLogin('admin');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(fixture('lo-plausibility-previous.xlsx'))]), 'q3.xlsx');
    const res = await fetch(`${t.baseUrl}/returns/upload?period=2026Q3`, { method: 'POST', body: form, headers: { accept: 'text/html', cookie: w.cookies(), 'x-csrf-token': await w.csrfToken() }, redirect: 'manual' });
    expect(res.status, await res.clone().text()).to.equal(303);
    const preview = await w.get(res.headers.get('location')!);
    expect(preview.status).to.equal(200);
    expect(preview.text).to.contain('提示（3）');
    expect(preview.text).to.contain('「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实');
    expect(preview.text).to.contain('「仍独立运行的业务专网数」为 3，上季度（2026Q2）已降为 0，现又出现，请核实');
    // Nothing stored before confirming.
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D001')).body.revision).to.equal(1);
    const ok = await w.postForm(`${res.headers.get('location')}/confirm`, {});
    expect(ok.status).to.equal(303);
    const g = await t.api(reviewer).get('/api/v1/returns/2026Q3/D001');
    expect(g.body.revision).to.equal(2);
    expect(g.body.warnings).to.deep.equal(Q3_WARNINGS.slice(0, 2));
  });

  it('API PUT: 200 {revision, warnings}, kept on the revision; values in line with the history get none', async () => {
    const jump = { ...PREVIOUS_Q2.D002!, systems_total: 200, systems_extranet: 45 };
    const r = await put('2026Q3', 'D002', jump);
    expect(r.status, r.text).to.equal(200);
    expect(r.body.revision).to.equal(3); // 1: API upload, 2: web upload
    const w = [{ sheet: null, row: null, column: null, field: 'systems_total', message: '「信息系统总数」为 200，上季度（2026Q2）为 45，增至 4.4 倍，请核实' }];
    expect(r.body.warnings).to.deep.equal(w);
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D002')).body.warnings).to.deep.equal(w);
    const calm = await put('2026Q3', 'D002', PREVIOUS_Q2.D002!);
    expect(calm.status).to.equal(200);
    expect(calm.body.warnings).to.deep.equal([]);
    expect((await t.api(reviewer).get('/api/v1/returns/2026Q3/D002')).body.warnings).to.deep.equal([]);
  });

  it('a rejected return of the previous quarter is no comparison base (SPEC §3: no usable return)', async () => {
    const low = vals(0, { systems_total: 4, systems_extranet: 1, systems_cloud: 1 });
    expect((await put('2026Q3', 'X330102', low)).status).to.equal(200);
    const high = { ...low, systems_total: 40 };
    expect((await put('2026Q4', 'X330102', high)).body.warnings.map((x: { field: string }) => x.field)).to.include('systems_total');
    const rej = await t.api(reviewer).post('/api/v1/returns/2026Q3/X330102/review', { decision: 'reject', reason: '数据有误' });
    expect(rej.status, rej.text).to.equal(200);
    const again = await put('2026Q4', 'X330102', high);
    expect(again.status).to.equal(200);
    // Against 2025Q4 (8 systems) 40 is ×5 → still one warning, now against the year before.
    expect(again.body.warnings.filter((x: { field: string }) => x.field === 'systems_total').map((x: { message: string }) => x.message)).to.deep.equal([
      '「信息系统总数」为 40，去年同期（2025Q4）为 8，增至 5 倍，请核实',
    ]);
  });

  it('the web form stores the warnings on the revision too', async () => {
    const w = await webLogin('reporter', 'D003');
    const v = { ...PREVIOUS_Q2.D003!, catalogue_items: 100000 };
    const r = await w.postForm('/returns/2026Q3/D003', Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])));
    expect(r.status, r.text).to.equal(303);
    const g = await t.api(reviewer).get('/api/v1/returns/2026Q3/D003');
    expect(g.body.source).to.equal('web');
    expect(g.body.warnings).to.deep.equal([
      { sheet: null, row: null, column: null, field: 'catalogue_items', message: '「数据资源目录编目数」为 100000，上季度（2026Q2）为 12345，增至 8.1 倍，请核实' },
    ]);
  });
  it('a file of many units (over 1 000) reads each comparison quarter whole: the same warnings', async () => {
    const { Unit } = await import('../../server/models/unit.ts');
    const codes = Array.from({ length: 1001 }, (_, i) => `Z${String(i).padStart(4, '0')}`);
    await Unit.insertMany(codes.map((code) => ({ code, name: `单位${code}`, category: 'county' })));
    const base = vals(1);
    expect((await put('2025Q4', 'Z0500', base)).status).to.equal(200);
    expect((await put('2025Q4', 'Z0007', base)).status).to.equal(200);
    const rows = codes.map((code) => ({ code, values: code === 'Z0500' ? { ...base, duties_total: base.duties_total * 3 } : base }));
    const r = await t.api(admin).postFile('/api/v1/returns/upload?period=2026Q1', 'file', await buildWorkbook(rows), 'many.xlsx');
    expect(r.status, r.text.slice(0, 300)).to.equal(200);
    expect(r.body.accepted).to.have.length(1001);
    expect(r.body.warnings).to.deep.equal([
      { sheet: '填报', row: 503, column: 'L', field: 'duties_total', message: `第503行 L列 「权责清单事项数」为 ${base.duties_total * 3}，上季度（2025Q4）为 ${base.duties_total}，增至 3 倍，请核实` },
    ]);
  });
});
