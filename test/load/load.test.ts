// Load test (issue 6 part 2), loopback only, bounded in time AND count:
//   - 40 reporters uploading their own unit's return again and again (different units),
//   - 10 admins uploading one file holding the same 4 shared units (the same units, racing),
//   - 5 dashboard readers (results API, 排名 page, a unit's return, units list) and a score-job run
//     every few seconds,
// for LOAD_SECONDS (default 12; `LOAD_SECONDS=60 npx mocha test/load/load.test.ts` for the long run).
// Asserts: no 5xx and no failed request at all; per unit the revisions are exactly 1..n where n is the
// number of accepted uploads that included the unit; each revision holds the values of the upload
// that was told that revision number (nothing lost, duplicated or swapped). Prints latency
// percentiles (never asserted: the machine is shared).
import { expect } from 'chai';
import type { FieldKey } from '../../server/domain/fields.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { returnsXlsx } from './mini-xlsx.ts';
import { scaleValues } from '../../bench/scale.ts';

const PERIOD = '2026Q4';
const SECONDS = Number(process.env.LOAD_SECONDS ?? 12);
const MAX_PER_WORKER = Number(process.env.LOAD_MAX_PER_WORKER ?? (SECONDS > 20 ? 400 : 60));
const OWN_WORKERS = 40;
const SHARED_WORKERS = 10;
const READERS = 5;
const OWN = Array.from({ length: OWN_WORKERS }, (_, i) => ({ code: `L${String(i + 1).padStart(3, '0')}`, name: `负载测试单位${i + 1}` }));
const SHARED = Array.from({ length: 4 }, (_, i) => ({ code: `S${String(i + 1).padStart(2, '0')}`, name: `共享单位${i + 1}` }));

interface Sample {
  kind: string;
  status: number;
  ms: number;
}

function percentiles(xs: number[]): string {
  if (!xs.length) return 'n=0';
  const s = [...xs].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(0);
  return `n=${s.length} p50=${p(0.5)}ms p90=${p(0.9)}ms p99=${p(0.99)}ms max=${s[s.length - 1]!.toFixed(0)}ms`;
}

/** Marker m is written into catalogue_items (and a valid catalogue_shared) so each revision tells which upload made it. */
function valuesWithMarker(i: number, marker: number): Record<FieldKey, number> {
  const v = scaleValues(i, 5);
  return { ...v, catalogue_items: marker, catalogue_shared: Math.floor(marker / 2) };
}

