// The response cache behind the results API bodies and the ranking page bodies (server/http/response-cache.ts).
import { expect } from 'chai';
import zlib from 'node:zlib';
import { ResponseCache } from '../../server/http/response-cache.ts';

const tick = () => new Promise((r) => setImmediate(r));
const bytes = (s: string) => Buffer.from(s);

describe('ResponseCache', () => {
  it('shares one build between concurrent requests and keeps the bytes with a strong ETag', async () => {
    const c = new ResponseCache({ maxEntries: 4, maxBytes: 100 });
    let builds = 0;
    const build = async () => {
      builds++;
      await tick();
      return bytes('abc');
    };
    const [a, b] = await Promise.all([c.get('k', build), c.get('k', build)]);
    expect(a).to.equal(b);
    expect(a.body.toString()).to.equal('abc');
    expect(a.etag).to.match(/^"[A-Za-z0-9_-]{43}"$/);
    expect((await c.get('k', build)).body.toString()).to.equal('abc');
    expect(builds).to.equal(1);
  });

  it('forgets a failed build: the next request builds again', async () => {
    const c = new ResponseCache({ maxEntries: 4, maxBytes: 100 });
    let n = 0;
    const build = async () => {
      if (++n === 1) throw new Error('boom');
      return bytes('ok');
    };
    await c.get('k', build).then(() => expect.fail('should reject'), (e: Error) => expect(e.message).to.equal('boom'));
    expect((await c.get('k', build)).body.toString()).to.equal('ok');
    expect(n).to.equal(2);
  });

  it('evicts the least recently used beyond the entry bound and beyond the byte bound', async () => {
    const c = new ResponseCache({ maxEntries: 2, maxBytes: 10 });
    const built: string[] = [];
    const get = (k: string, size = 1) => c.get(k, async () => (built.push(k), bytes('x'.repeat(size))));
    await get('a');
    await get('b');
    await get('a'); // a used: b is now least recent
    await get('c');
    await get('b');
    expect(built).to.deep.equal(['a', 'b', 'c', 'b']);
    await get('big', 9);
    expect(c.stats().bytes).to.be.at.most(10);
  });

  it('gzips once, on first demand, with its own ETag, and counts the gzip in the byte bound', async () => {
    const c = new ResponseCache({ maxEntries: 4, maxBytes: 1 << 20 });
    const text = JSON.stringify({ rows: Array.from({ length: 500 }, (_, i) => ({ unit: `D${i}`, total: i })) });
    const b = await c.get('k', async () => bytes(text));
    const before = c.stats().bytes;
    const z1 = await b.gzipped!();
    const z2 = await b.gzipped!();
    expect(z1).to.equal(z2);
    expect(zlib.gunzipSync(z1.body).toString()).to.equal(text);
    expect(z1.etag).to.not.equal(b.etag);
    expect(c.stats().bytes).to.equal(before + z1.body.length);
    expect((await c.get('small', async () => bytes('{}'))).gzipped).to.equal(undefined);
  });
});
