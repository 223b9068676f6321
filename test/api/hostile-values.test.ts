// Issue 12, item 7: a value that is not a number or numeric text is a 422 naming the field (never a
// 500) through the API, the web form and an upload, and nothing is stored; a reporter's lists show
// their own unit only.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { FIELD_KEYS, FIELD_LABELS } from '../../server/domain/fields.ts';
import { PlausibilityRuleSet } from '../../server/models/plausibility-rules.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { User } from '../../server/models/user.ts';
import type { TestApp } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from '../intake/helpers.ts';

const P = '2026Q4';

describe('hostile values and list scope', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: string;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
  });
  after(async () => {
    await t?.stop();
  });

  const revisions = (unit: string) => ReturnRevision.countDocuments({ unit, period: P });

  describe('values that are neither numbers nor numeric text', () => {
    const hostile: [string, unknown][] = [
      ['{toString: 1}', { toString: 1 }],
      ['{valueOf: 1, toString: 1}', { valueOf: 1, toString: 1 }],
      ['{$gt: 0}', { $gt: 0 }],
      ['[1]', [1]],
      ['true', true],
      ['{}', {}],
    ];
    for (const [name, v] of hostile) {
      it(`API PUT with systems_total = ${name} → 422 invalid_values naming systems_total, nothing stored`, async () => {
        const before = await revisions('D001');
        const r = await t.api(admin).put(`/api/v1/returns/${P}/D001`, { values: { ...vals(1), systems_total: v } });
        expect(r.status, r.text).to.equal(422);
        expect(r.body.error.code).to.equal('invalid_values');
        const errs = r.body.error.details.errors as { field: string; message: string }[];
        expect(errs.map((e) => e.field)).to.include('systems_total');
        expect(errs.find((e) => e.field === 'systems_total')!.message).to.contain(FIELD_LABELS.systems_total);
        expect(await revisions('D001')).to.equal(before);
      });
    }

    it('API PUT with values = {toString: 1} itself, or an unknown key holding an object → 422', async () => {
      const a = await t.api(admin).put(`/api/v1/returns/${P}/D001`, { values: { toString: 1 } });
      expect(a.status, a.text).to.equal(422);
      const b = await t.api(admin).put(`/api/v1/returns/${P}/D001`, { values: { ...vals(1), extra: { toString: 1 } } });
      expect(b.status, b.text).to.equal(422);
      expect((b.body.error.details.errors as { field: string }[]).map((e) => e.field)).to.include('extra');
    });

    it('web form with systems_total[toString]=1 → 422, the form again with the field marked, nothing stored', async () => {
      const u = await t.userFor('reporter', 'D001');
      const w = t.web();
      await w.login(u.username, u.password);
      const before = await revisions('D001');
      const fields: Record<string, string> = Object.fromEntries(FIELD_KEYS.filter((k) => k !== 'systems_total').map((k) => [k, String(vals(1)[k])]));
      fields['systems_total[toString]'] = '1';
      const r = await w.postForm(`/returns/${P}/D001`, fields);
      expect(r.status, r.text.slice(0, 300)).to.equal(422);
      expect(r.text).to.contain(`「${FIELD_LABELS.systems_total}」`);
      expect(r.text).to.contain('不是数字');
      expect(await revisions('D001')).to.equal(before);
      // The same through the form's page script path (session + CSRF header, JSON).
      const j = await w.api().put(`/api/v1/returns/${P}/D001`, { values: { ...vals(1), systems_total: { toString: 1 } } });
      expect(j.status, j.text).to.equal(422);
    });

    it('an upload whose value cells hold rich text, a hyperlink or an error value → 422 naming the field, nothing stored', async () => {
      const wb = new ExcelJS.Workbook();
      const ws = wb.addWorksheet('填报');
      ws.addRow(['单位代码', '单位名称', ...FIELD_KEYS.map((k) => FIELD_LABELS[k])]);
      const v = vals(1);
      const row: ExcelJS.CellValue[] = ['D001', null, ...FIELD_KEYS.map((k) => v[k])];
      row[2] = { richText: [{ text: '十二' }] };
      row[3] = { text: '5', hyperlink: 'http://example.invalid/' };
      row[4] = { error: '#DIV/0!' } as ExcelJS.CellErrorValue;
      ws.addRow(row);
      const buf = Buffer.from(await wb.xlsx.writeBuffer());
      const before = await revisions('D001');
      const r = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', buf, 'objects.xlsx');
      expect(r.status, r.text).to.equal(422);
      const fields = (r.body.errors as { field: string }[]).map((e) => e.field);
      expect(fields).to.include(FIELD_KEYS[0]);
      expect(await revisions('D001')).to.equal(before);
    });
  });

  describe('hostile shapes in any field of any form or JSON body: a 4xx with a clear error, never a 500', () => {
    const SHAPES: [string, unknown][] = [
      ['{toString: 1}', { toString: 1 }],
      ['{valueOf: 1, toString: 1}', { valueOf: 1, toString: 1 }],
      ['{$ne: null}', { $ne: null }],
      ['[1, 2]', [1, 2]],
      ['nested', { a: { b: { toString: 1 } } }],
    ];
    // method, path, fields of its body (each set to the shape in turn, the others to plausible text;
    // a dotted field is nested: `rules.0.factor` is body.rules[0].factor), and fixed fields of the body.
    const ROUTES: [string, string, string[], Record<string, unknown>?][] = [
      ['POST', `/returns/${P}/D001`, [...FIELD_KEYS]],
      ['POST', `/review/${P}/D001`, ['decision', 'reason', 'revision']],
      ['POST', `/review/${P}`, ['pick', 'scope', 'state', 'warn']],
      ['POST', `/review/${P}`, ['pick', 'state', 'warn'], { scope: 'filtered' }],
      ['POST', '/admin/plausibility', ['baseVersion', 'note', 'rules']],
      ['POST', '/admin/plausibility', ['rules.0.enabled', 'rules.0.factor', 'rules.0.floor', 'rules.0.fields', 'rules.2.minDrop', 'rules.3.fields'], { baseVersion: '1' }],
      ['POST', '/admin/users/import', ['file']],
      ['POST', '/password', ['current', 'password', 'confirm', 'next']],
      ['POST', '/api/v1/users/import', ['file']],
      ['POST', '/admin/users', ['username', 'password', 'role', 'unit', 'displayName']],
      ['POST', '/admin/units', ['code', 'name', 'category', 'parent', 'editing', 'active']],
      ['POST', '/admin/periods', ['period', 'deadline', 'closed']],
      ['POST', '/scheme', ['action', 'baseVersion', 'note', 'excellentQuota', 'indicators', 'grades']],
      ['POST', '/jobs/score/run', ['period']],
      ['POST', `/jobs/results/${P}/reopen`, ['reason']],
      ['POST', '/accountability/cases/000000000000000000000000/status', ['status', 'comment', 'returnTo']],
      ['PUT', `/api/v1/returns/${P}/D001`, ['values']],
      ['POST', `/api/v1/returns/${P}/D001/review`, ['decision', 'reason', 'revision']],
      ['PUT', '/api/v1/units/HX01', ['name', 'category', 'parent']],
      ['POST', '/api/v1/users', ['username', 'password', 'role', 'unit']],
      ['PUT', '/api/v1/periods/2027Q2', ['deadline']],
      ['POST', '/api/v1/jobs/score/run', ['period']],
      ['POST', '/api/v1/auth/token', ['username', 'password']],
      ['PATCH', '/api/v1/accountability/cases/000000000000000000000000', ['status', 'comment']],
      ['POST', '/api/v1/scheme/preview', ['scheme', 'indicators']],
      ['POST', `/api/v1/results/${P}/reopen`, ['reason']],
    ];
    /** Sets body[a][b]… for the dotted path `a.b…`, making the objects on the way. */
    const setPath = (body: Record<string, unknown>, path: string, v: unknown) => {
      const keys = path.split('.');
      let o = body;
      for (const k of keys.slice(0, -1)) o = (o[k] = typeof o[k] === 'object' && o[k] !== null ? o[k] : {}) as Record<string, unknown>;
      o[keys.at(-1)!] = v;
    };
    for (const [method, path, fields, fixed] of ROUTES) {
      it(`${method} ${path}${fixed ? ` ${JSON.stringify(fixed)}` : ''}`, async () => {
        const failures: string[] = [];
        for (const field of fields) {
          for (const [name, shape] of SHAPES) {
            const body: Record<string, unknown> = structuredClone(fixed ?? {});
            for (const f of fields) setPath(body, f, 'x');
            setPath(body, field, shape);
            const web = !path.startsWith('/api/');
            const headers: Record<string, string> = web ? { accept: 'text/html' } : {};
            const api = t.api(admin);
            const r = method === 'PUT' ? await api.put(path, body, headers) : method === 'PATCH' ? await api.patch(path, body, headers) : await api.post(path, body, headers);
            if (r.status >= 500) failures.push(`${field} = ${name}: ${r.status} ${r.text.slice(0, 120)}`);
            else if (!web && r.status >= 400 && typeof r.body?.error?.code !== 'string') failures.push(`${field} = ${name}: ${r.status} without {error: {code}}`);
          }
        }
        expect(failures, failures.join('\n')).to.deep.equal([]);
      });
    }
    it('…and changed nothing: no rule set saved, no password changed (the admin token still works), no import left half done', async () => {
      expect(await PlausibilityRuleSet.countDocuments({ version: { $gt: 1 } })).to.equal(0);
      expect((await t.api(admin).get('/api/v1/auth/me')).status).to.equal(200);
      expect(await User.countDocuments({ pendingImport: { $ne: null } })).to.equal(0);
    });
  });

  describe("a reporter's lists", () => {
    it("GET /api/v1/returns/uploads: a reporter sees their own row of an admin's batch, without its file name; their own file's name", async () => {
      const mixed = await buildWorkbook([
        { code: 'D001', values: vals(2) },
        { code: 'D002', values: vals(3) },
      ]);
      const up = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', mixed, '全省汇总-管理员.xlsx');
      expect(up.status, up.text).to.equal(200);
      const rep = await t.userFor('reporter', 'D002');
      const own = await t.api(rep.token).postFile(`/api/v1/returns/upload?period=${P}`, 'file', await buildWorkbook([{ code: 'D002', values: vals(4) }]), '本单位.xlsx');
      expect(own.status, own.text).to.equal(200);

      const list = await t.api(rep.token).get(`/api/v1/returns/uploads?period=${P}&unit=D001`);
      expect(list.status).to.equal(200);
      expect(list.text).not.to.contain('D001');
      expect(list.text).not.to.contain('全省汇总-管理员');
      const views = list.body as { id: string; fileName: string | null; units: string[]; accepted: { unit: string }[] }[];
      const ofMixed = views.find((x) => x.id === up.body.batch)!;
      expect(ofMixed, 'the batch holding their unit is listed').to.exist;
      expect(ofMixed.units).to.deep.equal(['D002']);
      expect(ofMixed.accepted.map((a) => a.unit)).to.deep.equal(['D002']);
      expect(ofMixed.fileName).to.equal(null);
      expect(views.find((x) => x.id === own.body.batch)!.fileName).to.equal('本单位.xlsx');
      // Staff see the whole batch.
      const all = await t.api(admin).get(`/api/v1/returns/uploads?period=${P}`);
      expect((all.body as { id: string; units: string[]; fileName: string }[]).find((x) => x.id === up.body.batch)).to.include({ fileName: '全省汇总-管理员.xlsx' });
    });

    it('GET /api/v1/notices and /api/v1/returns: a reporter gets their own unit whatever ?unit= says', async () => {
      const rep = await t.userFor('reporter', 'D002');
      const rej = await t.api(await t.tokenFor('reviewer')).post(`/api/v1/returns/${P}/D001/review`, { decision: 'reject', reason: '只给D001看的退回理由' });
      expect(rej.status, rej.text).to.equal(200);
      const n = await t.api(rep.token).get('/api/v1/notices?unit=D001');
      expect(n.status).to.equal(200);
      expect(n.text).not.to.contain('只给D001看的退回理由');
      expect((n.body as { unit: string }[]).every((x) => x.unit === 'D002')).to.equal(true);
      const r = await t.api(rep.token).get(`/api/v1/returns?period=${P}`);
      expect((r.body as { unit: string }[]).map((x) => x.unit)).to.deep.equal(['D002']);
    });
  });
});
