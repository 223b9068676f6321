// Write paths of the engine: updates that change or do not change indexed fields, no-op
// updates (nModified 0), unique violations in the middle of a multi-update, arrays / multikey,
// dotted paths, $unset. The driver-level expectations are literals of what MongoDB returns
// (the suite runs on a real server with TEST_MONGODB_URI); the embedded-only part checks the
// engine's internals: after every write the in-memory indexes equal indexes rebuilt from the
// documents, a rolled-back command leaves memory exactly as before, the direct $set/$unset
// path gives the same documents as mingo's updater, and stored documents are never mutated.
import { expect } from 'chai';
import fs from 'node:fs';
import { MongoClient, ObjectId, Long } from 'mongodb';
import { serialize, deserialize } from 'bson';
import { driverSuite, REAL, tempDir, } from './harness.ts';
import { Index, Store, WriteBatch, storeStats, type Collection } from '../../server/db/engine/store.ts';
import { Engine } from '../../server/db/engine/engine.ts';
import { applyUpdateDiff, updateFastPath } from '../../server/db/engine/update.ts';
import { canon, sameCanon } from '../../server/db/engine/bsonutil.ts';

/** An index's maps as sorted plain data, for comparisons. */
function dumpIndex(idx: Index): unknown {
  const m = (map: Map<string, Set<string>>) => [...map].map(([k, s]) => [k, [...s].sort()]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  return { map: m(idx.map), prefix: m(idx.prefix), prefixes: idx.prefixes.map(m) };
}

/** Every secondary index of `c` equals one rebuilt from scratch over the stored documents. */
function expectIndexesConsistent(c: Collection): void {
  for (const idx of c.indexes) {
    if (idx.isId) continue;
    const fresh = new Index(idx.spec);
    for (const [k, d] of c.docs) fresh.add(k, d);
    expect(dumpIndex(idx), `index ${idx.spec.name} of ${c.ns}`).to.deep.equal(dumpIndex(fresh));
  }
}

/** Documents (by key; the bytes show types and field order) and every secondary index. */
function snapshot(c: Collection): unknown {
  const s = snapshotRaw(c) as { docs: [string, string][]; indexes: unknown[] };
  return { docs: [...s.docs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)), indexes: s.indexes };
}

function snapshotRaw(c: Collection): unknown {
  return {
    docs: [...c.docs].map(([k, d]) => [k, Buffer.from(serialize(d)).toString('hex')]),
    indexes: c.indexes.filter((i) => !i.isId).map(dumpIndex),
  };
}

