// Engine throughput through mongoose vs better-sqlite3 doing the same work directly, with the
// same durability (WAL, synchronous=FULL, one transaction per operation), in the same run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mongoose, { Schema } from 'mongoose';
import { serialize, deserialize, ObjectId } from 'bson';
import { startEngine } from '../server/db/engine/index.ts';

export interface BenchResult {
  name: string;
  ops: number;
  engineMs: number;
  baselineMs: number;
  /** a stall figure: engineMs is the longest event-loop stall, baselineMs the command's duration */
  stall?: boolean;
  /** stall figures: the engine's longest slice (its own measure) and the longest GC pause, ms */
  sliceMs?: number;
  gcMs?: number;
}

/**
 * The commands benchStall times (worker side, CommonJS): each runs once against collection `c`
 * (`stall.c`) and throws if its result is not the expected size, so a stall is never measured on a
 * command that did less work.
 */
const STALL_COMMANDS = `{
  insertMany: async (c, n, docs) => { await c.insertMany(docs); },
  find: async (c, n) => { const got = await c.find({}, { batchSize: n }).toArray(); if (got.length < n) throw new Error('find returned ' + got.length); },
  updateMany: async (c) => { await c.updateMany({}, { $set: { touched: true } }); },
  findSort: async (c, n) => { const got = await c.find({}, { batchSize: n }).sort({ label: -1 }).toArray(); if (got.length < n) throw new Error('find+sort returned ' + got.length); },
  count: async (c, n) => { const r = await c.db.command({ count: 'c', query: { 'values.f0': { $gte: 0 } } }); if (r.n < n) throw new Error('count ' + r.n); },
  countDocuments: async (c, n) => { const k = await c.countDocuments({ 'values.f1': { $gte: 0 } }); if (k < n) throw new Error('countDocuments ' + k); },
  distinct: async (c, n) => { const v = await c.distinct('label'); if (v.length < n) throw new Error('distinct ' + v.length); },
  findOneAndUpdate: async (c) => { const r = await c.findOneAndUpdate({ 'values.f2': { $gte: 0 } }, { $inc: { hits: 1 } }, { sort: { label: 1 }, returnDocument: 'after' }); if (!r) throw new Error('findOneAndUpdate found nothing'); },
  createIndex: async (c) => { await c.createIndex({ label: 1, 'values.f3': 1 }); await c.dropIndex('label_1_values.f3_1'); },
  groupFew: async (c) => { const r = await c.aggregate([{ $group: { _id: '$values.f0', n: { $sum: 1 }, s: { $sum: '$values.f1' }, hi: { $max: '$label' } } }]).toArray(); if (r.length !== 100) throw new Error('groups ' + r.length); },
  groupOne: async (c) => { const r = await c.aggregate([{ $group: { _id: null, n: { $sum: 1 }, s: { $sum: '$values.f1' }, avg: { $avg: '$values.f2' }, labels: { $push: '$label' } } }]).toArray(); if (r.length !== 1) throw new Error('groups ' + r.length); },
  groupMany: async (c, n) => { const r = await c.aggregate([{ $group: { _id: '$key', n: { $sum: 1 }, first: { $first: '$label' } } }], { cursor: { batchSize: n } }).toArray(); if (r.length < n) throw new Error('groups ' + r.length); },
  aggSortLimit: async (c) => { const r = await c.aggregate([{ $match: { grp: 'G' } }, { $addFields: { x: { $add: ['$values.f0', '$values.f1'] } } }, { $sort: { x: -1, label: 1 } }, { $limit: 10 }]).toArray(); if (r.length !== 10) throw new Error('sorted ' + r.length); },
  aggProject: async (c, n) => { const r = await c.aggregate([{ $project: { key: 1, label: 1, s: { $concat: ['$key', '-', '$label'] } } }], { cursor: { batchSize: n } }).toArray(); if (r.length < n) throw new Error('projected ' + r.length); },
  aggFacet: async (c) => { const r = await c.aggregate([{ $facet: { byF0: [{ $sortByCount: '$values.f0' }], total: [{ $count: 'n' }] } }]).toArray(); if (r[0].byF0.length !== 100) throw new Error('facet ' + r[0].byF0.length); },
}`;

