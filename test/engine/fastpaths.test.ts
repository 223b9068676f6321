// Fast paths of the embedded engine, checked against MongoDB's behaviour: plain inclusion /
// exclusion projections (copied directly instead of through mingo) and equality filters served
// by a compound index prefix. The expectations are literals of what MongoDB returns, so the
// same suite runs on a real server with TEST_MONGODB_URI.
import { expect } from 'chai';
import { driverSuite, REAL } from './harness.ts';
import { scanStats } from '../../server/db/engine/query.ts';

describe('engine fast paths', function () {
  const env = driverSuite();
  before(async () => {
    await env.db.collection('p').insertMany([
      { _id: 1 as any, a: 1, b: { c: 2, d: 3 }, e: [{ f: 1, g: 2 }, { g: 3 }, 7, 'x', null], h: 'z' },
      { _id: 2 as any, b: 5, e: [], h: null },
      { _id: 3 as any, a: 3, b: {}, e: { f: 9, g: 8 } },
      { _id: 4 as any, h: 'last', a: [1, 2], b: { d: 1, c: { x: 1 } } },
    ]);
  });

  const proj = (projection: Record<string, unknown>) => env.db.collection('p').find({}, { projection, sort: { _id: 1 } }).toArray();

  it('inclusion keeps _id first, the document order of fields, and skips missing fields', async () => {
    expect(await proj({ h: 1, a: 1 })).to.deep.equal([
      { _id: 1, a: 1, h: 'z' },
      { _id: 2, h: null },
      { _id: 3, a: 3 },
      { _id: 4, h: 'last', a: [1, 2] },
    ]);
    expect(await proj({ _id: 1 })).to.deep.equal([{ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 4 }]);
    expect(await proj({ missing: 1 })).to.deep.equal([{ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 4 }]);
  });

  it('inclusion with _id: 0 (also as false) and truthy numbers', async () => {
    expect(await proj({ _id: 0, a: 1 })).to.deep.equal([{ a: 1 }, {}, { a: 3 }, { a: [1, 2] }]);
    expect(await proj({ _id: false, h: true, a: 5 })).to.deep.equal([{ a: 1, h: 'z' }, { h: null }, { a: 3 }, { h: 'last', a: [1, 2] }]);
  });

  it('inclusion of nested paths: subdocuments, arrays of subdocuments, scalars dropped', async () => {
    expect(await proj({ 'b.c': 1 })).to.deep.equal([
      { _id: 1, b: { c: 2 } },
      { _id: 2 },
      { _id: 3, b: {} },
      { _id: 4, b: { c: { x: 1 } } },
    ]);
    expect(await proj({ 'e.f': 1, _id: 0 })).to.deep.equal([{ e: [{ f: 1 }, {}] }, { e: [] }, { e: { f: 9 } }, {}]);
    expect(await proj({ 'b.d': 1, 'b.c': 1, h: 1 })).to.deep.equal([
      { _id: 1, b: { c: 2, d: 3 }, h: 'z' },
      { _id: 2, h: null },
      { _id: 3, b: {} },
      { _id: 4, h: 'last', b: { d: 1, c: { x: 1 } } },
    ]);
  });

  it('exclusion of fields and nested paths, with and without _id', async () => {
    expect(await proj({ b: 0, e: 0 })).to.deep.equal([
      { _id: 1, a: 1, h: 'z' },
      { _id: 2, h: null },
      { _id: 3, a: 3 },
      { _id: 4, h: 'last', a: [1, 2] },
    ]);
    expect(await proj({ _id: 0 })).to.deep.equal([
      { a: 1, b: { c: 2, d: 3 }, e: [{ f: 1, g: 2 }, { g: 3 }, 7, 'x', null], h: 'z' },
      { b: 5, e: [], h: null },
      { a: 3, b: {}, e: { f: 9, g: 8 } },
      { h: 'last', a: [1, 2], b: { d: 1, c: { x: 1 } } },
    ]);
    expect(await proj({ 'e.g': 0, 'b.c': 0, a: false, _id: 0, missing: 0 })).to.deep.equal([
      { b: { d: 3 }, e: [{ f: 1 }, {}, 7, 'x', null], h: 'z' },
      { b: 5, e: [], h: null },
      { b: {}, e: { f: 9 } },
      { h: 'last', b: { d: 1 } },
    ]);
  });

  it('still rejects mixed inclusion and exclusion (handled by the general path)', async () => {
    let e: any;
    try {
      await proj({ a: 1, b: 0 });
    } catch (x) {
      e = x;
    }
    expect(e, 'mixed projection must fail').to.exist;
  });

  it('equality filters on all fields of a compound index prefix give the same results as a scan', async () => {
    const c = env.db.collection('rows');
    await c.createIndex({ period: 1, computeId: 1, unit: 1 }, { unique: true });
    const docs = [];
    for (const period of ['P1', 'P2']) for (let cid = 0; cid < 4; cid++) for (let u = 0; u < 50; u++) docs.push({ period, computeId: `c${cid}`, unit: `u${u}`, v: u % 7 });
    await c.insertMany(docs);
    const before = scanStats.examined;
    const hits = await c.find({ period: 'P2', computeId: 'c1' }, { projection: { _id: 0, unit: 1, v: 1 }, sort: { unit: 1 } }).toArray();
    const examined = scanStats.examined - before;
    expect(hits).to.have.length(50);
    expect(hits[0]).to.deep.equal({ unit: 'u0', v: 0 });
    expect(hits[49]).to.deep.equal({ unit: 'u9', v: 2 }); // string order: u0, u1, u10, …, u9
    // Same answer as the un-indexed form of the same filter ($and with $gte/$lte is not served by the index).
    const scanned = await c
      .find({ period: { $gte: 'P2', $lte: 'P2' }, computeId: { $gte: 'c1', $lte: 'c1' } }, { projection: { _id: 0, unit: 1, v: 1 }, sort: { unit: 1 } })
      .toArray();
    expect(hits).to.deep.equal(scanned);
    // Extra conditions are still checked on the candidates; $in on a prefix field too.
    expect(await c.countDocuments({ period: 'P1', computeId: 'c3', v: 2 })).to.equal(7);
    expect(await c.countDocuments({ period: 'P1', computeId: { $in: ['c0', 'c2', 'zz'] } })).to.equal(100);
    expect(await c.countDocuments({ period: 'P1', computeId: 'none' })).to.equal(0);
    // update / delete through the same lookup
    expect((await c.updateMany({ period: 'P2', computeId: 'c2' }, { $set: { flag: true } })).modifiedCount).to.equal(50);
    expect(await c.countDocuments({ flag: true })).to.equal(50);
    expect((await c.deleteMany({ period: 'P2', computeId: 'c3' })).deletedCount).to.equal(50);
    expect(await c.countDocuments({})).to.equal(350);
    if (!REAL) expect(examined).to.equal(50); // only the 50 index candidates, not the 400 documents
  });

  (REAL ? it.skip : it)('index-served filters examine only candidates (scanStats)', async () => {
    const c = env.db.collection('rows');
    let before = scanStats.examined;
    expect(await c.countDocuments({ period: 'P1', computeId: 'c0' })).to.equal(50);
    expect(scanStats.examined - before).to.equal(50);
    before = scanStats.examined;
    expect(await c.countDocuments({ period: 'P1', computeId: 'c0', unit: 'u7' })).to.equal(1);
    expect(scanStats.examined - before).to.equal(1);
    before = scanStats.examined;
    expect(await c.countDocuments({ $and: [{ period: 'P1' }, { computeId: { $in: ['c1', 'c2'] } }] })).to.equal(100);
    expect(scanStats.examined - before).to.equal(100);
    before = scanStats.examined;
    await c.updateMany({ period: 'P1', computeId: 'c1' }, { $set: { seen: 1 } });
    await c.deleteMany({ period: 'P1', computeId: 'c1', unit: 'u3' });
    expect(scanStats.examined - before).to.equal(51);
    before = scanStats.examined;
    expect(await c.countDocuments({ computeId: 'c0' })).to.equal(50 + 50); // not a prefix: full scan
    expect(scanStats.examined - before).to.equal(349);
  });
});

