// GET /api/v1/results/:period for a large province is streamed row by row instead of being built as
// one string and cached (routes/api/results.ts streamBody): the bytes are exactly those of the cached
// body (JSON.stringify of SPEC §7's view), plain or gzip, with a strong ETag per representation and
// 304 on If-None-Match. The threshold (5 000 rows) is lowered here so that a small period streams.
import { expect } from 'chai';
import zlib from 'node:zlib';
import http from 'node:http';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, putUnit, runJob, submit, uniform } from '../results/fixtures.ts';

const P = '2026Q3';
const revalidate = (etag: string) => ({ 'if-none-match': etag, 'cache-control': 'max-age=0' });

/** A raw GET (no decoding by the client): status, headers and the bytes as sent. */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(path, base), { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('scale: the results API streams large bodies', function () {
  this.timeout(60_000);
  let t: TestApp;
  let office: string;
  let streaming: { aboveRows: number };

  before(async () => {
    t = await startTestApp();
    const admin = await t.tokenFor('admin');
    office = await t.tokenFor('office');
    const a = t.api(admin);
    for (const c of ['D01', 'D02', 'D03', 'D04', 'D05']) await putUnit(a, c, 'department');
    for (const c of ['C01', 'C02', 'C03']) await putUnit(a, c, 'city');
    for (const c of ['X01', 'X02', 'X03', 'X04']) await putUnit(a, c, 'county', `上城区${c}`);
    at('2026-10-10T02:00:00Z');
    const scores: Record<string, [number, number]> = { D01: [1, 2], D02: [9, 10], D03: [3, 4], D04: [3, 4], C02: [1, 1], C01: [1, 4], X02: [2, 3], X03: [1, 3], X04: [2, 5] };
    for (const [u, [n, d]] of Object.entries(scores)) await submit(a, P, u, uniform(n, d));
    await runJob(t, admin, 'score', P);
    ({ streaming } = await import('../../server/http/json-stream.ts'));
  });
  after(async () => {
    if (streaming) streaming.aboveRows = 5000;
    await t.stop();
  });

  /** What the cached path builds: JSON.stringify of the view of the current snapshot's rows (filtered). */
  async function expected(keep: (r: { unit: string; category: string }) => boolean = () => true): Promise<string> {
    const { readSet, viewOf } = await import('../../server/results/read.ts');
    const { readRows } = await import('../../server/results/store.ts');
    const set = await readSet(P);
    return JSON.stringify(viewOf(set, (await readRows(set.period, set.computeId)).filter(keep)));
  }

  it('streams the very bytes of the cached body, plain and gzip, with strong ETags and 304', async () => {
    const auth = { authorization: `Bearer ${office}` };
    streaming.aboveRows = 3;
    const whole = await expected();
    expect(JSON.parse(whole).results.length).to.equal(12);
    for (const [query, keep] of [
      ['', () => true],
      ['?category=county', (r: { category: string }) => r.category === 'county'],
      ['?after=D03', (_r: unknown, i: number, all: { unit: string }[]) => i > all.findIndex((x) => x.unit === 'D03')],
    ] as const) {
      const { readSet, viewOf } = await import('../../server/results/read.ts');
      const { readRows } = await import('../../server/results/store.ts');
      const set = await readSet(P);
      const rows = await readRows(set.period, set.computeId);
      const want = JSON.stringify(viewOf(set, rows.filter((r, i) => (keep as (r: unknown, i: number, all: readonly unknown[]) => boolean)(r, i, rows))));
      expect(JSON.parse(want).results.length, query).to.be.greaterThan(3);

      const plain = await rawGet(t.baseUrl, `/api/v1/results/${P}${query}`, { ...auth, 'accept-encoding': 'identity' });
      expect(plain.status, query).to.equal(200);
      expect(plain.headers['transfer-encoding'], query).to.equal('chunked'); // streamed: no Content-Length
      expect(plain.headers['content-length']).to.equal(undefined);
      expect(plain.headers['content-type']).to.equal('application/json; charset=utf-8');
      expect(plain.headers['cache-control']).to.equal('private, no-cache');
      expect(plain.headers.vary).to.match(/accept-encoding/i);
      expect(plain.body.toString('utf8'), query).to.equal(want);
      const etag = plain.headers.etag!;
      expect(etag).to.match(/^"[^"]+"$/);

      const gz = await rawGet(t.baseUrl, `/api/v1/results/${P}${query}`, { ...auth, 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).to.equal('gzip');
      expect(zlib.gunzipSync(gz.body).toString('utf8'), query).to.equal(want);
      expect(gz.headers.etag).to.not.equal(etag);

      // Same ETag on the next request; If-None-Match → 304 with no body, per representation.
      const again = await rawGet(t.baseUrl, `/api/v1/results/${P}${query}`, { ...auth, 'accept-encoding': 'identity' });
      expect(again.headers.etag).to.equal(etag);
      const r304 = await rawGet(t.baseUrl, `/api/v1/results/${P}${query}`, { ...auth, 'accept-encoding': 'identity', ...revalidate(etag) });
      expect(r304.status).to.equal(304);
      expect(r304.body.length).to.equal(0);
      expect((await rawGet(t.baseUrl, `/api/v1/results/${P}${query}`, { ...auth, 'accept-encoding': 'gzip', ...revalidate(gz.headers.etag!) })).status).to.equal(304);
      expect((await rawGet(t.baseUrl, `/api/v1/results/${P}${query}`, { ...auth, 'accept-encoding': 'identity', ...revalidate(gz.headers.etag!) })).status).to.equal(200);
    }
    // Pages (?limit=) are never streamed: at most MAX_PAGE rows, cached as before.
    const page = await rawGet(t.baseUrl, `/api/v1/results/${P}?limit=5`, { ...auth, 'accept-encoding': 'identity' });
    expect(page.headers['content-length']).to.not.equal(undefined);
    expect(JSON.parse(page.body.toString('utf8')).results.length).to.equal(5);

    // Back above the threshold: the cached path answers the same bytes.
    streaming.aboveRows = 5000;
    const cached = await rawGet(t.baseUrl, `/api/v1/results/${P}`, { ...auth, 'accept-encoding': 'identity' });
    expect(cached.headers['content-length']).to.equal(String(Buffer.byteLength(whole)));
    expect(cached.body.toString('utf8')).to.equal(whole);
  });

  it('a client that goes away mid-stream leaves the server answering', async () => {
    streaming.aboveRows = 3;
    try {
      const auth = { authorization: `Bearer ${office}` };
      await new Promise<void>((resolve) => {
        const req = http.get(new URL(`/api/v1/results/${P}`, t.baseUrl), { headers: { ...auth, 'accept-encoding': 'gzip' } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
      });
      const ok = await t.api(office).get(`/api/v1/results/${P}`);
      expect(ok.status).to.equal(200);
      expect(ok.text).to.equal(await expected());
    } finally {
      streaming.aboveRows = 5000;
    }
  });
});
