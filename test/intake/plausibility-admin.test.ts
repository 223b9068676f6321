// The plausibility rule set is data (issue 14 item 3): admins edit it on /admin/plausibility (CSRF,
// Chinese validation errors that change nothing), each save is version n+1 and audited, and what is
// saved is what the intake paths apply from then on.
import { expect } from 'chai';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { createUnits, startWithAdmin, vals } from './helpers.ts';

describe('admin: 异常提示规则 (plausibility rules as data)', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: string;
  let web: WebClient;
  const decoded = (html: string) => html.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
  /** The form as the page fills it: every rule enabled with its default numbers and fields. */
  const defaults = (): [string, string][] => {
    const all = ['systems_total', 'systems_extranet', 'systems_cloud', 'networks_private', 'networks_standalone', 'catalogue_items', 'catalogue_shared', 'requests_received', 'requests_on_time', 'duties_total', 'duties_with_data'];
    return [
      ['baseVersion', '1'],
      ['rules[0][enabled]', 'on'], ['rules[0][factor]', '2'], ['rules[0][floor]', '5'], ...all.map((k) => ['rules[0][fields]', k] as [string, string]),
      ['rules[1][enabled]', 'on'], ['rules[1][factor]', '3'], ['rules[1][floor]', '10'], ...all.map((k) => ['rules[1][fields]', k] as [string, string]),
      ['rules[2][enabled]', 'on'], ['rules[2][minDrop]', '1'], ...['systems_extranet', 'systems_cloud', 'catalogue_shared', 'duties_with_data'].map((k) => ['rules[2][fields]', k] as [string, string]),
      ['rules[3][enabled]', 'on'], ['rules[3][fields]', 'networks_standalone'],
    ];
  };
  const post = async (pairs: [string, string][], csrf = true) => {
    const body = new URLSearchParams([...pairs, ...(csrf ? [['_csrf', await web.csrfToken()] as [string, string]] : [])]);
    const r = await fetch(`${t.baseUrl}/admin/plausibility`, { method: 'POST', body, headers: { cookie: web.cookies(), 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    return { status: r.status, location: r.headers.get('location'), text: await r.text() };
  };
  const versions = async () => (decoded((await web.get('/admin/plausibility')).text).match(/<td>第 \d+ 版<\/td>/g) ?? []).length;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    const u = await t.userFor('admin');
    web = t.web();
    await web.login(u.username, u.password);
  });
  after(async () => {
    await t?.stop();
  });

  it('shows the defaults (v1, stored at start-up) to admins only, linked from /admin', async () => {
    const { PlausibilityRuleSet } = await import('../../server/models/plausibility-rules.ts');
    expect((await PlausibilityRuleSet.find({}, { version: 1 }).lean()).map((d) => d.version)).to.deep.equal([1]);
    const page = await web.get('/admin/plausibility');
    expect(page.status).to.equal(200);
    const html = decoded(page.text);
    expect(html).to.contain('现行版本：<strong>第 1 版</strong>');
    for (const id of ['P1', 'P2', 'P3', 'P4']) expect(html).to.contain(`data-rule="${id}"`);
    expect(html).to.contain('name="rules[0][factor]" value="2"').and.to.contain('name="rules[1][floor]" value="10"');
    expect(html).to.match(/name="rules\[3\]\[fields\]" value="networks_standalone" checked/);
    expect(html).to.not.match(/name="rules\[3\]\[fields\]" value="systems_total" checked/);
    expect((await web.get('/admin')).text).to.contain('href="/admin/plausibility"');
    for (const role of ['reviewer', 'office'] as const) {
      const u = await t.userFor(role);
      const w = t.web();
      await w.login(u.username, u.password);
      expect((await w.get('/admin/plausibility')).status).to.equal(403);
      expect((await w.postForm('/admin/plausibility', { baseVersion: '1' })).status).to.equal(403);
    }
  });

  it('refuses a draft with every problem in Chinese and saves nothing; no CSRF token → 403', async () => {
    const bad = defaults()
      .map(([k, v]) => [k, k === 'rules[0][factor]' ? '1' : k === 'rules[2][minDrop]' ? '' : k === 'rules[1][floor]' ? '十' : v] as [string, string])
      .filter(([k]) => k !== 'rules[3][fields]');
    const r = await post(bad);
    expect(r.status).to.equal(422);
    expect(r.text).to.contain('规则有误，未保存');
    expect(r.text).to.contain('规则 P1（与上季度相比大幅增减）的倍数应为大于 1、不超过 1000 的数');
    expect(r.text).to.contain('规则 P2（与去年同期相比大幅增减）的最小变化量应为不小于 0 的整数');
    expect(r.text).to.contain('规则 P3（共享类累计数比上季度减少）的最小减少量应为不小于 1 的整数');
    expect(r.text).to.contain('规则 P4（独立运行的专网降为 0 后又出现）已启用，请至少选择一项适用指标');
    // What was typed is shown again.
    expect(decoded(r.text)).to.contain('name="rules[0][factor]" value="1"');
    expect(decoded(r.text)).to.contain('name="rules[1][floor]" value="十"');
    expect((await post(defaults(), false)).status).to.equal(403);
    expect(await versions()).to.equal(1);
  });

  it('saving makes version 2 (audited), applied to the next submissions; a stale editor gets 409', async () => {
    // P1 off: a quarter-on-quarter jump is no longer flagged.
    const draft = defaults().filter(([k]) => k !== 'rules[0][enabled]').concat([['note', '季度波动大，暂停环比提示']]);
    const r = await post(draft);
    expect(r.status, r.text.slice(0, 500)).to.equal(303);
    const page = decoded((await web.get('/admin/plausibility')).text);
    expect(page).to.contain('已保存为异常提示规则第 2 版');
    expect(page).to.contain('现行版本：<strong>第 2 版</strong>');
    expect(page).to.contain('季度波动大，暂停环比提示');
    expect(page).to.not.match(/name="rules\[0\]\[enabled\]"\s+checked/);
    const { AuditLog } = await import('../../server/models/audit-log.ts');
    const entry = await AuditLog.findOne({ action: 'plausibility.save', entityId: '2' }).lean();
    expect(entry).to.not.equal(null);
    expect((entry!.after as { rules: { id: string; enabled: boolean }[] }).rules.map((x) => [x.id, x.enabled])).to.deep.equal([['P1', false], ['P2', true], ['P3', true], ['P4', true]]);

    const base = vals(0);
    expect((await t.api(admin).put('/api/v1/returns/2026Q2/D001', { values: base })).status).to.equal(200);
    const jump = await t.api(admin).put('/api/v1/returns/2026Q3/D001', { values: { ...base, systems_total: base.systems_total * 10 } });
    expect(jump.status).to.equal(200);
    expect(jump.body.warnings).to.deep.equal([]);
    // P3 is still on: a shared count that falls is flagged.
    const fall = await t.api(admin).put('/api/v1/returns/2026Q3/D001', { values: { ...base, catalogue_shared: base.catalogue_shared - 1 } });
    expect(fall.body.warnings.map((w: { field: string }) => w.field)).to.deep.equal(['catalogue_shared']);

    const stale = await post(defaults()); // baseVersion 1
    expect(stale.status).to.equal(409);
    expect(stale.text).to.contain('异常提示规则已被修改为第 2 版，请刷新后重新编辑');
    expect(await versions()).to.equal(2);
  });
  it('hostile shapes in the fields of these forms (rules, bulk approval, decision filters): a 4xx or a redirect, never a 500', async () => {
    const SHAPES: unknown[] = [{ toString: 1 }, { valueOf: 1, toString: 1 }, { $ne: null }, [1, 2], { a: { b: { toString: 1 } } }, [{ enabled: { toString: 1 }, fields: [{ toString: 1 }], factor: { valueOf: 1 } }]];
    const ROUTES: [string, string[]][] = [
      ['/admin/plausibility', ['baseVersion', 'note', 'rules']],
      ['/review/2026Q3', ['scope', 'pick', 'state', 'warn']],
      ['/review/2026Q3/D001', ['from', 'state', 'warn', 'decision']],
    ];
    const failures: string[] = [];
    for (const [path, fields] of ROUTES) {
      for (const field of fields) {
        for (const shape of SHAPES) {
          const body: Record<string, unknown> = Object.fromEntries(fields.map((f) => [f, 'x']));
          body[field] = shape;
          const r = await t.api(admin).post(path, body, { accept: 'text/html' });
          if (r.status >= 500) failures.push(`${path} ${field} = ${JSON.stringify(shape)}: ${r.status} ${r.text.slice(0, 120)}`);
        }
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(await versions()).to.equal(2);
  });
  it('reads never write: a database without stored rules answers the defaults as v1 and stays without them; a save stores v1 first', async () => {
    const { PlausibilityRuleSet } = await import('../../server/models/plausibility-rules.ts');
    await PlausibilityRuleSet.deleteMany({});
    const page = decoded((await web.get('/admin/plausibility')).text);
    expect(page).to.contain('现行版本：<strong>第 1 版</strong>');
    expect(page).to.contain('name="rules[0][factor]" value="2"');
    // The defaults apply to a submission (P1 on again).
    const base = vals(0);
    expect((await t.api(admin).put('/api/v1/returns/2026Q2/D002', { values: base })).status).to.equal(200);
    const jump = await t.api(admin).put('/api/v1/returns/2026Q3/D002', { values: { ...base, systems_total: base.systems_total * 10 } });
    expect(jump.body.warnings.map((w: { field: string }) => w.field)).to.deep.equal(['systems_total']);
    expect(await PlausibilityRuleSet.countDocuments()).to.equal(0);
    const saved = await post(defaults().concat([['note', '恢复默认']]));
    expect(saved.status).to.equal(303);
    const stored = await PlausibilityRuleSet.find({}, { version: 1, createdBy: 1, note: 1 }).sort({ version: 1 }).lean();
    expect(stored.map((d) => [d.version, d.createdBy === 'system', d.note])).to.deep.equal([[1, true, '默认规则'], [2, false, '恢复默认']]);
  });
});
