// Read paths of the engine: sorts with each document's keys computed once, filters proven by
// the index alone (not run again on the candidates), and cursor replies that embed the batch's
// documents from the bytes serialised when the batch was cut. Each is checked against the
// general path it replaces.
import { expect } from 'chai';
import fs from 'node:fs';
import { MongoClient, ObjectId, Long } from 'mongodb';
import { serialize, deserialize } from 'bson';
import { driverSuite, REAL, tempDir, } from './harness.ts';
import { provenStats, scanStats, sortComparator, sortDocs } from '../../server/db/engine/query.ts';
import { Cursors } from '../../server/db/engine/cursors.ts';
import { serializeCursorReply, opMsgReply } from '../../server/db/engine/wire.ts';
import { Store } from '../../server/db/engine/store.ts';
import { Engine } from '../../server/db/engine/engine.ts';

/** Deterministic PRNG (mulberry32). */
function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * (depth > 1 ? 9 : 12));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return Math.floor(r() * 5);
    case 2:
      return Math.floor(r() * 5) + 0.5;
    case 3:
      return ['a', 'b', 'B', '', 'ab'][Math.floor(r() * 5)];
    case 4:
      return r() < 0.5;
    case 5:
      return new Date(Math.floor(r() * 3) * 1000);
    case 6:
      return Long.fromNumber(Math.floor(r() * 5));
    case 7:
      return new ObjectId('64b7f0c2a1b2c3d4e5f6071' + Math.floor(r() * 3));
    case 8:
      return undefined; // field left out
    case 9:
    case 10:
      return Array.from({ length: Math.floor(r() * 3) }, () => randomValue(r, depth + 1));
    default:
      return { b: randomValue(r, depth + 1), c: randomValue(r, depth + 1) };
  }
}

function randomDocs(seed: number, n: number): Record<string, unknown>[] {
  const r = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const d: Record<string, unknown> = { _id: i };
    for (const f of ['a', 'x', 'y']) {
      const v = randomValue(r);
      if (v !== undefined) d[f] = v;
    }
    return d;
  });
}

(REAL ? describe.skip : describe)('engine read paths (internals)', function () {
  it('sortDocs orders exactly like sorting with the comparator (arrays, missing, mixed types, dotted paths, both directions)', () => {
    const sorts = [{ a: 1 }, { a: -1 }, { 'a.b': 1 }, { 'a.b': -1, _id: 1 }, { x: 1, y: -1 }, { y: -1, 'x.c': 1 }, { missing: 1 }];
    for (let seed = 1; seed <= 20; seed++) {
      const docs = randomDocs(seed, 60);
      for (const sort of sorts) {
        const ref = docs.slice().sort(sortComparator(sort)).map((d) => d._id);
        expect(sortDocs(docs, sort, (d) => d).map((d) => d._id), `seed ${seed} ${JSON.stringify(sort)}`).to.deep.equal(ref);
      }
    }
  });

  it('cursor replies embedding the serialised batch are byte-identical to serialising the reply', () => {
    const cursors = new Cursors();
    const docs: Record<string, unknown>[] = [
      ...randomDocs(7, 250),
      { _id: 'u', s: '汉字 ✓ \u0000x', und: undefined, nested: { und: undefined, k: [undefined, 1] } },
      { _id: 'bin', b: Buffer.from([1, 2, 3]), l: Long.fromString('9007199254740993'), big: 2 ** 40, neg: -0, f: 1.25 },
    ];
    const replies = [
      cursors.first('db.c', docs, 1, undefined),
      cursors.first('db.c', docs, 1, 0),
      cursors.first('db.c', [], 1, undefined),
      cursors.first('db.c', docs.slice(0, 3), 1, 10, true),
    ];
    const open = replies[0].cursor.id;
    replies.push(cursors.getMore(open, 'db.c', 50), cursors.getMore(open, 'db.c', undefined));
    for (const reply of replies) {
      const fast = serializeCursorReply(reply);
      expect(fast, 'a cursor reply takes the embedding path').to.not.equal(null);
      expect(Buffer.from(fast!).equals(Buffer.from(serialize(reply, { ignoreUndefined: true })))).to.equal(true);
    }
    // the reply as sent: header + the same body
    const msg = opMsgReply(5, replies[0]);
    expect(Buffer.from(msg.subarray(21)).equals(Buffer.from(serialize(replies[0], { ignoreUndefined: true })))).to.equal(true);
    expect(deserialize(msg.subarray(21)).cursor.firstBatch).to.have.length(101);
    // replies that are not cursor replies, or whose batch was changed, are serialised normally
    expect(serializeCursorReply({ ok: 1, n: 3 })).to.equal(null);
    const changed = cursors.first('db.c', docs.slice(0, 5), 1, undefined);
    changed.cursor.firstBatch.pop();
    expect(serializeCursorReply(changed)).to.equal(null);
    cursors.clear();
  });

  it('a batch is cut before the 16 MiB reply limit, by the serialised sizes', () => {
    const cursors = new Cursors();
    const big = 'x'.repeat(1024 * 1024);
    const docs = Array.from({ length: 40 }, (_, i) => ({ _id: i, big }));
    const r = cursors.first('db.c', docs, 1, 1000);
    const n = r.cursor.firstBatch.length;
    expect(n).to.be.within(14, 15);
    expect(serializeCursorReply(r)!.length).to.be.below(16 * 1024 * 1024);
    const more = cursors.getMore(r.cursor.id, 'db.c', 1000);
    expect(more.cursor.nextBatch[0]._id).to.equal(n);
    cursors.clear();
  });
});

