// Issue 19 item 2: every command that reads many documents runs in slices — aggregate (the whole
// pipeline), count, distinct, findAndModify, createIndexes, a find's sort, a large reply — so another
// connection's ping is answered while it runs at 50 000 documents, and the result (or the error)
// is the one the command gave when it ran at once: aggregations are compared with the pipeline
// run by mingo's Aggregator in one go (runPipelineAtOnce), byte for byte; the other commands with
// results computed here. Errors half-way (document 40 000) leave nothing written.
import { expect } from 'chai';
import { serialize } from 'bson';
import { MongoClient, type Collection } from 'mongodb';
import { pingWhile, REAL, startTarget, type Target } from './harness.ts';
import { runPipelineAtOnce } from '../../server/db/engine/pipeline.ts';
import type { Doc } from '../../server/db/engine/bsonutil.ts';

const N = 50_000;
/** The document whose d is 0 (1 / d fails) and whose u repeats document 10's. */
const POISON = 40_000;

const docOf = (i: number) => ({
  _id: i,
  key: 'k' + String(i).padStart(5, '0'),
  label: 'item ' + ((i * 7919) % N), // a permutation: every label once, not in _id order
  grp: i % 3 === 0 ? 'A' : 'B',
  n: i % 100,
  v: i % 2 ? 1.5 + i / 1000 : i % 7, // doubles and ints: a sum's order and types show
  tags: [i % 5, (i + 1) % 5],
  d: i === POISON ? 0 : 1,
  u: i === POISON ? 10 : i,
});