describe('load: concurrent uploads (different and same units) with dashboard traffic', function () {
  // Generous: uploads racing for the same units queue behind each other, and a loaded CI machine is slow.
  this.timeout((SECONDS + 240) * 1000);
  let t: TestApp;
  let admin: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    for (const u of [...OWN, ...SHARED]) {
      const r = await t.api(admin).put(`/api/v1/units/${u.code}`, { name: u.name, category: u.code.startsWith('S') ? 'city' : 'department' });
      expect(r.status, r.text).to.be.oneOf([200, 201]);
    }
  });
  after(async () => {
    await t?.stop();
  });

  it(`${OWN_WORKERS + SHARED_WORKERS} uploaders + ${READERS} readers for ${SECONDS} s: no errors, revisions exactly 1..n, nothing lost or swapped`, async () => {
    const reporters = await Promise.all(OWN.map((u) => t.tokenFor('reporter', u.code)));
    const office = await t.userFor('office');
    const web = t.web();
    await web.login(office.username, office.password);
    const admins = await Promise.all(Array.from({ length: SHARED_WORKERS }, () => t.tokenFor('admin')));

    const samples: Sample[] = [];
    const failures: string[] = [];
    /** marker → the units and revisions the server acknowledged for that upload. */
    const acked = new Map<number, { unit: string; revision: number }[]>();
    let marker = 100_000;
    const deadline = Date.now() + SECONDS * 1000;
    const timed = async <T>(kind: string, fn: () => Promise<{ status: number } & T>) => {
      const t0 = performance.now();
      try {
        const r = await fn();
        samples.push({ kind, status: r.status, ms: performance.now() - t0 });
        return r;
      } catch (err) {
        failures.push(`${kind}: ${(err as Error).message}`);
        return null;
      }
    };

    const upload = async (token: string, rows: { code: string; name: string; i: number }[], kind: string) => {
      const m = ++marker;
      const file = returnsXlsx(rows.map((r) => ({ code: r.code, name: r.name, values: valuesWithMarker(r.i, m) })));
      const r = await timed(kind, () => t.api(token).postFile(`/api/v1/returns/upload?period=${PERIOD}`, 'file', file, `m${m}.xlsx`));
      if (!r) return;
      if (r.status !== 200) {
        failures.push(`${kind} m${m}: ${r.status} ${r.text.slice(0, 300)}`);
        return;
      }
      const acc = (r.body as { accepted: { unit: string; revision: number }[] }).accepted;
      expect(acc.map((a) => a.unit).sort()).to.deep.equal(rows.map((x) => x.code).sort());
      acked.set(m, acc);
    };

    const ownWorker = async (w: number) => {
      const u = OWN[w]!;
      for (let k = 0; k < MAX_PER_WORKER && Date.now() < deadline; k++) await upload(reporters[w]!, [{ ...u, i: w }], 'upload own unit');
    };
    const sharedWorker = async (w: number) => {
      for (let k = 0; k < MAX_PER_WORKER && Date.now() < deadline; k++) {
        // The same four units, in a different row order per worker and round.
        const rows = SHARED.map((u, i) => ({ ...u, i: 100 + i }));
        const rot = (w + k) % rows.length;
        await upload(admins[w]!, [...rows.slice(rot), ...rows.slice(0, rot)], 'upload shared units');
      }
    };
    const reader = async (w: number) => {
      const adminApi = t.api(admin);
      for (let k = 0; k < MAX_PER_WORKER * 4 && Date.now() < deadline; k++) {
        const which = (w + k) % 5;
        let r;
        if (which === 0) r = await timed('GET results', () => adminApi.get(`/api/v1/results/${PERIOD}`));
        else if (which === 1) r = await timed('GET /ranking page', () => web.get(`/ranking?period=${PERIOD}`));
        else if (which === 2) r = await timed('GET return', () => adminApi.get(`/api/v1/returns/${PERIOD}/${SHARED[k % SHARED.length]!.code}`));
        else if (which === 3) r = await timed('GET units', () => adminApi.get('/api/v1/units'));
        else if (w === 0) r = await timed('run score job', () => adminApi.post('/api/v1/jobs/score/run', { period: PERIOD }));
        else r = await timed('GET results', () => adminApi.get(`/api/v1/results/${PERIOD}`));
        if (r && r.status !== 200 && !(which === 2 && r.status === 404)) failures.push(`reader ${which}: ${r.status} ${r.text.slice(0, 200)}`);
        if (r && which === 4 && w === 0 && r.status === 200) expect((r.body as { outcome: string }).outcome, r.text).to.equal('success');
      }
    };

    const t0 = Date.now();
    await Promise.all([
      ...OWN.map((_, w) => ownWorker(w)),
      ...Array.from({ length: SHARED_WORKERS }, (_, w) => sharedWorker(w)),
      ...Array.from({ length: READERS }, (_, w) => reader(w)),
    ]);
    const wall = (Date.now() - t0) / 1000;

    // Latency report (not asserted).
    const kinds = [...new Set(samples.map((s) => s.kind))];
    console.log(`      ${samples.length} requests in ${wall.toFixed(1)} s (${(samples.length / wall).toFixed(1)} req/s); ${acked.size} uploads accepted`);
    for (const k of kinds) console.log(`      ${k.padEnd(20)} ${percentiles(samples.filter((s) => s.kind === k).map((s) => s.ms))}`);

    expect(failures, failures.slice(0, 10).join('\n')).to.deep.equal([]);
    expect(samples.filter((s) => s.status >= 500)).to.deep.equal([]);
    expect(acked.size).to.be.greaterThan(OWN_WORKERS); // every worker got something through

    // Every unit's history is exactly the acknowledged uploads, numbered 1..n, each with its own values.
    const byUnit = new Map<string, Map<number, number>>(); // unit → revision → marker
    for (const [m, acc] of acked) {
      for (const a of acc) {
        const revs = byUnit.get(a.unit) ?? new Map<number, number>();
        expect(revs.has(a.revision), `revision ${a.revision} of ${a.unit} acknowledged twice`).to.equal(false);
        revs.set(a.revision, m);
        byUnit.set(a.unit, revs);
      }
    }
    for (const u of [...OWN, ...SHARED]) {
      const r = await t.api(admin).get(`/api/v1/returns/${PERIOD}/${u.code}/revisions`);
      expect(r.status, r.text).to.equal(200);
      const hist = r.body as { revision: number; values: { catalogue_items: number } }[];
      const expected = byUnit.get(u.code) ?? new Map<number, number>();
      expect(hist.map((h) => h.revision), u.code).to.deep.equal(Array.from({ length: expected.size }, (_, i) => i + 1));
      for (const h of hist) expect(h.values.catalogue_items, `${u.code} r${h.revision}`).to.equal(expected.get(h.revision));
      // The latest is what GET returns.
      if (hist.length) {
        const latest = await t.api(admin).get(`/api/v1/returns/${PERIOD}/${u.code}`);
        expect(latest.body.revision).to.equal(hist.length);
      }
    }
    // The shared units raced: every one of them saw every shared upload.
    const sharedUploads = [...acked.values()].filter((acc) => acc.some((a) => a.unit.startsWith('S'))).length;
    for (const u of SHARED) expect(byUnit.get(u.code)?.size ?? 0).to.equal(sharedUploads);
  });
});