describe('engine read paths (driver): filters proven by an index', function () {
  const env = driverSuite();
  before(async () => {
    const c = env.db.collection<any>('r');
    await c.createIndex({ a: 1 });
    await c.createIndex({ x: 1, y: 1, z: 1 });
    await c.insertMany(randomDocs(99, 300).map((d, i) => ({ ...d, z: i % 3 })));
  });

  const ids = async (filter: Record<string, unknown>) => (await env.db.collection('r').find(filter, { sort: { _id: 1 } }).toArray()).map((d) => d._id);

  const VALUES: unknown[] = [0, 1, 1.5, -0, 'a', 'B', '', true, false, new Date(1000), new ObjectId('64b7f0c2a1b2c3d4e5f60711'), Long.fromNumber(2), null, [1], { b: 1, c: 2 }];

  it('index-served equality gives the same documents as the filter run on every candidate', async () => {
    for (const v of VALUES) {
      // `$and` keeps the index lookup but always runs the filter: the reference
      expect(await ids({ a: v }), `a: ${String(v)}`).to.deep.equal(await ids({ $and: [{ a: v }] }));
      expect(await ids({ a: { $in: [v, 'b'] } })).to.deep.equal(await ids({ $and: [{ a: { $in: [v, 'b'] } }] }));
      for (const w of [0, 'a', true, null]) {
        expect(await ids({ x: v, y: w }), `x: ${String(v)}, y: ${String(w)}`).to.deep.equal(await ids({ $and: [{ x: v }, { y: w }] }));
        expect(await ids({ x: v, y: w, z: 1 })).to.deep.equal(await ids({ $and: [{ x: v }, { y: w }, { z: 1 }] }));
      }
    }
  });

  (REAL ? it.skip : it)('only filters the index proves skip the per-document match', async () => {
    const proven = async (filter: Record<string, unknown>) => {
      const before = provenStats.docs;
      const ex = scanStats.examined;
      const n = (await ids(filter)).length;
      return { proven: provenStats.docs - before, examined: scanStats.examined - ex, n };
    };
    const p1 = await proven({ a: 1 });
    expect(p1.proven).to.equal(p1.examined);
    const p2 = await proven({ x: 'a', y: true, z: 1 });
    expect(p2.proven).to.equal(p2.examined);
    // not provable: null (also matches missing fields), Long, arrays, documents, extra conditions, dotted paths
    for (const f of [{ a: null }, { a: Long.fromNumber(2) }, { a: [1] }, { a: { b: 1, c: 2 } }, { a: 1, q: 2 }, { 'a.b': 1 }, { x: 'a', y: { $gt: 0 } }, { a: { $in: [1, null] } }]) {
      expect((await proven(f)).proven, JSON.stringify(f)).to.equal(0);
    }
    // a compound lookup covering fewer fields than the filter does not prove it
    expect((await proven({ x: 'a', y: true, w: 1 })).proven).to.equal(0);
  });
});

(REAL ? describe.skip : describe)('engine read paths: end to end through the wire', function () {
  it('find replies decode to the stored documents (projection, sort, batches)', async () => {
    const dir = tempDir();
    const store = new Store(dir);
    const engine = new Engine(store, { ttlIntervalMs: 0 });
    const port = await engine.listen(0, '127.0.0.1');
    const client = await new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { promoteLongs: false }).connect();
    try {
      const c = client.db('e').collection<any>('c');
      // as stored: undefined array elements become null on the wire
      const docs: any[] = randomDocs(3, 500).map((d) => deserialize(serialize({ ...d, k: (d._id as number) % 7 }), { promoteLongs: false }));
      await c.insertMany(docs);
      await c.createIndex({ k: 1 });
      const got = await c.find({ k: 3 }, { sort: { _id: -1 }, batchSize: 17 }).toArray();
      const want = docs.filter((d) => d.k === 3).sort((x, y) => (y._id as number) - (x._id as number));
      expect(got.map((d) => d._id)).to.deep.equal(want.map((d) => d._id));
      for (const g of got) expect(Buffer.from(serialize(g)).equals(Buffer.from(serialize(docs.find((d) => d._id === g._id)!)))).to.equal(true);
      const projected = await c.find({ k: 3 }, { projection: { a: 1, _id: 0 }, sort: { _id: 1 } }).toArray();
      expect(projected).to.have.length(want.length);
      for (const p of projected) expect(Object.keys(p).every((f) => f === 'a')).to.equal(true);
    } finally {
      await client.close();
      await engine.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