describe('engine: reads and index builds run in slices (50 000 documents)', function () {
  this.timeout(300_000);
  let t: Target;
  let client: MongoClient;
  let other: MongoClient;
  let big: Collection<any>;
  const pingsDuring = <T>(command: () => Promise<T>) => pingWhile(t, other, command);
  const expectBetween = (between: number) => {
    if (!REAL) expect(between, 'pings the engine answered while the command was in progress').to.be.greaterThan(0);
  };

  before(async () => {
    t = await startTarget();
    client = await new MongoClient(t.uri, { maxPoolSize: 1 }).connect();
    other = await new MongoClient(t.uri, { maxPoolSize: 1 }).connect();
    big = client.db(t.dbName).collection('big');
    for (let i = 0; i < N; i += 10_000) await big.insertMany(Array.from({ length: 10_000 }, (_, j) => docOf(i + j)));
    await client
      .db(t.dbName)
      .collection<any>('small')
      .insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: i, n: i, name: 'n' + i })));
  });
  after(async () => {
    await client?.db(t.dbName).dropDatabase().catch(() => {});
    await client?.close();
    await other?.close();
    await t?.close();
  });

  describe('aggregate: the same documents (byte for byte) or the same error as the pipeline run at once', () => {
    before(function () {
      if (REAL) this.skip(); // compares with the engine's own evaluation in this process
    });

    /** `sliced`: whether the command runs long enough to be seen between slices (not when it fails at once). */
    async function sameAsAtOnce(pipeline: Doc[], sliced = true): Promise<Doc> {
      const engine = t.embedded!.engine;
      const stored = (name: string) => [...(engine.store.get(t.dbName, name)?.docs.values() ?? [])];
      let expected: { docs?: Doc[]; code?: number; errmsg?: string };
      try {
        expected = { docs: runPipelineAtOnce(stored('big'), pipeline, stored) };
      } catch (e) {
        expected = { code: (e as { code: number }).code, errmsg: (e as Error).message };
      }
      const { between, result } = await pingsDuring(() => engine.runAsync({ aggregate: 'big', pipeline, cursor: { batchSize: 1e9 }, $db: t.dbName }));
      if (sliced) expectBetween(between);
      if (expected.code !== undefined) {
        expect({ ok: result.ok, code: result.code, errmsg: result.errmsg }).to.deep.equal({ ok: 0, code: expected.code, errmsg: expected.errmsg });
        return result;
      }
      expect(result.ok, JSON.stringify(result).slice(0, 300)).to.equal(1);
      const cursor = result.cursor as Doc;
      expect(cursor.id.isZero(), 'one batch').to.equal(true);
      const got = cursor.firstBatch as Doc[];
      expect(got.length).to.equal(expected.docs!.length);
      const bytes = (docs: Doc[]) => Buffer.concat(docs.map((d) => serialize(d)));
      expect(bytes(got).equals(bytes(expected.docs!)), 'the same documents, types and order').to.equal(true);
      return result;
    }

    it('streaming stages across chunks: $addFields, $unwind, $match, $skip, $limit, $project', async () => {
      const r = await sameAsAtOnce([
        { $addFields: { x: { $add: ['$n', '$v'] }, t: { $size: '$tags' } } },
        { $unwind: { path: '$tags', includeArrayIndex: 'at' } },
        { $match: { tags: { $gte: 2 } } },
        { $skip: 5 },
        { $limit: 59_000 },
        { $project: { x: 1, tags: 1, at: 1, label: 1 } },
      ]);
      expect((r.cursor as Doc).firstBatch).to.have.length(59_000);
    });

    it('$group with large groups: $sum $avg $max $min $push $addToSet $first $last, then $sort', async () => {
      const r = await sameAsAtOnce([
        {
          $group: {
            _id: '$n',
            c: { $sum: 1 },
            s: { $sum: '$v' },
            a: { $avg: '$v' },
            mx: { $max: '$label' },
            mn: { $min: '$v' },
            all: { $push: '$key' },
            set: { $addToSet: '$grp' },
            f: { $first: '$key' },
            l: { $last: '$label' },
          },
        },
        { $sort: { _id: -1 } },
      ]);
      expect((r.cursor as Doc).firstBatch).to.have.length(100);
    });

    it('one group of 50 000: the sums of doubles are added in the same order', async () => {
      await sameAsAtOnce([{ $group: { _id: null, s: { $sum: '$v' }, a: { $avg: '$v' }, mx: { $max: '$v' }, keys: { $push: '$key' }, grps: { $addToSet: '$grp' } } }]);
    });

    it('$sort with ties (input order kept) and on arrays, then $project', async () => {
      await sameAsAtOnce([{ $sort: { grp: 1, n: -1 } }, { $project: { key: 1, grp: 1, n: 1 } }]);
      await sameAsAtOnce([{ $sort: { tags: -1, label: 1 } }, { $project: { tags: 1 } }]);
    });

    it('$facet ($sortByCount, $sort + $limit, $count) and $lookup', async () => {
      await sameAsAtOnce([{ $facet: { byGrp: [{ $sortByCount: '$grp' }], top: [{ $sort: { label: -1 } }, { $limit: 3 }], count: [{ $count: 'k' }] } }]);
      await sameAsAtOnce([{ $lookup: { from: 'small', localField: 'n', foreignField: 'n', as: 'm' } }, { $project: { 'm.name': 1 } }]);
    });

    it('an error at document 40 000: in a streaming stage, in $group keys, in an accumulator of a large group', async () => {
      for (const pipeline of [
        [{ $addFields: { r: { $divide: [1, '$d'] } } }],
        [{ $group: { _id: { $divide: [1, '$d'] } } }],
        [{ $group: { _id: '$grp', s: { $sum: { $divide: [1, '$d'] } } } }],
      ]) {
        const r = await sameAsAtOnce(pipeline);
        expect(r.code).to.equal(16608);
      }
    });

    it('a malformed later stage fails before any document is processed, as before', async () => {
      const r = await sameAsAtOnce([{ $addFields: { r: { $divide: [1, '$d'] } } }, { $group: { n: { $sum: 1 } } }], false);
      expect(r.code).to.equal(15955);
    });
  });

  it('countDocuments (an aggregation) and count: pings answered; the counts', async () => {
    const a = await pingsDuring(() => big.countDocuments({ $expr: { $eq: ['$grp', 'A'] } }));
    expect(a.result).to.equal(Math.ceil(N / 3));
    expectBetween(a.between);
    const b = await pingsDuring(() => client.db(t.dbName).command({ count: 'big', query: { $expr: { $gte: ['$n', 50] } } }));
    expect(b.result.n).to.equal(N / 2);
    expectBetween(b.between);
  });

  it('count and distinct failing at document 40 000 give the error of that document', async () => {
    const failing = { $expr: { $gt: [{ $divide: [1, '$d'] }, 0] } };
    const c = await pingsDuring(() => client.db(t.dbName).command({ count: 'big', query: failing }).catch((e) => e));
    expect(c.result.code).to.equal(16608);
    const d = await pingsDuring(() => big.distinct('label', failing).catch((e) => e));
    expect(d.result.code).to.equal(16608);
  });

  it('distinct of 50 000 values: pings answered; every value once, in order', async () => {
    const { between, result } = await pingsDuring(() => big.distinct('label'));
    expectBetween(between);
    const expected = Array.from({ length: N }, (_, i) => docOf(i).label).sort();
    expect(result).to.deep.equal(expected);
  });

  it('findOneAndUpdate with a sort over 50 000: the first in order is changed, and only it', async () => {
    const { between, result } = await pingsDuring(() => big.findOneAndUpdate({ n: { $gte: 0 } }, { $inc: { hits: 1 } }, { sort: { label: 1 }, returnDocument: 'after' }));
    expectBetween(between);
    expect(result).to.deep.include({ _id: 0, label: 'item 0', hits: 1 });
    expect(await big.countDocuments({ hits: { $exists: true } })).to.equal(1);
    await big.updateOne({ _id: 0 }, { $unset: { hits: '' } });
  });

  it('findOneAndUpdate whose update fails after the sliced match and sort: refused (14), nothing written', async () => {
    const { result } = await pingsDuring(() => big.findOneAndUpdate({ n: { $gte: 0 } }, { $inc: { label: 1 } }, { sort: { label: -1 } }).catch((e) => e));
    expect(result.code).to.equal(14);
    const last = await big.find({}).sort({ label: -1 }).limit(1).next();
    expect(last.label).to.equal('item 9999'); // the largest label, unchanged
    expect(await big.countDocuments({ label: { $type: 'string' } })).to.equal(N);
  });

  it('createIndexes over 50 000: pings answered; the index is used; a unique index failing at document 40 000 is not created', async () => {
    const { between } = await pingsDuring(() => big.createIndex({ label: 1, n: 1 }));
    expectBetween(between);
    expect((await big.find({ label: 'item 7919' }).toArray()).map((d) => d._id)).to.deep.equal([1]);
    const before = (await big.listIndexes().toArray()).map((i) => i.name);
    const failed = await pingsDuring(() => big.createIndex({ u: 1 }, { unique: true }).catch((e) => e));
    expectBetween(failed.between);
    expect(failed.result.code).to.equal(11000);
    expect((await big.listIndexes().toArray()).map((i) => i.name)).to.deep.equal(before);
    await big.insertOne({ _id: -1 as any, u: 10 }); // no unique index on u was left behind
    await big.deleteOne({ _id: -1 as any });
    await big.dropIndex('label_1_n_1');
  });

  it('find with a sort over 50 000 (ties in natural order) in one large batch: pings answered; the order', async () => {
    const { between, result } = await pingsDuring(() => big.find({}, { sort: { n: 1, grp: -1 }, batchSize: N, projection: { n: 1, grp: 1 } }).toArray());
    expectBetween(between);
    const expected = Array.from({ length: N }, (_, i) => docOf(i))
      .sort((a, b) => a.n - b.n || (a.grp < b.grp ? 1 : a.grp > b.grp ? -1 : 0) || a._id - b._id)
      .map((d) => d._id);
    expect(result.map((d) => d._id)).to.deep.equal(expected);
  });
});
