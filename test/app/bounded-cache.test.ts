// The bounded cache behind the results API bodies and the ranking page bodies.
import { expect } from 'chai';
import { BoundedCache } from '../../server/services/bounded-cache.ts';

describe('BoundedCache', () => {
  const tick = () => new Promise((r) => setImmediate(r));

  it('shares one build between concurrent requests and keeps the value', async () => {
    const c = new BoundedCache<string>({ maxEntries: 4, maxBytes: 100 }, (v) => v.length);
    let builds = 0;
    const build = async () => {
      builds++;
      await tick();
      return 'abc';
    };
    const [a, b] = await Promise.all([c.get('k', build), c.get('k', build)]);
    expect([a, b, builds]).to.deep.equal(['abc', 'abc', 1]);
    expect(await c.get('k', build)).to.equal('abc');
    expect(builds).to.equal(1);
  });

  it('forgets a failed build: the next request builds again', async () => {
    const c = new BoundedCache<string>({ maxEntries: 4, maxBytes: 100 }, (v) => v.length);
    let n = 0;
    const build = async () => {
      if (++n === 1) throw new Error('boom');
      return 'ok';
    };
    await c.get('k', build).then(() => expect.fail('should reject'), (e: Error) => expect(e.message).to.equal('boom'));
    await tick();
    expect(await c.get('k', build)).to.equal('ok');
    expect(n).to.equal(2);
  });

  it('evicts the least recently used beyond the entry bound', async () => {
    const c = new BoundedCache<string>({ maxEntries: 2, maxBytes: 1000 }, (v) => v.length);
    const builds: string[] = [];
    const get = (k: string) => c.get(k, async () => (builds.push(k), k));
    await get('a');
    await get('b');
    await get('a'); // a is now the most recent
    await get('c'); // evicts b
    await tick();
    await get('a');
    await get('b'); // built again
    expect(builds).to.deep.equal(['a', 'b', 'c', 'b']);
  });

  it('evicts by bytes, counting bytes added later for the value still cached', async () => {
    const c = new BoundedCache<string>({ maxEntries: 10, maxBytes: 10 }, (v) => v.length);
    const builds: string[] = [];
    const get = (k: string, v = k.repeat(4)) => c.get(k, async () => (builds.push(k), v));
    const a = await get('a'); // 4 bytes
    await get('b'); // 8
    await tick();
    c.addBytes('a', 'not the cached value', 100); // ignored: another value
    await get('c'); // 12 > 10: evicts a (least recently used)
    await tick();
    await get('b');
    await get('c');
    expect(builds).to.deep.equal(['a', 'b', 'c']);
    await get('a'); // built again; b evicted (12 > 10)
    await tick();
    c.addBytes('a', a, 5); // the cached a grows: 4 + 4 + 5 = 13 > 10, c (least recent) goes
    await get('c');
    expect(builds).to.deep.equal(['a', 'b', 'c', 'a', 'c']);
  });
});
