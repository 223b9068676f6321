// Conformance through the official driver: every command, error shapes, cursors, indexes,
// GridFS and connect-mongo style usage. Same assertions on the engine and on real MongoDB.
import { expect } from 'chai';
import { MongoClient, GridFSBucket, Long, ObjectId, Decimal128, Binary } from 'mongodb';
import { driverSuite, fails, REAL, startTarget } from './harness.ts';

describe('engine conformance: driver', function () {
  const env = driverSuite();

  it('answers hello / isMaster / ping / buildInfo like a standalone server', async () => {
    const h = await env.db.admin().command({ hello: 1 });
    expect(h.isWritablePrimary).to.equal(true);
    expect(h.maxWireVersion).to.be.at.least(9);
    expect(h.logicalSessionTimeoutMinutes).to.be.a('number');
    expect(h.maxBsonObjectSize).to.equal(16777216);
    expect(h.maxMessageSizeBytes).to.equal(48000000);
    expect(h.maxWriteBatchSize).to.equal(100000);
    expect(h).to.not.have.property('setName');
    expect(h).to.not.have.property('topologyVersion');
    const im = await env.db.admin().command({ isMaster: 1 });
    expect(im.ismaster).to.equal(true);
    expect((await env.db.command({ ping: 1 })).ok).to.equal(1);
    const bi = await env.db.admin().command({ buildInfo: 1 });
    expect(bi.version).to.be.a('string');
  });

  it('answers unknown commands with CommandNotFound (59)', async () => {
    const e = await fails(env.db.command({ noSuchCommandHere: 1 }));
    expect(e.code).to.equal(59);
    expect(e.codeName).to.equal('CommandNotFound');
  });

  it('refuses transaction numbers as a standalone mongod does (20)', async () => {
    const e = await fails(env.db.command({ find: 'txn', filter: {}, txnNumber: Long.fromNumber(1) }));
    expect(e.code).to.equal(20);
    expect(e.message).to.match(/Transaction numbers are only allowed on a replica set member or mongos/);
  });

  it('create / listCollections / drop / dropDatabase', async () => {
    const other = env.client.db(env.t.dbName + '_x');
    await other.createCollection('a');
    const e = await fails(other.createCollection('a'));
    expect(e.code).to.equal(48);
    await other.collection('b').insertOne({ x: 1 });
    const names = (await other.listCollections().toArray()).map((c) => c.name).sort();
    expect(names).to.deep.equal(['a', 'b']);
    const only = await other.listCollections({ name: 'b' }, { nameOnly: true }).toArray();
    expect(only.map((c) => c.name)).to.deep.equal(['b']);
    expect(await other.collection('a').drop()).to.equal(true);
    expect((await other.listCollections().toArray()).map((c) => c.name)).to.deep.equal(['b']);
    await other.dropDatabase();
    expect(await other.listCollections().toArray()).to.deep.equal([]);
  });

  it('insert / find with filter, sort, skip, limit, projection', async () => {
    const c = env.db.collection('people');
    const docs = Array.from({ length: 20 }, (_, i) => ({ i, name: `p${i}`, even: i % 2 === 0, tags: i % 3 ? ['a'] : ['a', 'b'] }));
    const r = await c.insertMany(docs);
    expect(r.insertedCount).to.equal(20);
    const got = await c.find({ even: true, i: { $gte: 4 } }, { projection: { _id: 0, i: 1 } }).sort({ i: -1 }).skip(1).limit(3).toArray();
    expect(got).to.deep.equal([{ i: 16 }, { i: 14 }, { i: 12 }]);
    expect(await c.countDocuments({ tags: 'b' })).to.equal(7);
    expect(await c.countDocuments({ i: { $in: [1, 2, 300] } })).to.equal(2);
    expect(await c.estimatedDocumentCount()).to.equal(20);
    const one = await c.findOne({ name: 'p7' });
    expect(Object.keys(one!)[0]).to.equal('_id');
    expect(one!._id).to.be.instanceOf(ObjectId);
    expect(await c.distinct('tags')).to.deep.equal(['a', 'b']);
    expect(await c.distinct('i', { i: { $lt: 3 } })).to.deep.equal([0, 1, 2]);
  });

  it('keeps BSON types and compares them as MongoDB does', async () => {
    const c = env.db.collection('types');
    const when = new Date('2024-05-06T07:08:09.010Z');
    const bin = new Binary(Buffer.from([1, 2, 3]));
    await c.insertMany([
      { _id: 1 as any, v: Long.fromString('9007199254740993'), d: Decimal128.fromString('1.10'), when, bin },
      { _id: 2 as any, v: 5 },
      { _id: 3 as any, v: Decimal128.fromString('7.5') },
      { _id: 4 as any, v: 'text' },
      { _id: 5 as any, v: null },
    ]);
    const first = await c.findOne({ _id: 1 as any }, { promoteLongs: false });
    expect(first!.v).to.be.instanceOf(Long);
    expect(first!.v.toString()).to.equal('9007199254740993');
    expect(first!.d).to.be.instanceOf(Decimal128);
    expect(first!.d.toString()).to.equal('1.10');
    expect(first!.when.getTime()).to.equal(when.getTime());
    expect(Buffer.from(first!.bin.buffer).equals(Buffer.from([1, 2, 3]))).to.equal(true);
    const sorted = await c.find({}, { projection: { _id: 1 } }).sort({ v: 1 }).toArray();
    expect(sorted.map((d) => d._id)).to.deep.equal([5, 2, 3, 1, 4]);
    const gt = await c.find({ v: { $gt: 6 } }, { projection: { _id: 1 } }).sort({ _id: 1 }).toArray();
    expect(gt.map((d) => d._id)).to.deep.equal([1, 3]);
    expect(await c.countDocuments({ v: 7.5 })).to.equal(1);
  });

  it('update: multi, upsert seeded from the filter, $setOnInsert, arrayFilters, positional', async () => {
    const c = env.db.collection('upd');
    await c.insertMany([
      { k: 'a', n: 1, grades: [{ g: 1 }, { g: 5 }], arr: [1, 2, 3] },
      { k: 'b', n: 2, grades: [{ g: 7 }], arr: [3] },
    ]);
    const m = await c.updateMany({}, { $inc: { n: 10 } });
    expect([m.matchedCount, m.modifiedCount]).to.deep.equal([2, 2]);
    const noop = await c.updateOne({ k: 'a' }, { $set: { n: 11 } });
    expect([noop.matchedCount, noop.modifiedCount]).to.deep.equal([1, 0]);
    const up = await c.updateOne({ k: 'z', 'meta.unit': 'u1' }, { $set: { n: 1 }, $setOnInsert: { created: true } }, { upsert: true });
    expect(up.upsertedCount).to.equal(1);
    const z = await c.findOne({ _id: up.upsertedId! });
    expect(z).to.deep.include({ k: 'z', meta: { unit: 'u1' }, n: 1, created: true });
    await c.updateOne({ k: 'z' }, { $set: { n: 2 }, $setOnInsert: { created: false } }, { upsert: true });
    expect((await c.findOne({ k: 'z' }))!.created).to.equal(true);
    await c.updateOne({ k: 'a' }, { $set: { 'grades.$[x].g': 0 } }, { arrayFilters: [{ 'x.g': { $gte: 5 } }] });
    expect((await c.findOne({ k: 'a' }))!.grades).to.deep.equal([{ g: 1 }, { g: 0 }]);
    await c.updateOne({ k: 'a', arr: 2 }, { $set: { 'arr.$': 20 } });
    expect((await c.findOne({ k: 'a' }))!.arr).to.deep.equal([1, 20, 3]);
    await c.updateOne({ k: 'b' }, { $push: { arr: 4 } as any, $unset: { grades: '' } });
    const b = await c.findOne({ k: 'b' });
    expect(b!.arr).to.deep.equal([3, 4]);
    expect(b).to.not.have.property('grades');
    const rep = await c.replaceOne({ k: 'b' }, { k: 'b', replaced: true });
    expect(rep.modifiedCount).to.equal(1);
    const rb = await c.findOne({ k: 'b' });
    expect(rb!._id).to.deep.equal(b!._id);
    expect(rb).to.not.have.property('arr');
  });

  it('update errors: $inc on a string (14), non-numeric $inc (14), _id change (66), unknown modifier (9)', async () => {
    const c = env.db.collection('uerr');
    await c.insertOne({ _id: 'x' as any, s: 'str', n: 1 });
    let e = await fails(c.updateOne({ _id: 'x' as any }, { $inc: { s: 1 } }));
    expect(e.code).to.equal(14);
    expect(e.message).to.match(/Cannot apply \$inc to a value of non-numeric type/);
    e = await fails(c.updateOne({ _id: 'x' as any }, { $inc: { n: 'a' as any } }));
    expect(e.code).to.equal(14);
    e = await fails(c.updateOne({ _id: 'x' as any }, { $set: { _id: 'y' } }));
    expect(e.code).to.equal(66);
    e = await fails(env.db.command({ update: 'uerr', updates: [{ q: {}, u: { $foo: { a: 1 } } }] }).then((r) => {
      if (r.writeErrors) throw Object.assign(new Error(r.writeErrors[0].errmsg), { code: r.writeErrors[0].code });
    }));
    expect(e.code).to.equal(9);
    expect((await c.findOne({ _id: 'x' as any }))!.n).to.equal(1);
  });

  it('delete: one and many', async () => {
    const c = env.db.collection('del');
    await c.insertMany([{ a: 1 }, { a: 1 }, { a: 2 }]);
    expect((await c.deleteOne({ a: 1 })).deletedCount).to.equal(1);
    expect((await c.deleteMany({ a: { $gte: 1 } })).deletedCount).to.equal(2);
    expect(await c.countDocuments()).to.equal(0);
  });

  it('findAndModify: update, upsert, remove, sort, projection', async () => {
    const c = env.db.collection('fam');
    await c.insertMany([{ q: 1, v: 'a' }, { q: 2, v: 'b' }]);
    const before = await c.findOneAndUpdate({}, { $set: { v: 'B' } }, { sort: { q: -1 }, returnDocument: 'before' });
    expect(before!.v).to.equal('b');
    const after = await c.findOneAndUpdate({ q: 1 }, { $set: { v: 'A' } }, { returnDocument: 'after', projection: { _id: 0, v: 1 } });
    expect(after).to.deep.equal({ v: 'A' });
    const ups = await c.findOneAndUpdate({ q: 3 }, { $set: { v: 'c' } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true });
    expect(ups.lastErrorObject!.updatedExisting).to.equal(false);
    expect(ups.value!.q).to.equal(3);
    const removed = await c.findOneAndDelete({ q: 2 });
    expect(removed!.v).to.equal('B');
    expect(await c.findOneAndUpdate({ q: 99 }, { $set: { v: 1 } })).to.equal(null);
  });

  it('unique and compound unique indexes: E11000 shape, listIndexes, dropIndexes', async () => {
    const c = env.db.collection('idx');
    expect(await c.createIndex({ email: 1 }, { unique: true })).to.equal('email_1');
    expect(await c.createIndex({ unit: 1, period: 1 }, { unique: true, name: 'unit_period' })).to.equal('unit_period');
    await c.createIndex({ tag: 1 });
    await c.insertOne({ email: 'a@x', unit: 'u', period: '2024Q1' });
    let e = await fails(c.insertOne({ email: 'a@x' }));
    expect(e.code).to.equal(11000);
    expect(e.keyPattern).to.deep.equal({ email: 1 });
    expect(e.keyValue).to.deep.equal({ email: 'a@x' });
    expect(e.message).to.equal(`E11000 duplicate key error collection: ${env.t.dbName}.idx index: email_1 dup key: { email: "a@x" }`);
    e = await fails(c.insertOne({ email: 'b@x', unit: 'u', period: '2024Q1' }));
    expect(e.code).to.equal(11000);
    expect(e.keyPattern).to.deep.equal({ unit: 1, period: 1 });
    expect(e.keyValue).to.deep.equal({ unit: 'u', period: '2024Q1' });
    await c.insertOne({ email: 'c@x', unit: 'u', period: '2024Q2' });
    e = await fails(c.updateOne({ email: 'c@x' }, { $set: { period: '2024Q1' } }));
    expect(e.code).to.equal(11000);
    e = await fails(c.findOneAndUpdate({ email: 'c@x' }, { $set: { email: 'a@x' } }));
    expect(e.code).to.equal(11000);
    e = await fails(c.updateOne({ email: 'a@x' }, { $set: { unit: 'v' } }, { upsert: true }).then(() => c.updateOne({ email: 'zz' }, { $set: { unit: 'v', period: '2024Q1' } }, { upsert: true })));
    expect(e.code).to.equal(11000);
    // ordered insertMany stops at the first duplicate, keeping the earlier documents
    e = await fails(c.insertMany([{ email: 'd@x' }, { email: 'd@x' }, { email: 'e@x' }]));
    expect(e.code).to.equal(11000);
    expect(await c.countDocuments({ email: { $in: ['d@x', 'e@x'] } })).to.equal(1);
    e = await fails(c.insertOne({ _id: (await c.findOne({ email: 'a@x' }))!._id, email: 'q' }));
    expect(e.code).to.equal(11000);
    expect(e.keyPattern).to.deep.equal({ _id: 1 });
    const names = (await c.listIndexes().toArray()).map((i) => i.name).sort();
    expect(names).to.deep.equal(['_id_', 'email_1', 'tag_1', 'unit_period']);
    const spec = (await c.listIndexes().toArray()).find((i) => i.name === 'email_1');
    expect(spec!.unique).to.equal(true);
    expect(spec!.key).to.deep.equal({ email: 1 });
    await c.dropIndex('email_1');
    await c.insertOne({ email: 'a@x', unit: 'w', period: '2024Q9' }); // no longer unique
    e = await fails(c.dropIndex('nope_1'));
    expect(e.code).to.equal(27);
    e = await fails(c.dropIndex('_id_'));
    expect(e.code).to.equal(72);
    e = await fails(c.createIndex({ email: 1 }, { unique: true }));
    expect(e.code).to.equal(11000);
    e = await fails(env.db.collection('missing_coll').listIndexes().toArray());
    expect(e.code).to.equal(26);
    await c.dropIndexes();
    expect((await c.listIndexes().toArray()).map((i) => i.name)).to.deep.equal(['_id_']);
  });

  it('cursors: getMore across many batches, killCursors, int64 ids', async () => {
    const c = env.db.collection('many');
    await c.insertMany(Array.from({ length: 1050 }, (_, i) => ({ i })));
    const raw = await env.db.command({ find: 'many', filter: {}, sort: { i: 1 } });
    expect(raw.cursor.firstBatch).to.have.length(101);
    expect(raw.cursor.id).to.be.instanceOf(Long);
    expect(raw.cursor.id.isZero()).to.equal(false);
    const more = await env.db.command({ getMore: raw.cursor.id, collection: 'many', batchSize: 100 });
    expect(more.cursor.nextBatch).to.have.length(100);
    expect(more.cursor.nextBatch[0].i).to.equal(101);
    const killed = await env.db.command({ killCursors: 'many', cursors: [raw.cursor.id] });
    expect(killed.cursorsKilled.map(String)).to.deep.equal([raw.cursor.id.toString()]);
    const e = await fails(env.db.command({ getMore: raw.cursor.id, collection: 'many' }));
    expect(e.code).to.equal(43);
    let n = 0;
    let last = -1;
    for await (const d of c.find({}, { batchSize: 50 }).sort({ i: 1 })) {
      expect(d.i).to.equal(last + 1);
      last = d.i;
      n++;
    }
    expect(n).to.equal(1050);
    const single = await env.db.command({ find: 'many', filter: {}, batchSize: 5, singleBatch: true });
    expect(Number(single.cursor.id)).to.equal(0);
    expect(single.cursor.firstBatch).to.have.length(5);
    const limited = await c.find({}).limit(150).toArray();
    expect(limited).to.have.length(150);
  });

  it('aggregate: $match $group $sort $project $unwind $lookup $facet $count $addFields $replaceRoot $skip $limit', async () => {
    const units = env.db.collection('units');
    const rets = env.db.collection('rets');
    await units.insertMany([{ code: 'A', name: '甲' }, { code: 'B', name: '乙' }]);
    await rets.insertMany([
      { unit: 'A', v: 3, tags: ['x', 'y'] },
      { unit: 'A', v: 4, tags: ['x'] },
      { unit: 'B', v: 10, tags: [] },
    ]);
    const out = await rets
      .aggregate([
        { $match: { v: { $gt: 0 } } },
        { $group: { _id: '$unit', total: { $sum: '$v' }, n: { $sum: 1 } } },
        { $lookup: { from: 'units', localField: '_id', foreignField: 'code', as: 'u' } },
        { $unwind: '$u' },
        { $addFields: { name: '$u.name' } },
        { $project: { _id: 0, unit: '$_id', total: 1, n: 1, name: 1 } },
        { $sort: { total: -1 } },
      ])
      .toArray();
    expect(out).to.deep.equal([
      { total: 10, n: 1, name: '乙', unit: 'B' },
      { total: 7, n: 2, name: '甲', unit: 'A' },
    ].map((d) => ({ ...d })));
    const facet = await rets
      .aggregate([
        { $facet: { count: [{ $count: 'n' }], tags: [{ $unwind: '$tags' }, { $sortByCount: '$tags' }], page: [{ $sort: { v: 1 } }, { $skip: 1 }, { $limit: 1 }, { $replaceRoot: { newRoot: { v: '$v' } } }] } },
      ])
      .toArray();
    expect(facet[0].count).to.deep.equal([{ n: 3 }]);
    expect(facet[0].tags).to.deep.equal([{ _id: 'x', count: 2 }, { _id: 'y', count: 1 }]);
    expect(facet[0].page).to.deep.equal([{ v: 4 }]);
  });

  it('GridFSBucket: upload and download a file larger than one chunk', async () => {
    const bucket = new GridFSBucket(env.db, { bucketName: 'files' });
    const data = Buffer.alloc(700_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const up = bucket.openUploadStream('big.bin', { metadata: { unit: 'A' } });
    await new Promise((res, rej) => up.on('finish', res).on('error', rej).end(data));
    const files = await bucket.find({ filename: 'big.bin' }).toArray();
    expect(files).to.have.length(1);
    expect(files[0].length).to.equal(700_000);
    expect(await env.db.collection('files.chunks').countDocuments({ files_id: files[0]._id })).to.equal(3);
    const chunks: Buffer[] = [];
    await new Promise((res, rej) => bucket.openDownloadStream(up.id).on('data', (c: Buffer) => chunks.push(c)).on('end', res).on('error', rej));
    expect(Buffer.concat(chunks).equals(data)).to.equal(true);
    await bucket.delete(up.id);
    expect(await env.db.collection('files.chunks').countDocuments()).to.equal(0);
  });

  it('connect-mongo style sessions: upsert by _id with $set of _id, TTL index accepted', async () => {
    const c = env.db.collection('sessions');
    await c.createIndex({ expires: 1 }, { expireAfterSeconds: 0 });
    const expires = new Date(Date.now() + 60_000);
    await c.updateOne({ _id: 'sid' as any }, { $set: { _id: 'sid', session: '{"a":1}', expires } }, { upsert: true });
    await c.updateOne({ _id: 'sid' as any }, { $set: { _id: 'sid', session: '{"a":2}', expires } }, { upsert: true });
    const s = await c.findOne({ _id: 'sid' as any, $or: [{ expires: { $exists: false } }, { expires: { $gt: new Date() } }] });
    expect(s!.session).to.equal('{"a":2}');
    const idx = (await c.listIndexes().toArray()).find((i) => i.name === 'expires_1');
    expect(idx!.expireAfterSeconds).to.equal(0);
  });
});

if (!REAL) {
  describe('engine: TTL expiry', () => {
    it('removes documents whose TTL date has passed', async () => {
      const t = await startTarget({ ttlIntervalMs: 0 });
      const client = await new MongoClient(t.uri).connect();
      try {
        const c = client.db(t.dbName).collection('sessions');
        await c.createIndex({ expires: 1 }, { expireAfterSeconds: 0 });
        await c.insertMany([{ _id: 'old' as any, expires: new Date(Date.now() - 1000) }, { _id: 'new' as any, expires: new Date(Date.now() + 3600_000) }, { _id: 'none' as any }]);
        expect(t.embedded!.engine.expireTtl()).to.equal(1);
        expect((await c.find().toArray()).map((d) => d._id).sort()).to.deep.equal(['new', 'none']);
      } finally {
        await client.close();
        await t.close();
      }
    });
  });
}