describe('engine write paths (driver, MongoDB semantics)', function () {
  const env = driverSuite();

  const coll = (name: string) => env.db.collection<any>(name);
  const rangeIds = async (name: string, field: string, v: unknown) =>
    // a range condition is never served by the engine's equality lookup: a full scan, the reference
    (await coll(name).find({ [field]: { $gte: v, $lte: v } }, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
  const eqIds = async (name: string, filter: Record<string, unknown>) =>
    (await coll(name).find(filter, { sort: { _id: 1 } }).toArray()).map((d) => d._id);

  it('updateMany of an indexed field moves the documents in the index; other indexes keep serving', async () => {
    const c = coll('w1');
    await c.createIndex({ batch: 1 });
    await c.createIndex({ period: 1, committed: 1 });
    await c.createIndex({ unit: 1, period: 1, revision: 1 }, { unique: true });
    const b1 = new ObjectId();
    const b2 = new ObjectId();
    await c.insertMany(
      Array.from({ length: 20 }, (_, i) => ({ _id: i, unit: 'U' + (i % 10), period: 'P', revision: i < 10 ? 1 : 2, batch: i < 10 ? b1 : b2, committed: false, v: { a: i } })),
    );
    const r = await c.updateMany({ batch: b2, committed: false }, { $set: { committed: true } });
    expect([r.matchedCount, r.modifiedCount]).to.deep.equal([10, 10]);
    expect(await eqIds('w1', { period: 'P', committed: true })).to.deep.equal([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(await eqIds('w1', { period: 'P', committed: false })).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await eqIds('w1', { batch: b2 })).to.deep.equal(await rangeIds('w1', 'batch', b2));
    // the same update again: matched, nothing modified
    const again = await c.updateMany({ batch: b2 }, { $set: { committed: true } });
    expect([again.matchedCount, again.modifiedCount]).to.deep.equal([10, 0]);
    // a change of a field no index reads
    const other = await c.updateMany({ batch: b1 }, { $set: { 'v.a': -1 } });
    expect(other.modifiedCount).to.equal(10);
    expect(await eqIds('w1', { period: 'P', committed: false })).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await c.findOne({ _id: 3 }))!.v).to.deep.equal({ a: -1 });
    expect(await eqIds('w1', { unit: 'U3', period: 'P', revision: 2 })).to.deep.equal([13]);
  });

  it('no-op updates report nModified 0: same value, same number as another numeric type, $unset of a missing field', async () => {
    const c = coll('w2');
    await c.insertOne({ _id: 1, a: 1, s: { x: 'y', n: [1, 2] }, d: new Date(5), l: Long.fromNumber(7) });
    const mods = async (u: any) => (await c.updateOne({ _id: 1 }, u)).modifiedCount;
    expect(await mods({ $set: { a: 1 } })).to.equal(0);
    expect(await mods({ $set: { s: { x: 'y', n: [1, 2] } } })).to.equal(0);
    expect(await mods({ $set: { 's.x': 'y', d: new Date(5) } })).to.equal(0);
    expect(await mods({ $unset: { missing: '', 's.missing': '', 'nope.deeper': '' } })).to.equal(0);
    expect(await mods({ $inc: { a: 0 } })).to.equal(0);
    expect(await mods({ $set: { 's.n': [1, 2, 3] } })).to.equal(1);
    expect(await mods({ $unset: { 's.x': '' } })).to.equal(1);
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, a: 1, s: { n: [1, 2, 3] }, d: new Date(5), l: 7 });
  });

  it('$set of an existing field keeps its position; new fields and created parents are appended', async () => {
    const c = coll('w3');
    await c.insertOne({ _id: 1, a: 1, b: { c: 1 }, z: 0 });
    await c.updateOne({ _id: 1 }, { $set: { a: 2, 'b.d': 2, 'n.m.o': 3 } });
    const d = await c.findOne({ _id: 1 });
    expect(d).to.deep.equal({ _id: 1, a: 2, b: { c: 1, d: 2 }, z: 0, n: { m: { o: 3 } } });
    expect(Object.keys(d!)).to.deep.equal(['_id', 'a', 'b', 'z', 'n']);
    expect(Object.keys(d!.b)).to.deep.equal(['c', 'd']);
  });

  it('$set of a subdocument with the same fields in another order is a modification (stored as given)', async () => {
    const c = coll('w4');
    await c.insertOne({ _id: 1, s: { x: 1, y: 2 } });
    const r = await c.updateOne({ _id: 1 }, { $set: { s: { y: 2, x: 1 } } });
    expect(r.modifiedCount).to.equal(1);
    expect(Object.keys((await c.findOne({ _id: 1 }))!.s)).to.deep.equal(['y', 'x']);
  });

  it('a unique violation in the middle of a multi-update: earlier documents stay updated, the failing one and later ones are unchanged', async () => {
    const c = coll('w5');
    await c.createIndex({ k: 1 }, { unique: true });
    await c.createIndex({ g: 1 });
    await c.insertMany([
      { _id: 1, k: 'a', g: 1 },
      { _id: 2, k: 'b', g: 1 },
      { _id: 3, k: 'c', g: 1 },
      { _id: 4, k: 'x', g: 2 },
    ]);
    // _id 1 → 'x1' fine; _id 2 → its own new k collides with _id 4's 'x'
    const err: any = await c
      .bulkWrite([{ updateOne: { filter: { _id: 1 }, update: { $set: { k: 'x1', g: 3 } } } }, { updateOne: { filter: { _id: 2 }, update: { $set: { k: 'x', g: 3 } } } }, { updateOne: { filter: { _id: 3 }, update: { $set: { k: 'x3', g: 3 } } } }])
      .catch((e) => e);
    expect(err.code).to.equal(11000);
    expect(await c.find({}, { sort: { _id: 1 } }).toArray()).to.deep.equal([
      { _id: 1, k: 'x1', g: 3 },
      { _id: 2, k: 'b', g: 1 },
      { _id: 3, k: 'c', g: 1 },
      { _id: 4, k: 'x', g: 2 },
    ]);
    expect(await eqIds('w5', { k: 'b' })).to.deep.equal([2]);
    expect(await eqIds('w5', { g: 1 })).to.deep.equal([2, 3]);
    expect(await eqIds('w5', { g: 3 })).to.deep.equal([1]);
    // updateMany hitting the unique index on its second document
    await c.insertOne({ _id: 5, k: 'same', g: 9 });
    const e2: any = await c.updateMany({ g: 1 }, { $set: { k: 'same' } }).catch((e) => e);
    expect(e2.code).to.equal(11000);
    expect(await eqIds('w5', { k: 'same' })).to.deep.equal([5]);
    expect(await eqIds('w5', { g: 1 })).to.deep.equal([2, 3]);
    const e3: any = await c.updateMany({ g: { $in: [1, 9] } }, { $set: { k: 'dup' } }).catch((e) => e);
    expect(e3.code).to.equal(11000);
    const ks = (await c.find({ g: { $in: [1, 9] } }, { sort: { _id: 1 } }).toArray()).map((d) => d.k);
    expect(ks.filter((k) => k === 'dup')).to.have.length(1); // exactly the first document updated
    expect(await eqIds('w5', { k: 'dup' })).to.deep.equal(await rangeIds('w5', 'k', 'dup'));
  });

  it('arrays: multikey index entries follow $set / $push / $unset of the array', async () => {
    const c = coll('w6');
    await c.createIndex({ tags: 1 });
    await c.createIndex({ 'a.b': 1 });
    await c.insertMany([
      { _id: 1, tags: ['x', 'y'], a: [{ b: 1 }, { b: 2 }] },
      { _id: 2, tags: 'x', a: { b: 3 } },
      { _id: 3, tags: [], a: { c: 1 } },
    ]);
    expect(await eqIds('w6', { tags: 'x' })).to.deep.equal([1, 2]);
    await c.updateOne({ _id: 1 }, { $set: { tags: ['z'] } });
    await c.updateOne({ _id: 3 }, { $push: { tags: 'x' } } as any);
    expect(await eqIds('w6', { tags: 'x' })).to.deep.equal([2, 3]);
    expect(await eqIds('w6', { tags: 'z' })).to.deep.equal([1]);
    expect(await eqIds('w6', { tags: 'y' })).to.deep.equal([]);
    expect(await eqIds('w6', { 'a.b': 2 })).to.deep.equal([1]);
    await c.updateOne({ _id: 1 }, { $set: { 'a.1.b': 5 } });
    expect(await eqIds('w6', { 'a.b': 2 })).to.deep.equal([]);
    expect(await eqIds('w6', { 'a.b': 5 })).to.deep.equal([1]);
    await c.updateOne({ _id: 2 }, { $unset: { 'a.b': '' } });
    expect(await c.findOne({ _id: 2 })).to.deep.equal({ _id: 2, tags: 'x', a: {} });
    expect(await eqIds('w6', { 'a.b': 3 })).to.deep.equal([]);
    expect(await eqIds('w6', { 'a.b': null })).to.deep.equal([2, 3]);
  });

  it('dotted paths: $set / $unset / $inc under subdocuments, indexes on dotted fields', async () => {
    const c = coll('w7');
    await c.createIndex({ 'v.k': 1 }, { unique: true, sparse: true });
    await c.insertMany([
      { _id: 1, v: { k: 'a', n: 1 } },
      { _id: 2, v: { n: 2 } },
      { _id: 3 },
    ]);
    expect((await c.updateOne({ _id: 2 }, { $set: { 'v.n': 3 } })).modifiedCount).to.equal(1);
    expect((await c.updateOne({ _id: 3 }, { $inc: { 'v.n': 1 } })).modifiedCount).to.equal(1);
    expect(await c.findOne({ _id: 3 })).to.deep.equal({ _id: 3, v: { n: 1 } });
    const dup: any = await c.updateOne({ _id: 2 }, { $set: { 'v.k': 'a' } }).catch((e) => e);
    expect(dup.code).to.equal(11000);
    expect(await c.findOne({ _id: 2 })).to.deep.equal({ _id: 2, v: { n: 3 } });
    await c.updateOne({ _id: 1 }, { $unset: { 'v.k': '' } });
    await c.updateOne({ _id: 2 }, { $set: { 'v.k': 'a' } });
    expect(await eqIds('w7', { 'v.k': 'a' })).to.deep.equal([2]);
    // sparse: documents without v.k are not in the index, both may lack it
    await c.updateOne({ _id: 2 }, { $unset: { v: '' } });
    expect(await c.findOne({ _id: 2 })).to.deep.equal({ _id: 2 });
    expect(await c.countDocuments({ 'v.k': { $exists: true } })).to.equal(0);
  });

  it('$set through null or a scalar parent follows MongoDB (PathNotViable for scalars)', async () => {
    const c = coll('w8');
    await c.insertOne({ _id: 1, a: 5, b: { c: 1 } });
    const e: any = await c.updateOne({ _id: 1 }, { $set: { 'a.x': 1 } }).catch((x) => x);
    expect(e.code).to.equal(28);
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, a: 5, b: { c: 1 } });
  });

  it('findOneAndUpdate returns the old and the new document; a no-op changes nothing', async () => {
    const c = coll('w9');
    await c.createIndex({ k: 1 });
    await c.insertOne({ _id: 1, k: 'a', n: 1 });
    const before = await c.findOneAndUpdate({ k: 'a' }, { $set: { k: 'b' }, $inc: { n: 1 } }, { returnDocument: 'before' });
    expect(before).to.deep.equal({ _id: 1, k: 'a', n: 1 });
    const after = await c.findOneAndUpdate({ k: 'b' }, { $set: { k: 'b' } }, { returnDocument: 'after' });
    expect(after).to.deep.equal({ _id: 1, k: 'b', n: 2 });
    expect(await eqIds('w9', { k: 'a' })).to.deep.equal([]);
    expect(await eqIds('w9', { k: 'b' })).to.deep.equal([1]);
  });
});

