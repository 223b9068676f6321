// BSON types survive every round trip as in MongoDB (issue 13): an integral double stays a double
// (through the wire, the store, a restart, updates that rewrite the document and aggregation),
// arithmetic follows MongoDB's promotion rules, and a BSON regex keeps its options and PCRE meaning.
// Values are read with promoteValues: false, so an int32 and a double differ. Runs on a real
// MongoDB with TEST_MONGODB_URI (the restart test on the engine only).
import { expect } from 'chai';
import { MongoClient, BSONRegExp, Double, Int32, Long, Decimal128 } from 'mongodb';
import mongoose from 'mongoose';
import { startEngine } from '../../server/db/engine/index.ts';
import { driverSuite, errorCode, REAL, tempDir } from './harness.ts';
import fs from 'node:fs';

const RAW = { promoteValues: false, promoteLongs: false } as const;
/** The BSON type name of a value read with RAW. */
const kind = (v: unknown) => (v as { _bsontype?: string })?._bsontype ?? typeof v;

describe('engine: BSON numeric types kept exactly', function () {
  const env = driverSuite();

  it('an integral double is read back as a double, an int32 as an int32', async () => {
    const c = await env.coll([
      { _id: 1, a: new Double(5) },
      { _id: 2, a: 5 },
      { _id: 3, a: new Double(5.5) },
      { _id: 4, a: new Double(-0) },
      { _id: 5, a: { b: [new Double(2), 3] } },
    ]);
    const got = await c.find({}, { sort: { _id: 1 }, ...RAW }).toArray();
    expect(got.map((d) => kind(d.a))).to.deep.equal(['Double', 'Int32', 'Double', 'Double', 'object']);
    expect(got[0].a.valueOf()).to.equal(5);
    expect(got[4].a.b.map(kind)).to.deep.equal(['Double', 'Int32']);
    // the default driver options promote both to JS numbers (what mongoose gets)
    expect((await c.findOne({ _id: 1 }))!.a).to.equal(5);
  });

  it('$type double / int / number match by the stored type; equality is numeric', async () => {
    const c = await env.coll([{ _id: 1, a: new Double(5) }, { _id: 2, a: 5 }, { _id: 3, a: Long.fromNumber(5) }, { _id: 4, a: new Decimal128('5') }]);
    const ids = async (f: object) => (await c.find(f, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
    expect(await ids({ a: { $type: 'double' } })).to.deep.equal([1]);
    expect(await ids({ a: { $type: 1 } })).to.deep.equal([1]);
    expect(await ids({ a: { $type: 'int' } })).to.deep.equal([2]);
    expect(await ids({ a: { $type: 'number' } })).to.deep.equal([1, 2, 3, 4]);
    expect(await ids({ a: 5 })).to.deep.equal([1, 2, 3, 4]);
    expect(await ids({ a: new Double(5) })).to.deep.equal([1, 2, 3, 4]);
    expect(await ids({ a: { $in: [new Double(5)] }, _id: { $lte: 2 } })).to.deep.equal([1, 2]);
    await c.createIndex({ a: 1 });
    expect(await ids({ a: new Double(5) })).to.deep.equal([1, 2, 3, 4]);
    expect(await ids({ a: { $type: 'double' } })).to.deep.equal([1]);
  });

  it('$inc / $mul: a double stays a double, int with double gives a double, int with int an int', async () => {
    const c = await env.coll([
      { _id: 1, a: new Double(5) },
      { _id: 2, a: 5 },
      { _id: 3, a: 5 },
      { _id: 4, a: new Double(2.5) },
      { _id: 5, a: Long.fromNumber(5) },
      { _id: 6 },
      { _id: 7, a: new Double(2 ** 31 - 1) },
    ]);
    await c.updateOne({ _id: 1 }, { $inc: { a: 1 } });
    await c.updateOne({ _id: 2 }, { $inc: { a: new Double(1) } });
    await c.updateOne({ _id: 3 }, { $inc: { a: 1 } });
    await c.updateOne({ _id: 4 }, { $mul: { a: 2 } });
    await c.updateOne({ _id: 5 }, { $inc: { a: new Double(1) } });
    await c.updateOne({ _id: 6 }, { $inc: { a: new Double(3) }, $mul: { b: new Double(2) } });
    await c.updateOne({ _id: 7 }, { $inc: { a: 1 } });
    const got = await c.find({}, { sort: { _id: 1 }, ...RAW }).toArray();
    expect(got.map((d) => [kind(d.a), Number(d.a.valueOf())])).to.deep.equal([
      ['Double', 6],
      ['Double', 6],
      ['Int32', 6],
      ['Double', 5],
      ['Double', 6],
      ['Double', 3],
      ['Double', 2 ** 31],
    ]);
    expect(kind(got[5].b)).to.equal('Double');
    expect(got[5].b.valueOf()).to.equal(0);
  });

  it('a document rewritten by an update keeps the doubles it does not touch', async () => {
    const c = await env.coll([{ _id: 1, d: new Double(7), n: { x: new Double(1) }, list: [new Double(3)] }]);
    await c.updateOne({ _id: 1 }, { $set: { other: 1 }, $push: { list: new Double(4) } } as never);
    await c.replaceOne({ _id: 2 }, { _id: 2, r: new Double(9) }, { upsert: true });
    const [one, two] = await c.find({}, { sort: { _id: 1 }, ...RAW }).toArray();
    expect([kind(one.d), kind(one.n.x), ...one.list.map(kind), kind(one.other)]).to.deep.equal(['Double', 'Double', 'Double', 'Double', 'Int32']);
    expect(kind(two.r)).to.equal('Double');
    const fam = await c.findOneAndUpdate({ _id: 1 }, { $inc: { d: 1 } }, { returnDocument: 'after', ...RAW });
    expect(kind(fam!.d)).to.equal('Double');
  });

  it('aggregation passes doubles through and computes $avg / $sum with double results', async () => {
    const c = await env.coll([
      { _id: 1, g: 'x', v: new Double(2) },
      { _id: 2, g: 'x', v: new Double(4) },
      { _id: 3, g: 'y', v: 2 },
      { _id: 4, g: 'y', v: 4 },
    ]);
    const out = await c
      .aggregate([{ $group: { _id: '$g', sum: { $sum: '$v' }, avg: { $avg: '$v' }, first: { $first: '$v' } } }, { $sort: { _id: 1 } }], RAW)
      .toArray();
    expect(out.map((d) => [d._id, kind(d.sum), kind(d.avg), kind(d.first), Number(d.sum), Number(d.avg)])).to.deep.equal([
      ['x', 'Double', 'Double', 'Double', 6, 3],
      ['y', 'Int32', 'Double', 'Int32', 6, 3],
    ]);
    const p = await c.aggregate([{ $match: { _id: 1 } }, { $project: { v: 1, w: { $add: ['$v', 1] } } }], RAW).toArray();
    expect([kind(p[0].v), kind(p[0].w)]).to.deep.equal(['Double', 'Double']);
  });

  it('a partial index filter sees an integral double as the number it is', async () => {
    const c = await env.coll();
    await c.createIndex({ a: 1 }, { unique: true, partialFilterExpression: { a: { $gt: 1 } } });
    await c.insertOne({ _id: 1, a: new Double(5) });
    const e: any = await c.insertOne({ _id: 2, a: 5 }).catch((x) => x);
    expect(e?.code).to.equal(11000);
    await c.insertOne({ _id: 3, a: new Double(1) });
    await c.insertOne({ _id: 4, a: 1 }); // not indexed: 1 is not > 1
  });

  it('mongoose still gets plain JS numbers for doubles', async () => {
    const conn = await mongoose.createConnection(env.t.uri, { dbName: env.t.dbName }).asPromise();
    try {
      const M = conn.model('Num', new mongoose.Schema({ n: Number }), 'nums');
      await env.db.collection('nums').insertOne({ n: new Double(8) });
      const d = await M.findOne().lean();
      expect(d!.n).to.equal(8);
      await M.updateOne({}, { $inc: { n: 0.5 } });
      expect((await M.findOne().lean())!.n).to.equal(8.5);
    } finally {
      await conn.close();
    }
  });

  (REAL ? it.skip : it)('a stored integral double is still a double after a restart', async () => {
    const dir = tempDir();
    try {
      let e = await startEngine({ dataDir: dir });
      let client = await new MongoClient(e.uri).connect();
      await client.db('t').collection('c').insertOne({ _id: 1 as never, a: new Double(3), b: new Int32(3) });
      // rewritten by the engine (serialised from memory, not the client's bytes)
      await client.db('t').collection('c').updateOne({ _id: 1 as never }, { $set: { c: 1 } });
      await client.close();
      await e.stop();
      e = await startEngine({ dataDir: dir });
      client = await new MongoClient(e.uri).connect();
      const d = await client.db('t').collection('c').findOne({ a: { $type: 'double' } }, RAW);
      expect([kind(d?.a), kind(d?.b)]).to.deep.equal(['Double', 'Int32']);
      await client.close();
      await e.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('engine: BSON regexes keep their options and PCRE meaning', function () {
  const env = driverSuite();
  const ids = async (c: any, f: object) => (await c.find(f, { sort: { _id: 1 } }).toArray()).map((d: any) => d._id);

  it('a stored regex round-trips with its options exactly (also when the engine rewrites the document)', async () => {
    const c = await env.coll([
      { _id: 1, r: new BSONRegExp('a b # c', 'x') },
      { _id: 2, r: new BSONRegExp('a.b', 'is') },
      { _id: 3, r: new BSONRegExp('^x', 'mu') },
    ]);
    await c.updateOne({ _id: 1 }, { $set: { touched: true } });
    const got = await c.find({}, { sort: { _id: 1 }, bsonRegExp: true }).toArray();
    expect(got.map((d) => [d.r._bsontype, d.r.pattern, d.r.options])).to.deep.equal([
      ['BSONRegExp', 'a b # c', 'x'],
      ['BSONRegExp', 'a.b', 'is'],
      ['BSONRegExp', '^x', 'mu'],
    ]);
    // equality with a regex value: the stored regex with the same pattern and options
    expect(await ids(c, { r: new BSONRegExp('a b # c', 'x') })).to.deep.equal([1]);
    expect(await ids(c, { r: { $in: [new BSONRegExp('a.b', 'is')] } })).to.deep.equal([2]);
    expect(await ids(c, { r: new BSONRegExp('a.b', 'i') })).to.deep.equal([]);
  });

  it('x (extended), s (dotAll), m and i match as in MongoDB', async () => {
    const c = await env.coll([
      { _id: 1, s: 'ab' },
      { _id: 2, s: 'a b' },
      { _id: 3, s: 'a\nb' },
      { _id: 4, s: 'x\nAB' },
      { _id: 5, s: 'a#b' },
    ]);
    expect(await ids(c, { s: new BSONRegExp('^a b$ # a comment', 'x') })).to.deep.equal([1]);
    expect(await ids(c, { s: new BSONRegExp('^a[ ]b$', 'x') })).to.deep.equal([2]);
    expect(await ids(c, { s: new BSONRegExp('^a\\#b$', 'x') })).to.deep.equal([5]);
    expect(await ids(c, { s: { $regex: '^a  b$', $options: 'x' } })).to.deep.equal([1]);
    expect(await ids(c, { s: new BSONRegExp('^a.b$', 's') })).to.deep.equal([2, 3, 5]);
    expect(await ids(c, { s: new BSONRegExp('^a.b$', '') })).to.deep.equal([2, 5]);
    expect(await ids(c, { s: new BSONRegExp('^ab$', 'im') })).to.deep.equal([1, 4]);
    expect(await ids(c, { s: new BSONRegExp('^ab$', 'i') })).to.deep.equal([1]);
    expect(await ids(c, { s: { $not: new BSONRegExp('a b', 'x') } })).to.deep.equal([2, 3, 4, 5]);
    expect(await ids(c, { s: { $in: [new BSONRegExp('^x', ''), 'ab'] } })).to.deep.equal([1, 4]);
  });

  it('PCRE meanings JavaScript spells differently: $ before a final newline, . and \\r, \\A \\z, \\x{…}', async () => {
    const c = await env.coll([
      { _id: 1, s: 'a\n' },
      { _id: 2, s: 'a\rb' },
      { _id: 3, s: 'é' },
      { _id: 4, s: '😀' },
    ]);
    expect(await ids(c, { s: /a$/ })).to.deep.equal([1]);
    expect(await ids(c, { s: /^a.b$/ })).to.deep.equal([2]);
    expect(await ids(c, { s: new BSONRegExp('\\Aa\\z', '') })).to.deep.equal([]);
    expect(await ids(c, { s: new BSONRegExp('\\Aa\\Z', '') })).to.deep.equal([1]);
    expect(await ids(c, { s: new BSONRegExp('^\\x{e9}$', '') })).to.deep.equal([3]);
    expect(await ids(c, { s: /^.$/ })).to.deep.equal([1, 3, 4]); // one code point each ($: also before the final newline)
    expect(await ids(c, { s: new BSONRegExp('^.\\z', '') })).to.deep.equal([3, 4]);
  });

  it('aggregation: $match and $regexMatch with the x option', async () => {
    const c = await env.coll([{ _id: 1, s: 'ab' }, { _id: 2, s: 'a b' }]);
    const m = await c.aggregate([{ $match: { s: new BSONRegExp('a b', 'x') } }]).toArray();
    expect(m.map((d) => d._id)).to.deep.equal([1]);
    const r = await c.aggregate([{ $sort: { _id: 1 } }, { $project: { ok: { $regexMatch: { input: '$s', regex: new BSONRegExp('a b', 'x') } } } }]).toArray();
    expect(r.map((d) => d.ok)).to.deep.equal([true, false]);
  });

  (REAL ? it.skip : it)('what JavaScript cannot match exactly is refused (72); bad options as MongoDB (51108)', async () => {
    const c = await env.coll([{ _id: 1, s: 'aa' }]);
    expect(await errorCode(c.find({ s: new BSONRegExp('a++', '') }).toArray())).to.equal(72);
    expect(await errorCode(c.find({ s: new BSONRegExp('(?>a)', '') }).toArray())).to.equal(72);
    expect(await errorCode(c.find({ s: new BSONRegExp('(?i)a', '') }).toArray())).to.equal(72);
    expect(await errorCode(c.find({ s: new BSONRegExp('[[:alpha:]]', '') }).toArray())).to.equal(72);
    expect(await errorCode(c.find({ s: new BSONRegExp('\\Qa\\E', '') }).toArray())).to.equal(72);
    expect(await errorCode(c.find({ s: { $regex: 'a', $options: 'l' } }).toArray())).to.equal(51108);
    expect(await errorCode(c.find({ s: { $regex: 'a(' } }).toArray())).to.equal(51091);
    expect(await errorCode(c.deleteMany({ s: new BSONRegExp('a++', '') }))).to.equal(72);
    expect(await c.countDocuments()).to.equal(1);
  });
});

describe('engine: $regexFind / $regexFindAll search the whole input', function () {
  const env = driverSuite();
  const run = async (expr: object, doc: object = {}) => {
    const c = await env.coll([{ _id: 1, ...doc }], 'rf');
    const [r] = await c.aggregate([{ $project: { _id: 0, r: expr } }]).toArray();
    return r.r;
  };

  it('anchors and idx as MongoDB: ^ only at the start, idx in code points, unmatched captures null', async () => {
    expect(await run({ $regexFindAll: { input: 'aaa', regex: '^a' } })).to.deep.equal([{ match: 'a', idx: 0, captures: [] }]);
    expect(await run({ $regexFindAll: { input: '😀ab ab', regex: '(a)(x)?b' } })).to.deep.equal([
      { match: 'ab', idx: 1, captures: ['a', null] },
      { match: 'ab', idx: 4, captures: ['a', null] },
    ]);
    expect(await run({ $regexFind: { input: '$s', regex: new BSONRegExp('b c', 'x') } }, { s: 'abc' })).to.deep.equal({ match: 'bc', idx: 1, captures: [] });
    expect(await run({ $regexFind: { input: 'abc', regex: 'z' } })).to.equal(null);
    expect(await run({ $regexMatch: { input: 'ABC', regex: 'b', options: 'i' } })).to.equal(true);
  });

  (REAL ? it.skip : it)('an empty match in $regexFindAll is refused (72), not looped on', async () => {
    const c = await env.coll([{ _id: 1 }], 'rf');
    const e: any = await c.aggregate([{ $project: { r: { $regexFindAll: { input: 'abc', regex: 'x*' } } } }]).toArray().catch((x) => x);
    expect(e?.code).to.equal(72);
  });
});
