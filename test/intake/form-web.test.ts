// The returns web form over real HTTP (issue 14 item 4): each field's 口径 and unit from the one source,
// a refused submission re-rendered with what was typed and the errors as a table pointing at the
// inputs, 按上期数据预填 from the previous quarter's latest usable revision (a read: nothing stored), the
// live-indicator panel's definitions and first values, and a refused upload's table with one line for
// a row that is refused whole (another unit's row).
import { expect } from 'chai';
import { FIELD_DEFINITIONS, FIELD_KEYS } from '../../server/domain/fields.ts';
import type { TestApp, WebClient } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from './helpers.ts';

const P = '2026Q4';
const PREV = '2026Q3';

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#x3D;/g, '=').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The attributes of the <input id="f-KEY"> of a form page. */
function inputOf(html: string, key: string): Record<string, string> {
  const tag = new RegExp(`<input id="f-${key}"[^>]*>`).exec(html)?.[0];
  if (!tag) throw new Error(`no input for ${key}`);
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) if (m[1] !== 'input') attrs[m[1]!] = unescape(m[2] ?? '');
  return attrs;
}

/** The rows of the first issue table after `from` in the page: each row's cell texts. */
function issueRows(html: string, from = 0): string[][] {
  const start = html.indexOf('data-issue-table', from);
  if (start < 0) return [];
  const body = html.slice(html.indexOf('<tbody>', start), html.indexOf('</tbody>', start));
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((r) =>
    [...r[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => unescape(c[1]!.replace(/<[^>]+>/g, '')).replace(/\s+/g, ' ').trim()),
  );
}

describe('returns web form: 口径, re-render, error table, prefill', () => {
  let t: TestApp;
  let admin: string;
  let rep: WebClient;
  let repToken: string;
  let reviewerToken: string;

  const asForm = (v: Record<string, unknown>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    const u = await t.userFor('reporter', 'D001');
    repToken = u.token;
    rep = t.web();
    await rep.login(u.username, u.password);
    reviewerToken = await t.tokenFor('reviewer');
  });
  after(async () => {
    await t?.stop();
  });

  it('shows every field with its 口径 and unit from the one source, grouped, and the live indicator definitions', async () => {
    const page = await rep.get(`/returns/${P}/D001`);
    expect(page.status).to.equal(200);
    for (const f of FIELD_DEFINITIONS) {
      const at = page.text.indexOf(`<input id="f-${f.key}"`);
      expect(at, f.key).to.be.greaterThan(0);
      const block = page.text.slice(at, page.text.indexOf('</div>\n      </div>', at));
      expect(block, f.key).to.contain(`<span class="unit" id="u-${f.key}">${f.unit}</span>`);
      expect(page.text, f.key).to.contain(`<p class="field-def" id="d-${f.key}">口径：${f.definition}`);
      expect(inputOf(page.text, f.key)['aria-describedby']).to.equal(`u-${f.key} d-${f.key}`);
    }
    expect(page.text.match(/<fieldset class="field-group"/g)).to.have.length(5);
    const json = /data-live-ratios="([^"]*)"/.exec(page.text)![1]!;
    const indicators = JSON.parse(unescape(json)) as { id: string; numerator: { add: string[] } }[];
    expect(indicators.map((i) => i.id)).to.deep.equal(['I1', 'I2', 'I3', 'I4', 'I5', 'I6']);
    expect(indicators[0]!.numerator.add).to.deep.equal(['systems_extranet']);
    expect(page.text).to.contain('/public/js/return-form.js');
    expect(page.text).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).to.not.match(/\son[a-z]+="/); // no inline handlers
    // Nothing typed yet: the indicators wait for numbers (I3 too: its fields are blank).
    expect(page.text).to.match(/data-ratio="I1"[\s\S]*?<output data-ratio-value[^>]*>待填写<\/output>/);
  });

  it('a refused submission keeps what was typed, marks the bad inputs and lists the errors in a table', async () => {
    const typed = asForm(vals(0, { systems_total: '10', systems_extranet: '12', catalogue_items: '１，２３４', duties_total: '', requests_received: 'abc' }));
    const res = await rep.postForm(`/returns/${P}/D001`, typed);
    expect(res.status).to.equal(422);
    for (const k of FIELD_KEYS) expect(inputOf(res.text, k).value, k).to.equal(typed[k]);
    const bad = ['systems_extranet', 'duties_total', 'requests_received'];
    for (const k of FIELD_KEYS) {
      const a = inputOf(res.text, k);
      if (bad.includes(k)) {
        expect(a['aria-invalid'], k).to.equal('true');
        expect(a['aria-describedby'], k).to.equal(`u-${k} d-${k} e-${k}`);
        expect(res.text, k).to.match(new RegExp(`<div class="field has-error" data-field="${k}">\\s*<label for="f-${k}"><span class="error-mark" aria-hidden="true">✖</span>`));
      } else expect(a['aria-invalid'], k).to.equal(undefined);
    }
    const form = res.text.indexOf('id="form-errors"');
    expect(form).to.be.greaterThan(0);
    expect(res.text.slice(form, form + 200)).to.contain('有 3 处需要修改，未保存');
    const rows = issueRows(res.text, form);
    // In the order the API gives them: field by field, then the ≤ rules.
    expect(rows).to.deep.equal([
      ['✖ 错误', '收到的共享申请数', '「收到的共享申请数」“abc”不是数字，应填写不小于 0 的整数（没有请填 0）'],
      ['✖ 错误', '权责清单事项数', '「权责清单事项数」未填写，应填写不小于 0 的整数（没有请填 0）'],
      ['✖ 错误', '已接入电子政务外网的系统数', '「已接入电子政务外网的系统数」12 大于「信息系统总数」10'],
    ]);
    // Each line links to its input.
    expect(res.text.slice(form)).to.contain('<a href="#f-requests_received">收到的共享申请数</a>');
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).status).to.equal(404);
  });

  it('按上期数据预填: the previous quarter\'s latest usable revision, every input marked; a GET stores nothing', async () => {
    // No previous return yet: no button, and asking anyway says so.
    const none = await rep.get(`/returns/${P}/D001`);
    expect(none.text).to.not.contain('data-prefill-link');
    expect(none.text).to.contain('上期没有可用于预填的数据');
    const asked = await rep.get(`/returns/${P}/D001?prefill=previous`);
    expect(asked.status).to.equal(200);
    expect(asked.text).to.contain('上期没有可用的填报数据，无法预填');
    expect(asked.text).to.not.contain('data-prefill-mark');

    // 2026Q3: revision 1, then revision 2 rejected → revision 1 is the latest usable one.
    expect((await t.api(repToken).put(`/api/v1/returns/${PREV}/D001`, { values: vals(5) })).status).to.equal(200);
    expect((await t.api(repToken).put(`/api/v1/returns/${PREV}/D001`, { values: vals(9) })).status).to.equal(200);
    expect((await t.api(reviewerToken).post(`/api/v1/returns/${PREV}/D001/review`, { decision: 'reject', reason: '数据有误' })).status).to.equal(200);

    const trail = async () => [(await t.api(admin).get(`/api/v1/returns/${P}/D001/audit`)).body, (await t.api(admin).get(`/api/v1/returns/${PREV}/D001/audit`)).body];
    const before = await trail();
    expect(before[1]).to.have.length(3);
    const page = await rep.get(`/returns/${P}/D001`);
    expect(page.text).to.contain(`href="/returns/${P}/D001?prefill=previous" data-prefill-link>按上期数据预填</a>`);
    expect(page.text).to.contain(`上期 ${PREV} 第 1 版（`);
    const pre = await rep.get(`/returns/${P}/D001?prefill=previous`);
    expect(pre.status).to.equal(200);
    expect(pre.text).to.contain('data-prefill-notice');
    const v5 = vals(5);
    for (const k of FIELD_KEYS) {
      const a = inputOf(pre.text, k);
      expect(a.value, k).to.equal(String(v5[k]));
      expect(a['data-prefilled'], k).to.equal(String(v5[k]));
      expect(a['aria-describedby'], k).to.equal(`u-${k} d-${k} m-${k}`);
      expect(pre.text, k).to.contain(`<span class="prefill-mark" id="m-${k}" data-prefill-mark>上期值</span>`);
    }
    expect(/name="prefilled" value="([^"]*)"/.exec(pre.text)![1]!.split(',')).to.deep.equal([...FIELD_KEYS]);
    // The indicators are computed from the prefilled values.
    const i1 = Math.round((v5.systems_extranet / v5.systems_total) * 1000) / 10;
    expect(pre.text).to.match(new RegExp(`data-ratio="I1"[\\s\\S]*?<output data-ratio-value[^>]*>${String(i1).replace('.', '\\.')}%</output>`));
    // Reading stored nothing: no 2026Q4 revision, the 2026Q3 ones unchanged.
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).status).to.equal(404);
    const prev = await t.api(admin).get(`/api/v1/returns/${PREV}/D001`);
    expect(prev.body).to.include({ revision: 2, status: 'rejected' });
    expect(await trail()).to.deep.equal(before);

    // Sent with one field edited and one error: the untouched prefilled fields are marked again, the edited one not.
    const typed = asForm({ ...v5, systems_total: '3' }); // now extranet and cloud exceed the total
    const left = FIELD_KEYS.filter((k) => k !== 'systems_total').join(',');
    const res = await rep.postForm(`/returns/${P}/D001`, { ...typed, prefilled: left });
    expect(res.status).to.equal(422);
    expect(inputOf(res.text, 'systems_total')['data-prefilled']).to.equal(undefined);
    expect(inputOf(res.text, 'systems_total').value).to.equal('3');
    expect(inputOf(res.text, 'catalogue_items')['data-prefilled']).to.equal(String(v5.catalogue_items));
    expect(inputOf(res.text, 'systems_extranet')['aria-invalid']).to.equal('true');
    // A bogus key in the list is ignored.
    const res2 = await rep.postForm(`/returns/${P}/D001`, { ...typed, prefilled: 'nope,<b>,duties_total' });
    expect(/name="prefilled" value="([^"]*)"/.exec(res2.text)![1]).to.equal('duties_total');

    // Submitted as is: a normal web revision.
    const ok = await rep.postForm(`/returns/${P}/D001`, { ...asForm(v5), prefilled: FIELD_KEYS.join(',') });
    expect(ok.status).to.equal(303);
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D001`)).body).to.deep.include({ revision: 1, source: 'web', values: v5 });
  });

  it('a first quarter with no opened previous quarter offers no prefill and answers normally', async () => {
    const page = await rep.get('/returns/2025Q4/D001?prefill=previous');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('上期没有可用的填报数据，无法预填');
  });

  it('another reporter cannot prefill from this unit', async () => {
    const other = await t.userFor('reporter', 'D002');
    const w = t.web();
    await w.login(other.username, other.password);
    const res = await w.get(`/returns/${P}/D001?prefill=previous`);
    expect(res.status).to.equal(403);
    // Nothing of D001's previous return: no input carries its values, nothing is marked prefilled.
    // (A bare number could appear by chance in a token or an asset hash; an input's value attribute cannot.)
    for (const v of Object.values(vals(5))) expect(res.text).to.not.contain(`value="${v}"`);
    expect(res.text).to.not.contain('上期值');
  });

  it('a refused upload: one table line per problem, one line for another unit\'s row (page and XHR)', async () => {
    const buf = await buildWorkbook([
      { code: 'D001', values: vals(1, { networks_private: -1 }) },
      { code: 'D002', values: vals(2, { duties_total: -3, systems_total: 'x' }) },
    ]);
    const token = await rep.csrfToken();
    const post = async (headers: Record<string, string>) => {
      const form = new FormData();
      form.append('_csrf', token);
      form.append('file', new Blob([new Uint8Array(buf)]), 'bad.xlsx');
      const res = await fetch(`${t.baseUrl}/returns/upload?period=${P}&unit=D001`, { method: 'POST', body: form, headers: { cookie: rep.cookies(), ...headers }, redirect: 'manual' });
      return { status: res.status, text: await res.text() };
    };
    const page = await post({ accept: 'text/html' });
    expect(page.status).to.equal(422);
    const at = page.text.indexOf('id="upload-errors-server"');
    expect(at).to.be.greaterThan(0);
    const rows = issueRows(page.text, at);
    // D001's negative (and the ≤ rule it breaks, if any) line by line; D002's row: one line.
    const d002 = rows.filter((r) => r[2] === '4');
    expect(d002).to.have.length(1);
    expect(d002[0]![0]).to.equal('✖ 错误');
    expect(d002[0]![1]).to.equal('填报');
    expect(d002[0]![3]).to.equal('A');
    expect(d002[0]![4]).to.equal('单位代码');
    expect(d002[0]![5]).to.match(/^单位代码 D002（省教育厅）不是您所在的单位.*整行不能导入（该行另有 2 处问题不再逐一列出）$/);
    const d001 = rows.filter((r) => r[2] === '3');
    expect(d001.length).to.be.greaterThan(0);
    expect(d001.some((r) => r[4] === '业务专网总数' && /负数/.test(r[5]!) && !/^第3行/.test(r[5]!))).to.equal(true);

    const xhr = await post({ 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' });
    expect(xhr.status).to.equal(422);
    const body = JSON.parse(xhr.text);
    expect(body.errors.length).to.equal(d001.length + 3); // the API shape lists every error
    const lines = body.issues as { row: number; wholeRow: boolean; folded: number; fieldLabel: string }[];
    expect(lines.filter((l) => l.row === 4)).to.deep.equal([
      { kind: 'error', sheet: '填报', row: 4, column: 'A', field: 'unit_code', fieldLabel: '单位代码', message: d002[0]![5]!.replace(/ 整行不能导入.*$/, ''), folded: 2, wholeRow: true },
    ]);
    expect((await t.api(admin).get(`/api/v1/returns/${P}/D002`)).status).to.equal(404);
  });

  it('the upload preview lists its warnings in the same table', async () => {
    const buf = await buildWorkbook([{ code: 'D001', name: '省发改委', values: vals(2) }]);
    const token = await rep.csrfToken();
    const form = new FormData();
    form.append('_csrf', token);
    form.append('file', new Blob([new Uint8Array(buf)]), 'ok.xlsx');
    const res = await fetch(`${t.baseUrl}/returns/upload?period=${P}&unit=D001`, { method: 'POST', body: form, headers: { cookie: rep.cookies(), accept: 'text/html' }, redirect: 'manual' });
    expect(res.status).to.equal(303);
    const preview = await rep.get(res.headers.get('location')!);
    expect(preview.status).to.equal(200);
    const rows = issueRows(preview.text);
    expect(rows).to.have.length(1);
    expect(rows[0]!.slice(0, 5)).to.deep.equal(['⚠ 提示', '填报', '3', 'B', '单位名称']);
    expect(rows[0]![5]).to.match(/^单位名称“省发改委”与单位代码 D001 的登记名称“省发展和改革委员会”不一致/);

    // Confirmed: the form shows the new revision's warnings in the same table.
    const confirm = await rep.postForm(`${res.headers.get('location')}/confirm`, {});
    expect(confirm.status).to.equal(303);
    const page = await rep.get(`/returns/${P}/D001`);
    const at = page.text.indexOf('id="latest-warnings"');
    expect(at).to.be.greaterThan(0);
    expect(page.text.slice(at, at + 200)).to.contain('第 2 版的提示（1）');
    expect(issueRows(page.text, at)).to.deep.equal(rows);
  });
});