/** The client of benchStall, in a worker thread: runs the named command when told, reports its duration. */
const STALL_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { MongoClient, ObjectId } = require('mongodb');
const COMMANDS = ${STALL_COMMANDS};
(async () => {
  const client = await new MongoClient(workerData.uri, { maxPoolSize: 1 }).connect();
  const c = client.db('stall').collection('c');
  let seeded = 1e6; // seeded documents have keys and labels of their own
  const doc = (i) => ({ _id: new ObjectId(), key: 'k' + i, grp: 'G', values: Object.fromEntries(Array.from({ length: 12 }, (_, j) => ['f' + j, (i * 7 + j) % 100])), label: 'item ' + i, at: new Date() });
  parentPort.on('message', async (m) => {
    if (m === 'close') { await client.close(); parentPort.postMessage({ closed: true }); return; }
    const [what, n] = m;
    if (what === 'seed') { for (let i = 0; i < n; i += 10000) await c.insertMany(Array.from({ length: Math.min(10000, n - i) }, () => doc(seeded++))); parentPort.postMessage({ ms: 0 }); return; }
    const docs = what === 'insertMany' ? Array.from({ length: n }, (_, i) => doc(i)) : undefined;
    parentPort.postMessage({ start: true });
    const t0 = performance.now();
    try {
      await COMMANDS[what](c, n, docs);
    } catch (e) {
      parentPort.postMessage({ error: String(e && e.stack || e) });
      return;
    }
    parentPort.postMessage({ ms: performance.now() - t0 });
  });
  parentPort.postMessage({ ready: true });
})();
`;

/**
 * The longest stall of the engine's event loop during one large command (issue 19: ≤ ~100 ms):
 * the engine runs in this thread, the client in a worker thread, so the delay measured here
 * (perf_hooks monitorEventLoopDelay) is the engine's alone. Reported as ms and as a fraction of
 * the command's duration. `only`: names of the commands to run (default: all).
 */
export async function benchStall(only?: string[]): Promise<BenchResult[]> {
  const { Worker } = await import('node:worker_threads');
  const { monitorEventLoopDelay, PerformanceObserver } = await import('node:perf_hooks');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-stall-'));
  const engine = await startEngine({ dataDir: dir });
  const w = new Worker(STALL_CLIENT, { eval: true, workerData: { uri: engine.uri } });
  const inbox: any[] = [];
  let waiting: ((m: any) => void) | null = null;
  let failed: Error | null = null;
  w.on('message', (m) => (waiting ? (waiting(m), (waiting = null)) : inbox.push(m)));
  w.on('error', (e) => (failed = e));
  const next = () => (failed ? Promise.reject(failed) : inbox.length ? Promise.resolve(inbox.shift()) : new Promise<any>((resolve) => (waiting = resolve)));
  const out: BenchResult[] = [];
  const wanted = (what: string) => !only || only.includes(what);
  try {
    await next(); // ready
    let gcMax = 0;
    const gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcMax = Math.max(gcMax, e.duration);
    });
    gc.observe({ entryTypes: ['gc'] });
    const run = async (what: string, n: number) => {
      if (!wanted(what)) return;
      const lag = monitorEventLoopDelay({ resolution: 2 });
      lag.enable();
      await new Promise((r) => setTimeout(r, 20)); // the histogram's first ticks (a stall before them is not seen)
      engine.engine.sliceStats.longestMs = 0;
      gcMax = 0;
      w.postMessage([what, n]);
      await next(); // documents built; the command starts
      const r = await next();
      if (r.error) throw new Error(`stall bench ${what}: ${r.error}`);
      await new Promise((r) => setTimeout(r, 20)); // the histogram records a stall when its timer runs late: let it
      lag.disable();
      out.push({ name: `stall: ${what}`, ops: n, engineMs: lag.max / 1e6, baselineMs: r.ms, stall: true, sliceMs: engine.engine.sliceStats.longestMs, gcMs: gcMax });
    };
    const seed = async (n: number) => {
      w.postMessage(['seed', n]);
      await next();
    };
    if (wanted('insertMany')) await run('insertMany', 20_000);
    else await seed(20_000);
    await seed(30_000);
    await run('find', 50_000);
    await run('updateMany', 50_000);
    // the commands of the second round, at 100 000 documents
    if (!only || only.some((x) => !['insertMany', 'find', 'updateMany'].includes(x))) await seed(50_000);
    for (const what of ['findSort', 'count', 'countDocuments', 'distinct', 'findOneAndUpdate', 'createIndex', 'groupFew', 'groupOne', 'groupMany', 'aggSortLimit', 'aggProject', 'aggFacet']) {
      await run(what, 100_000);
    }
    gc.disconnect();
    w.postMessage('close');
    await next();
  } finally {
    await w.terminate();
    await engine.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function benchEngine(n = Number(process.env.BENCH_N ?? 2000)): Promise<BenchResult[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-bench-'));
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-bench-'));
  const results: BenchResult[] = [];
  const engine = await startEngine({ dataDir: dir });
  const conn = await mongoose.createConnection(engine.uri, { dbName: 'bench' }).asPromise();
  const Item = conn.model('Item', new Schema({ key: { type: String, unique: true }, n: Number, label: String }));
  await Item.init();

  const sql = new Database(path.join(baseDir, 'base.sqlite3'));
  sql.pragma('journal_mode = WAL');
  sql.pragma('synchronous = FULL');
  sql.exec('CREATE TABLE items (id TEXT PRIMARY KEY, key TEXT UNIQUE, doc BLOB) WITHOUT ROWID');
  const ins = sql.prepare('INSERT INTO items (id, key, doc) VALUES (?, ?, ?)');
  const get = sql.prepare('SELECT doc FROM items WHERE key = ?');
  const put = sql.prepare('UPDATE items SET doc = ? WHERE key = ?');
  const ids: string[] = [];
  try {
    const keys = Array.from({ length: n }, (_, i) => `k${i}`);
    const eIns = await time(async () => {
      for (const key of keys) await Item.create({ key, n: 0, label: 'item ' + key });
    });
    const bIns = await time(() => {
      for (const key of keys) {
        const id = new ObjectId();
        ids.push(id.toHexString());
        sql.transaction(() => ins.run(id.toHexString(), key, serialize({ _id: id, key, n: 0, label: 'item ' + key })))();
      }
    });
    results.push({ name: 'insert', ops: n, engineMs: eIns, baselineMs: bIns });

    const eFind = await time(async () => {
      for (let i = 0; i < n; i++) await Item.findOne({ key: keys[(i * 7919) % n] }).lean();
    });
    const bFind = await time(() => {
      for (let i = 0; i < n; i++) deserialize((get.get(keys[(i * 7919) % n]) as { doc: Buffer }).doc);
    });
    results.push({ name: 'find-by-key', ops: n, engineMs: eFind, baselineMs: bFind });

    const eUpd = await time(async () => {
      for (let i = 0; i < n; i++) await Item.updateOne({ key: keys[i] }, { $inc: { n: 1 } });
    });
    const bUpd = await time(() => {
      for (let i = 0; i < n; i++) {
        sql.transaction(() => {
          const doc = deserialize((get.get(keys[i]) as { doc: Buffer }).doc);
          doc.n += 1;
          put.run(serialize(doc), keys[i]);
        })();
      }
    });
    results.push({ name: 'update', ops: n, engineMs: eUpd, baselineMs: bUpd });

    // Bulk commands (one command, one transaction, n documents): the per-document cost of the
    // engine's insert / multi-update / indexed find + sort + reply, through the driver.
    const bulk = conn.db!.collection('bulk');
    await bulk.createIndex({ batch: 1 });
    await bulk.createIndex({ grp: 1, committed: 1 });
    await bulk.createIndex({ key: 1, grp: 1 }, { unique: true });
    sql.exec('CREATE TABLE bulk (id TEXT PRIMARY KEY, key TEXT, grp TEXT, batch TEXT, doc BLOB) WITHOUT ROWID');
    sql.exec('CREATE UNIQUE INDEX bulk_key ON bulk (key, grp); CREATE INDEX bulk_batch ON bulk (batch); CREATE INDEX bulk_grp ON bulk (grp)');
    const bIns2 = sql.prepare('INSERT INTO bulk (id, key, grp, batch, doc) VALUES (?, ?, ?, ?, ?)');
    const bByBatch = sql.prepare('SELECT id, doc FROM bulk WHERE batch = ?');
    const bByGrp = sql.prepare('SELECT doc FROM bulk WHERE grp = ?');
    const bPut = sql.prepare('UPDATE bulk SET doc = ? WHERE id = ?');
    const batch = new ObjectId();
    const docs = keys.map((key, i) => ({
      _id: new ObjectId(),
      key,
      grp: 'G1',
      batch,
      committed: false,
      values: Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`f${j}`, (i * 7 + j) % 100])),
      label: 'item ' + key,
      at: new Date(),
    }));
    const eBulkIns = await time(async () => {
      await bulk.insertMany(docs.map((d) => ({ ...d })));
    });
    const bBulkIns = await time(() => {
      sql.transaction(() => {
        for (const d of docs) bIns2.run(d._id.toHexString(), d.key, d.grp, d.batch.toHexString(), serialize(d));
      })();
    });
    results.push({ name: 'insertMany', ops: n, engineMs: eBulkIns, baselineMs: bBulkIns });
    const eBulkUpd = await time(async () => {
      const r = await bulk.updateMany({ batch, committed: false }, { $set: { committed: true } });
      if (r.modifiedCount !== n) throw new Error(`updateMany modified ${r.modifiedCount}`);
    });
    const bBulkUpd = await time(() => {
      sql.transaction(() => {
        for (const row of bByBatch.all(batch.toHexString()) as { id: string; doc: Buffer }[]) {
          const d = deserialize(row.doc);
          if (d.committed !== false) continue;
          d.committed = true;
          bPut.run(serialize(d), row.id);
        }
      })();
    });
    results.push({ name: 'updateMany', ops: n, engineMs: eBulkUpd, baselineMs: bBulkUpd });
    const eBulkFind = await time(async () => {
      const got = await bulk.find({ grp: 'G1' }).sort({ key: -1 }).toArray();
      if (got.length !== n) throw new Error(`find returned ${got.length}`);
    });
    const bBulkFind = await time(() => {
      const got = (bByGrp.all('G1') as { doc: Buffer }[]).map((r) => deserialize(r.doc));
      got.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
    });
    results.push({ name: 'find+sort', ops: n, engineMs: eBulkFind, baselineMs: bBulkFind });
    results.push(...(await benchStall()));
  } finally {
    await conn.close();
    await engine.stop();
    sql.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(baseDir, { recursive: true, force: true });
  }
  return results;
}

export function printResults(title: string, results: BenchResult[]): void {
  console.log(`\n${title}`);
  console.log('operation      ops    engine ops/s   baseline ops/s   ratio (engine time / baseline time)');
  for (const r of results) {
    if (r.stall) {
      console.log(`${r.name.padEnd(26)} ${String(r.ops).padStart(6)} docs: longest event-loop stall ${r.engineMs.toFixed(0)} ms during a ${r.baselineMs.toFixed(0)} ms command (${((r.engineMs / r.baselineMs) * 100).toFixed(0)}% of it; target ≤ ~100 ms); longest slice ${r.sliceMs?.toFixed(0)} ms, longest GC pause ${r.gcMs?.toFixed(0)} ms`);
      continue;
    }
    const eo = (r.ops / r.engineMs) * 1000;
    const bo = (r.ops / r.baselineMs) * 1000;
    console.log(
      `${r.name.padEnd(13)} ${String(r.ops).padStart(5)} ${eo.toFixed(0).padStart(14)} ${bo.toFixed(0).padStart(16)}   ${(r.engineMs / r.baselineMs).toFixed(2)}x`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `npx tsx bench/engine.ts --stall [name,name]`: only the stall figures (all, or the named commands)
  const i = process.argv.indexOf('--stall');
  if (i >= 0) printResults('engine: longest event-loop stall during one command', await benchStall(process.argv[i + 1]?.split(',')));
  else printResults('engine (mongoose → wire → engine → SQLite) vs better-sqlite3 direct', await benchEngine());
}
