// PUT /api/v1/units/:code (admin, upsert 201/200) and GET /api/v1/units (SPEC §1, §7).
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.ts';
import { startWithAdmin } from '../intake/helpers.ts';

describe('units API', () => {
  let t: TestApp;
  let admin: string;
  before(async () => {
    ({ t, admin } = await startWithAdmin());
  });
  after(async () => {
    await t?.stop();
  });

  it('creates (201), updates (200) and lists units with the SPEC fields', async () => {
    const a = t.api(admin);
    const c = await a.put('/api/v1/units/C0571', { name: ' 杭州市 ', category: 'city' });
    expect(c.status, c.text).to.equal(201);
    expect(c.body).to.deep.equal({ code: 'C0571', name: '杭州市', category: 'city', parent: null, active: true, aliases: [] });
    const x = await a.put('/api/v1/units/X330102', { name: '上城区', category: 'county', parent: 'C0571' });
    expect(x.status).to.equal(201);
    const u = await a.put('/api/v1/units/C0571', { name: '杭州市人民政府', category: 'city' });
    expect(u.status).to.equal(200);
    expect(u.body.name).to.equal('杭州市人民政府');
    const list = await t.api(await t.tokenFor('office')).get('/api/v1/units');
    expect(list.status).to.equal(200);
    expect(list.body).to.deep.equal([
      { code: 'C0571', name: '杭州市人民政府', category: 'city', parent: null, active: true, aliases: [] },
      { code: 'X330102', name: '上城区', category: 'county', parent: 'C0571', active: true, aliases: [] },
    ]);
  });

  it('refuses bad input with 422 and Chinese messages; only admins may write', async () => {
    const a = t.api(admin);
    const bad = await a.put('/api/v1/units/D001', { name: '', category: 'ministry' });
    expect(bad.status).to.equal(422);
    expect(bad.body.error.code).to.equal('invalid_unit');
    expect(bad.body.error.message).to.contain('单位名称不能为空');
    expect(bad.body.error.message).to.contain('单位类别');
    expect((await a.put('/api/v1/units/D001', { name: '某厅', category: 'department', parent: 'NOPE' })).body.error.message).to.contain('不存在');
    expect((await a.put('/api/v1/units/D001', { name: '某厅', category: 'department', parent: 'D001' })).status).to.equal(422);
    // A cycle: C0571 under X330102 while X330102 is under C0571.
    const cyc = await a.put('/api/v1/units/C0571', { name: '杭州市', category: 'city', parent: 'X330102' });
    expect(cyc.status).to.equal(422);
    expect(cyc.body.error.message).to.contain('循环');
    expect((await a.put('/api/v1/units/bad%20code', { name: 'x', category: 'city' })).status).to.equal(422);
    expect((await t.api(await t.tokenFor('reviewer')).put('/api/v1/units/D009', { name: 'x', category: 'city' })).status).to.equal(403);
    expect((await t.api().put('/api/v1/units/D009', { name: 'x', category: 'city' })).status).to.equal(401);
    expect((await a.get('/api/v1/units')).body).to.have.length(2);
  });

  it('aliases (简称): an optional array, kept when absent, cleaned, and never another unit\'s name or alias', async () => {
    const a = t.api(admin);
    const d = await a.put('/api/v1/units/D101', { name: '省发展和改革委员会', category: 'department', aliases: [' 省发改委 ', '发改委', '省发改委', '省发展和改革委员会', ''] });
    expect(d.status, d.text).to.equal(201);
    expect(d.body.aliases).to.deep.equal(['省发改委', '发改委']);
    // Absent: unchanged; [] clears.
    expect((await a.put('/api/v1/units/D101', { name: '省发展和改革委员会', category: 'department' })).body.aliases).to.deep.equal(['省发改委', '发改委']);
    const other = await a.put('/api/v1/units/D102', { name: '省教育厅', category: 'department', aliases: ['发改委'] });
    expect(other.status).to.equal(422);
    expect(other.body.error).to.include({ code: 'invalid_unit', message: '简称「发改委」已是单位 D101（省发展和改革委员会）的简称' });
    const name = await a.put('/api/v1/units/D102', { name: '省教育厅', category: 'department', aliases: ['省发展和改革委员会'] });
    expect(name.body.error.message).to.equal('简称「省发展和改革委员会」已是单位 D101（省发展和改革委员会）的名称');
    expect((await a.put('/api/v1/units/D102', { name: '省教育厅', category: 'department', aliases: 'x' })).status).to.equal(201);
    expect((await a.put('/api/v1/units/D103', { name: '某厅', category: 'department', aliases: [1] })).body.error.message).to.contain('字符串数组');
    expect((await a.put('/api/v1/units/D101', { name: '省发展和改革委员会', category: 'department', aliases: [] })).body.aliases).to.deep.equal([]);
    expect((await a.get('/api/v1/units')).body.find((u: { code: string }) => u.code === 'D102').aliases).to.deep.equal(['x']);
  });

  it('deactivates a unit (active: false): no more submissions for it', async () => {
    const a = t.api(admin);
    await a.put('/api/v1/units/D002', { name: '省教育厅', category: 'department' });
    expect((await a.put('/api/v1/units/D002', { name: '省教育厅', category: 'department', active: false })).body.active).to.equal(false);
    const r = await a.put('/api/v1/returns/2026Q4/D002', { values: {} });
    expect(r.status).to.equal(409);
    expect(r.body.error.code).to.equal('unit_inactive');
  });
});
