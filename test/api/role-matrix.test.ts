// Every route × every role (admin, reviewer, office, reporter of the unit, reporter of another
// unit, anonymous) → the expected status. Rows live in test/api/matrix/*.ts (one file per area).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { Unit } from '../../server/models/unit.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { expectationsOf, matches, WHO, type MatrixContext, type MatrixRow, type Who } from '../helpers/matrix.ts';

// mocha loads test files as ESM (.mocharc.json), so import() shares this test's module instances.
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'matrix');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).sort();
const areas = await Promise.all(
  files.map(async (f) => ({
    name: f.replace(/\.ts$/, ''),
    mod: (await import(pathToFileURL(path.join(dir, f)).href)) as {
      rows: readonly MatrixRow[];
      setup?: (ctx: MatrixContext) => Promise<void>;
    },
  })),
);

describe('role matrix: every route × every role', function () {
  this.timeout(60_000);
  let t: TestApp;
  let ctx: MatrixContext;

  before(async () => {
    t = await startTestApp();
    const own = 'M001';
    const other = 'M002';
    const otherReporterUnit = 'M003';
    await Unit.create([
      { code: own, name: '矩阵测试厅', category: 'department' },
      { code: other, name: '矩阵对照厅', category: 'department' },
      { code: otherReporterUnit, name: '矩阵第三厅', category: 'department' },
    ]);
    const tokens = {
      admin: await t.tokenFor('admin'),
      reviewer: await t.tokenFor('reviewer'),
      office: await t.tokenFor('office'),
      reporterOwn: await t.tokenFor('reporter', own),
      reporterOther: await t.tokenFor('reporter', otherReporterUnit),
    };
    ctx = { t, own, other, otherReporterUnit, tokens, admin: t.api(tokens.admin), vars: {}, secrets: [] };
    for (const a of areas) if (a.mod.setup) await a.mod.setup(ctx);
  });
  after(async () => {
    await t?.stop();
  });

  it('has rows from every area file', () => {
    expect(areas.length).to.be.greaterThan(0);
    for (const a of areas) expect(a.mod.rows, `test/api/matrix/${a.name}.ts exports rows`).to.be.an('array').that.is.not.empty;
  });

  for (const area of areas) {
    describe(area.name, () => {
      for (const row of area.mod.rows) {
        it(`${row.method} ${row.path}${row.note ? ` (${row.note})` : ''}`, async () => {
          const expected = expectationsOf(row);
          const missing = WHO.filter((w) => expected[w] === undefined);
          expect(missing, 'every caller has an expectation').to.deep.equal([]);
          const p = row.path.replaceAll('{own}', ctx.own).replaceAll('{other}', ctx.other).replace(/\{var:(\w+)\}/g, (_m, k: string) => {
            if (!(k in ctx.vars)) throw new Error(`ctx.vars.${k} is not set by a setup()`);
            return ctx.vars[k]!;
          });
          const failures: string[] = [];
          for (const who of WHO) {
            const token = who === 'anonymous' ? null : ctx.tokens[who as Exclude<Who, 'anonymous'>];
            const body = typeof row.body === 'function' ? (row.body as (w: Who, c: MatrixContext) => unknown)(who, ctx) : row.body;
            const headers: Record<string, string> = { ...(row.web ? { accept: 'text/html' } : {}), ...row.headers };
            const api = t.api(token);
            const res =
              row.upload ? await api.postFile(p, row.upload.field, await row.upload.data(ctx), row.upload.name, row.upload.fields, headers)
              : row.method === 'GET' ? await api.get(p, headers)
              : row.method === 'DELETE' ? await api.delete(p, headers)
              : await api[row.method.toLowerCase() as 'post' | 'put' | 'patch'](p, body ?? {}, headers);
            if (!matches(res.status, expected[who])) failures.push(`${who}: expected ${expected[who]}, got ${res.status} ${res.text.slice(0, 160)}`);
            if (who === 'reporterOther' || who === 'anonymous') {
              const text = res.text || res.buffer.toString('utf8');
              for (const s of ctx.secrets) if (text.includes(s)) failures.push(`${who}: ${res.status} shows {own}'s private "${s}"`);
            }
            else if (!row.web && res.status >= 400 && p.startsWith('/api')) {
              // API errors always carry {error: {code, message}}.
              if (!(res.body && typeof res.body.error?.code === 'string' && typeof res.body.error?.message === 'string')) {
                failures.push(`${who}: ${res.status} without {error: {code, message}}: ${res.text.slice(0, 160)}`);
              }
            }
          }
          expect(failures, failures.join('\n')).to.deep.equal([]);
        });
      }
    });
  }
});