// The compiled filter fast path (query.ts compileSimpleFilter) must decide exactly as mingo's Query
// with the engine's operators would: compared document by document on a corpus of awkward shapes.
describe('engine compiled filters agree with the general (mingo) path', () => {
  it('comparisons on Dates and ObjectIds, $exists, top-level $or / $and, nested and array fields', async () => {
    const { compileFilter, mingoOptions } = await import('../../server/db/engine/query.ts');
    const { Query } = await import('mingo/query');
    const { ObjectId } = await import('bson');
    const oid = new ObjectId('64b7f0c2a1b2c3d4e5f60718');
    const other = new ObjectId('64b7f0c2a1b2c3d4e5f60719');
    const t0 = new Date('2026-12-01T00:00:00Z');
    const docs: Record<string, unknown>[] = [
      { _id: 'a', expires: new Date('2026-12-02T00:00:00Z'), u: oid },
      { _id: 'b', expires: new Date('2026-11-30T00:00:00Z'), u: other },
      { _id: 'c', u: [oid, other] },
      { _id: 'd', expires: null, u: null },
      { _id: 'e', expires: [new Date('2026-12-05T00:00:00Z')], x: { y: 1 } },
      { _id: 'f', expires: '2026-12-02', x: { y: null } },
      { _id: 'g', expires: 5, x: [{ y: 2 }, {}] },
      {},
    ];
    const filters: Record<string, unknown>[] = [
      { _id: 'a', $or: [{ expires: { $exists: false } }, { expires: { $gt: t0 } }] },
      { $or: [{ expires: { $exists: false } }, { expires: { $gt: t0 } }] },
      { $and: [{ expires: { $exists: true } }, { expires: { $lte: t0 } }] },
      { u: oid },
      { u: { $in: [other, 'zz'] } },
      { u: { $ne: oid } },
      { u: { $nin: [oid] } },
      { expires: t0 },
      { expires: { $gte: t0, $lt: new Date('2026-12-03T00:00:00Z') } },
      { expires: { $exists: true } },
      { expires: { $exists: false } },
      { 'x.y': { $exists: true } },
      { 'x.y': { $exists: false } },
      { $or: [{ _id: 'b' }, { $and: [{ _id: 'c' }, { u: other }] }] },
      { $or: [{ u: null }, { expires: 5 }], _id: { $ne: 'd' } },
    ];
    for (const f of filters) {
      const fast = compileFilter(f);
      const general = new Query(f, mingoOptions());
      for (const d of docs) expect(fast(d), `${JSON.stringify(f)} on ${JSON.stringify(d)}`).to.equal(general.test(d));
    }
  });
});