(REAL ? describe.skip : describe)('engine write paths (internals)', function () {
  let dir: string;
  let store: Store;
  let engine: Engine;
  const run = (cmd: Record<string, unknown>) => engine.run({ ...cmd, $db: 'x' });

  beforeEach(() => {
    dir = tempDir();
    store = new Store(dir);
    engine = new Engine(store, { ttlIntervalMs: 0 });
  });
  afterEach(async () => {
    await engine.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    updateFastPath.enabled = true;
  });

  function seed() {
    run({
      createIndexes: 'c',
      indexes: [
        { key: { k: 1 }, name: 'k', unique: true },
        { key: { g: 1, 'a.b': 1 }, name: 'g_ab' },
        { key: { tags: 1 }, name: 'tags' },
        { key: { p: 1 }, name: 'p_partial', partialFilterExpression: { live: true } },
        { key: { s: 1 }, name: 's_sparse', sparse: true },
      ],
    });
    const docs = Array.from({ length: 40 }, (_, i) => ({
      _id: i,
      k: 'k' + i,
      g: i % 4,
      a: i % 3 === 0 ? [{ b: i }, { b: i + 1 }] : { b: i % 5, c: 'x' },
      tags: i % 2 ? ['t' + (i % 3), 't9'] : 't' + (i % 3),
      p: i % 6,
      live: i % 2 === 0,
      ...(i % 5 ? { s: i % 7 } : {}),
    }));
    expect(run({ insert: 'c', documents: docs }).n).to.equal(40);
    return store.get('x', 'c')!;
  }

  const UPDATES: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ g: 1 }, { $set: { g: 2 } }],
    [{ g: 2 }, { $set: { 'a.b': 7 } }],
    [{ g: 0 }, { $set: { 'a.c': 'y' } }],
    [{ tags: 't9' }, { $set: { tags: ['t1', 't1', 't2'] } }],
    [{ live: true }, { $set: { live: false }, $inc: { p: 1 } }],
    [{ p: 3 }, { $unset: { s: '' } }],
    [{ g: 3 }, { $set: { s: null } }],
    [{}, { $set: { untouched: 1 } }],
    [{ g: 2 }, { $unset: { a: '', tags: '' } }],
    [{ k: 'k5' }, { $set: { k: 'k6' } }], // unique violation
    [{}, { $set: { k: 'same' } }], // unique violation on the second document
    [{ g: 1 }, { $push: { tags: 'pushed' } }],
    [{ g: 0 }, { $rename: { p: 'q' } }],
  ];

  it('after every kind of update the in-memory indexes equal indexes rebuilt from the documents', () => {
    const c = seed();
    expectIndexesConsistent(c);
    for (const [q, u] of UPDATES) {
      run({ update: 'c', updates: [{ q, u, multi: true }] });
      expectIndexesConsistent(c);
    }
    run({ findAndModify: 'c', query: { k: 'k7' }, update: { $set: { k: 'k70', g: 9 } } });
    expectIndexesConsistent(c);
    run({ update: 'c', updates: [{ q: { _id: 8 }, u: { k: 'k80', g: 1, tags: ['r'] } }] }); // replacement
    expectIndexesConsistent(c);
    run({ delete: 'c', deletes: [{ q: { g: 1 }, limit: 0 }] });
    expectIndexesConsistent(c);
  });

  it('the reopened store has the same documents and indexes as memory after these updates', () => {
    const c = seed();
    for (const [q, u] of UPDATES) run({ update: 'c', updates: [{ q, u, multi: true }] });
    const mem = snapshot(c);
    engine.close();
    store.close();
    store = new Store(dir);
    engine = new Engine(store, { ttlIntervalMs: 0 });
    const reopened = snapshot(store.get('x', 'c')!) as { docs: [string, string][]; indexes: unknown[] };
    const m = mem as { docs: [string, string][]; indexes: unknown[] };
    const byKey = (xs: [string, string][]) => [...xs].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    expect(byKey(reopened.docs)).to.deep.equal(byKey(m.docs));
    expect(reopened.indexes).to.deep.equal(m.indexes);
  });

  it('a rolled-back batch leaves documents and every index exactly as before', () => {
    const c = seed();
    const before = snapshot(c);
    const batch = new WriteBatch(store);
    for (const [q, u] of UPDATES) {
      for (const [k, d] of [...c.docs]) {
        if (q.g !== undefined && d.g !== q.g) continue;
        let r;
        try {
          r = applyUpdateDiff(d, u as any);
        } catch {
          continue;
        }
        try {
          if (r.modified) batch.replace(c, k, r.doc, r.changed);
        } catch (e) {
          expect((e as { code?: number }).code).to.equal(11000);
        }
      }
    }
    batch.insert(c, { _id: 'new', k: 'fresh', g: 1, a: { b: 1 }, tags: ['n'] });
    batch.delete(c, canon(3));
    expect(snapshot(c)).to.not.deep.equal(before);
    batch.rollback();
    expect(snapshot(c)).to.deep.equal(before);
    expectIndexesConsistent(c);
  });

  it('a command failing with an internal error is undone in memory and not written', () => {
    const c = seed();
    const before = snapshot(c);
    // the second statement throws a non-command error inside the handler (after the first wrote)
    const orig = c.indexes[1].check;
    let calls = 0;
    c.indexes[1].check = function (this: Index, ...args: Parameters<Index['check']>) {
      if (++calls === 2) throw new Error('boom');
      return orig.apply(this, args);
    };
    try {
      const reply = run({ update: 'c', updates: [{ q: { _id: 1 }, u: { $set: { k: 'z1' } } }, { q: { _id: 2 }, u: { $set: { k: 'z2' } } }] });
      expect(reply.ok).to.equal(0);
    } finally {
      c.indexes[1].check = orig;
    }
    expect(snapshot(c)).to.deep.equal(before);
    engine.close();
    store.close();
    store = new Store(dir);
    engine = new Engine(store, { ttlIntervalMs: 0 });
    expect(snapshot(store.get('x', 'c')!)).to.deep.equal(before);
  });

  it('the direct $set / $unset path gives the same documents and change reports as mingo', () => {
    const docs: Record<string, unknown>[] = [
      { _id: 1, a: 1, b: { c: 1, d: { e: 2 } }, arr: [1, { x: 1 }], n: null, s: 'str' },
      { _id: 2 },
      { _id: 3, b: {}, arr: [], l: Long.fromNumber(3), o: new ObjectId('64b7f0c2a1b2c3d4e5f60718'), dt: new Date(1) },
    ];
    const updates: Record<string, unknown>[] = [
      { $set: { a: 2 } },
      { $set: { a: 1 } },
      { $set: { 'b.c': 5, 'b.d.f': 6 } },
      { $set: { 'b.d': { e: 2 } } },
      { $set: { 'x.y.z': [1, { q: 2 }] } },
      { $set: { l: 3 } },
      { $set: { l: Long.fromNumber(4), dt: new Date(1) } },
      { $unset: { a: '', 'b.d.e': '', 'zz.top': '' } },
      { $unset: { b: 1 } },
      { $set: { arr: { now: 'object' } }, $unset: { s: '' } },
      { $set: { new1: 1, new2: { deep: true } }, $inc: { 'b.c': 1 } },
      { $set: { _id: 1, a: 3 } },
      { $set: { 'arr.1.x': 9 } }, // array on the way: mingo in both cases
      { $set: { 'b.0': 1 } }, // numeric part: mingo in both cases
      { $set: { o: new ObjectId('64b7f0c2a1b2c3d4e5f60718') } },
    ];
    for (const d of docs) {
      for (const u of updates) {
        const outcome = (fast: boolean) => {
          updateFastPath.enabled = fast;
          try {
            const r = applyUpdateDiff(d, u);
            return { doc: Buffer.from(serialize(r.doc)).toString('hex'), modified: r.modified, changed: [...r.changed].sort() };
          } catch (e) {
            return { error: (e as { code?: number }).code ?? (e as Error).message };
          } finally {
            updateFastPath.enabled = true;
          }
        };
        expect(outcome(true), `${JSON.stringify(d)} ${JSON.stringify(u)}`).to.deep.equal(outcome(false));
      }
    }
  });

  it('updates never mutate the stored document (new versions share only unchanged parts)', () => {
    const deepFreeze = (v: any): any => {
      if (v && typeof v === 'object' && !(v instanceof Date) && !v._bsontype) {
        for (const k of Object.keys(v)) deepFreeze(v[k]);
        Object.freeze(v);
      }
      return v;
    };
    const d = deepFreeze({ _id: 1, a: { b: { c: 1 }, k: [1, 2] }, x: [{ y: 1 }], n: 5 });
    const copy = Buffer.from(serialize(d)).toString('hex');
    const us: any[] = [
      { $set: { 'a.b.c': 2 } },
      { $unset: { 'a.b.c': '' } },
      { $inc: { 'a.b.c': 1, n: 2 } },
      { $set: { 'a.k': [3] }, $mul: { n: 2 } },
      { $push: { 'a.k': 3 } },
      { $set: { 'x.0.y': 7 } },
      { $set: { 'x.$[].y': 8 } },
      { $rename: { n: 'm' } },
    ];
    for (const u of us) {
      const r = applyUpdateDiff(d, u);
      expect(r.modified, JSON.stringify(u)).to.equal(true);
    }
    expect(Buffer.from(serialize(d)).toString('hex')).to.equal(copy);
    const r = applyUpdateDiff(d, { $set: { 'a.b.c': 9 } });
    expect(r.doc.x).to.equal(d.x); // unchanged parts are shared…
    expect(r.doc.a.k).to.equal(d.a.k);
    expect(r.doc.a).to.not.equal(d.a); // …the changed path is copied
    expect([...r.changed]).to.deep.equal(['a']);
  });

  it('sameCanon agrees with comparing canonical strings', () => {
    const vals: unknown[] = [
      undefined, null, 0, -0, 1, 1.5, NaN, Long.fromNumber(1), 'a', '1', true, false, new Date(1), new Date(2),
      [], [1], [1, 2], [[1]], { a: 1 }, { a: 1, b: 2 }, { b: 2, a: 1 }, { a: [1, { b: null }] }, { a: [1, { b: undefined }] },
      new ObjectId('64b7f0c2a1b2c3d4e5f60718'), new ObjectId('64b7f0c2a1b2c3d4e5f60719'), Buffer.from('ab'), /x/i,
    ];
    for (const a of vals) for (const b of vals) expect(sameCanon(a, b), `${String(a)} vs ${String(b)}`).to.equal(canon(a) === canon(b));
  });
});

