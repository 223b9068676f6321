// Issue 19: the embedded engine runs a long command in slices, so that the event loop it shares
// with the app is not held for the whole command: another connection's ping is answered before a
// 20 000-document insertMany or a 50 000-document find (one batch) finishes. The command's result
// and its atomicity stay as they were: no other data command sees it half done. The event-loop
// delay is measured (perf_hooks) and printed for information; nothing here asserts a timing.
import { expect } from 'chai';
import { MongoClient, ObjectId, type Collection } from 'mongodb';
import { pingWhile, REAL, startTarget, type Target } from './harness.ts';

const doc = (i: number) => ({
  _id: new ObjectId(),
  key: 'k' + i,
  grp: 'G',
  values: Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`f${j}`, (i * 7 + j) % 100])),
  label: 'item ' + i,
  at: new Date(),
});

describe('engine: long commands run in slices', function () {
  this.timeout(120_000);
  let t: Target;
  let big: MongoClient;
  let other: MongoClient;

  before(async () => {
    t = await startTarget();
    big = await new MongoClient(t.uri, { maxPoolSize: 1 }).connect();
    other = await new MongoClient(t.uri, { maxPoolSize: 1 }).connect();
  });
  after(async () => {
    await big?.db(t.dbName).dropDatabase().catch(() => {});
    await big?.close();
    await other?.close();
    await t?.close();
  });

  const pingsDuring = <T>(command: () => Promise<T>) => pingWhile(t, other, command);

  it('a 20 000-document insertMany: pings are answered before it finishes; all documents are written', async () => {
    const c = big.db(t.dbName).collection('ins');
    await c.createIndex({ key: 1, grp: 1 }, { unique: true });
    const docs = Array.from({ length: 20_000 }, (_, i) => doc(i));
    const { before, between, result } = await pingsDuring(() => c.insertMany(docs));
    expect(result.insertedCount).to.equal(20_000);
    expect(before).to.be.greaterThan(0);
    if (!REAL) expect(between, 'pings the engine answered while the insert was in progress').to.be.greaterThan(0);
    expect(await other.db(t.dbName).collection('ins').countDocuments()).to.equal(20_000);
  });

  it('a 50 000-document find in one batch: pings are answered before it finishes; the result is complete', async () => {
    const c: Collection<any> = big.db(t.dbName).collection('fnd');
    for (let i = 0; i < 50_000; i += 10_000) await c.insertMany(Array.from({ length: 10_000 }, (_, j) => doc(i + j)));
    const { before, between, result } = await pingsDuring(() => c.find({ grp: 'G' }, { batchSize: 50_000, sort: { key: 1 } }).toArray());
    expect(result.length).to.equal(50_000);
    expect(result[0].key).to.equal('k0');
    expect(before).to.be.greaterThan(0);
    if (!REAL) expect(between, 'pings the engine answered while the find was in progress').to.be.greaterThan(0);
  });

  it('a data command of another connection waits for the long one: it never sees it half done', async () => {
    const c = big.db(t.dbName).collection('atomic');
    const docs = Array.from({ length: 20_000 }, (_, i) => doc(i));
    const oc = other.db(t.dbName).collection('atomic');
    const counts: number[] = [];
    let done = false;
    const counting = (async () => {
      while (!done) counts.push(await oc.countDocuments());
    })();
    await c.insertMany(docs);
    done = true;
    await counting;
    expect(counts.every((n) => n === 0 || n === 20_000), `counts seen: ${[...new Set(counts)].join(', ')}`).to.equal(true);
  });

  it('a failing long insert (a duplicate key at the end) is undone as one: nothing half written', async () => {
    const c = big.db(t.dbName).collection('fail');
    await c.createIndex({ key: 1 }, { unique: true });
    const docs = Array.from({ length: 5_000 }, (_, i) => doc(i));
    await c.insertOne({ ...doc(4_999), _id: new ObjectId() });
    const e: any = await c.insertMany(docs).catch((x) => x);
    expect(e?.code).to.equal(11000);
    // ordered: the documents before the duplicate are written (MongoDB's semantics), in one transaction
    expect(await c.countDocuments()).to.equal(5_000);
  });

  (REAL ? it.skip : it)('a sliced commit that cannot be made durable (disk full) is refused and undone as a whole', async () => {
    const c = big.db(t.dbName).collection('full');
    await c.insertOne({ _id: 'first' as never });
    const sql = t.embedded!.engine.store.sql;
    const pages = Number(sql.pragma('page_count', { simple: true }));
    const pageBytes = Number(sql.pragma('page_size', { simple: true }));
    sql.pragma(`max_page_count = ${pages + Math.ceil((300 * 4096) / pageBytes)}`); // room (1.2 MB) for the first slice (1 000 writes) only
    try {
      const docs = Array.from({ length: 5_000 }, (_, i) => ({ ...doc(i), pad: 'p'.repeat(500) }));
      const e: any = await c.insertMany(docs).catch((x) => x);
      expect(e?.code).to.equal(14031);
      expect(await c.countDocuments()).to.equal(1);
    } finally {
      sql.pragma('max_page_count = 1073741823');
    }
    await c.insertMany([doc(1), doc(2)]);
    expect(await c.countDocuments()).to.equal(3);
  });
});