(REAL ? describe.skip : describe)('engine inserts: SQLite gets the documents\' bytes from the wire', function () {
  it('insert commands store the bytes the client sent (no second serialisation), and restart gives the same documents', async () => {
    const dir = tempDir();
    const { startEngine } = await import('../../server/db/engine/index.ts');
    const { Double, Decimal128, Binary } = await import('bson');
    let e = await startEngine({ dataDir: dir });
    let client = await new MongoClient(e.uri).connect();
    try {
      const c = client.db('w').collection<any>('raw');
      await c.createIndex({ k: 1 }, { unique: true });
      const docs: any[] = [
        { _id: 1, k: 'a', dbl: new Double(2), l: Long.fromString('9007199254740993'), dec: Decimal128.fromString('1.10'), bin: new Binary(Buffer.from([1, 2]), 4), at: new Date(7), n: null, arr: [1, [2, { x: 'é' }]], o: new ObjectId('64b7f0c2a1b2c3d4e5f60718') },
        { _id: 2, k: 'b', s: '汉字', nested: { a: { b: 1.5 } } },
        { k: 'c', _id: 3 }, // _id not first: the engine reorders, so it serialises this one itself
      ];
      const before = storeStats.wirePuts;
      await c.insertMany(docs.map((d) => ({ ...d })));
      expect(storeStats.wirePuts - before).to.equal(2);
      // a failed ordered insert: the documents before the error are stored from their bytes
      const err: any = await c.insertMany([{ _id: 4, k: 'd' }, { _id: 5, k: 'a' }, { _id: 6, k: 'f' }]).catch((x) => x);
      expect(err.code).to.equal(11000);
      expect(storeStats.wirePuts - before).to.equal(3);
      const sqlBytes = (id: number) => {
        const row = (e.engine.store.sql.prepare('SELECT doc FROM docs WHERE k = ?').get(canon(id)) as { doc: Buffer });
        return Buffer.from(row.doc);
      };
      // stored exactly as the client encoded it (a double stays a double, as in MongoDB)
      expect(sqlBytes(1).equals(Buffer.from(serialize(docs[0])))).to.equal(true);
      expect(sqlBytes(2).equals(Buffer.from(serialize(docs[1])))).to.equal(true);
      const mem = await c.find({}, { sort: { _id: 1 }, promoteLongs: false }).toArray();
      await client.close();
      await e.stop();
      e = await startEngine({ dataDir: dir });
      client = await new MongoClient(e.uri).connect();
      const c2 = client.db('w').collection<any>('raw');
      const after = await c2.find({}, { sort: { _id: 1 }, promoteLongs: false }).toArray();
      expect(after.map((d) => Buffer.from(serialize(d)).toString('hex'))).to.deep.equal(mem.map((d) => Buffer.from(serialize(d)).toString('hex')));
      expect(after.map((d) => d._id)).to.deep.equal([1, 2, 3, 4]);
      expect(Object.keys(after[2])).to.deep.equal(['_id', 'k']);
      const dup: any = await c2.insertOne({ _id: 9, k: 'b' }).catch((x) => x);
      expect(dup.code).to.equal(11000);
    } finally {
      await client.close();
      await e.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds the documents of an insert body, and refuses anything laid out otherwise', async () => {
    const { insertDocumentBytes } = await import('../../server/db/engine/wire.ts');
    const docs = [{ _id: 1, a: 'x' }, { _id: 2, b: [1, { c: null }] }, {}];
    const body = Buffer.from(serialize({ insert: 'c', ordered: true, lsid: { id: new ObjectId() }, n: 1.5, l: Long.fromNumber(3), t: true, nul: null, at: new Date(1), documents: docs, $db: 'x' }));
    const raws = insertDocumentBytes(body)!;
    expect(raws.map((r) => deserialize(r))).to.deep.equal(docs);
    expect(insertDocumentBytes(Buffer.from(serialize({ insert: 'c', $db: 'x' })))).to.equal(null);
    expect(insertDocumentBytes(Buffer.from(serialize({ insert: 'c', documents: 'no' })))).to.equal(null);
    expect(insertDocumentBytes(Buffer.from(serialize({ insert: 'c', documents: [1, 2] })))).to.equal(null);
    expect(insertDocumentBytes(Buffer.from(serialize({ insert: 'c', re: /x/, documents: docs })))).to.equal(null); // a type it does not skip
  });

  it('an insert sent as an OP_MSG document sequence also stores the sequence\'s bytes', () => {
    const dir = tempDir();
    const store = new Store(dir);
    const engine = new Engine(store, { ttlIntervalMs: 0 });
    try {
      const docs = [{ _id: 'a', v: 1 }, { _id: 'b', v: [1, 2] }];
      const seqDocs = Buffer.concat(docs.map((d) => Buffer.from(serialize(d))));
      const id = Buffer.from('documents\0');
      const seq = Buffer.concat([Buffer.from([1]), Buffer.alloc(4), id, seqDocs]);
      seq.writeInt32LE(seq.length - 1, 1);
      const body = Buffer.concat([Buffer.from([0]), Buffer.from(serialize({ insert: 'c', $db: 'x' }))]);
      const msg = Buffer.concat([Buffer.alloc(20), body, seq]);
      msg.writeInt32LE(msg.length, 0);
      msg.writeInt32LE(7, 4);
      msg.writeInt32LE(2013, 12);
      const before = storeStats.wirePuts;
      const reply = deserialize(engine.handleMessage(msg, 1)!.subarray(21));
      expect(reply).to.deep.equal({ n: 2, ok: 1 });
      expect(storeStats.wirePuts - before).to.equal(2);
      const rows = store.sql.prepare('SELECT doc FROM docs ORDER BY k').all() as { doc: Buffer }[];
      expect(rows.map((r) => deserialize(r.doc))).to.deep.equal(docs);
      expect(Buffer.from(rows[0].doc).equals(Buffer.from(serialize(docs[0])))).to.equal(true);
    } finally {
      engine.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
