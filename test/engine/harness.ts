// Test harness: the embedded engine by default, a real MongoDB when TEST_MONGODB_URI is set.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Collection, type Db, type MongoClientOptions } from 'mongodb';
import mongoose from 'mongoose';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startEngine, type RunningEngine } from '../../server/db/engine/index.ts';

export const REAL = process.env.TEST_MONGODB_URI;

export function tempDir(prefix = 'engine-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Target {
  uri: string;
  /** unique database name for this suite */
  dbName: string;
  embedded: RunningEngine | null;
  dataDir: string | null;
  close(): Promise<void>;
}

let counter = 0;

export async function startTarget(opts: { ttlIntervalMs?: number } = {}): Promise<Target> {
  const dbName = `conf_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  if (REAL) {
    return { uri: REAL, dbName, embedded: null, dataDir: null, close: async () => {} };
  }
  const dataDir = tempDir();
  const embedded = await startEngine({ dataDir, ttlIntervalMs: opts.ttlIntervalMs });
  return {
    uri: embedded.uri,
    dbName,
    embedded,
    dataDir,
    async close() {
      await embedded.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A suite's target and a connected driver client on its database (filled in by `before`). */
export interface DriverSuite {
  t: Target;
  client: MongoClient;
  db: Db;
  /** A fresh collection (prefix + a counter) holding `docs`. */
  coll(docs?: Doc[], prefix?: string): Promise<Collection<any>>;
}

type Doc = Record<string, any>;

/**
 * Registers `before` / `after` hooks that start a target, connect the official driver and
 * drop the suite's database at the end. Call it inside `describe`.
 */
export function driverSuite(opts: { ttlIntervalMs?: number; client?: MongoClientOptions } = {}): DriverSuite {
  let seq = 0;
  const s = {
    async coll(docs: Doc[] = [], prefix = 'c') {
      const c = s.db.collection<any>(prefix + seq++);
      if (docs.length) await c.insertMany(docs);
      return c;
    },
  } as DriverSuite;
  before(async () => {
    s.t = await startTarget({ ttlIntervalMs: opts.ttlIntervalMs });
    s.client = await new MongoClient(s.t.uri, opts.client).connect();
    s.db = s.client.db(s.t.dbName);
  });
  after(async () => {
    await s.db?.dropDatabase().catch(() => {});
    await s.client?.close();
    await s.t?.close();
  });
  return s;
}

/** A suite's target and a mongoose connection to its database (filled in by `before`). */
export interface MongooseSuite {
  t: Target;
  conn: mongoose.Connection;
}

/** `before` / `after` hooks: a target and a mongoose connection; `setup` runs after connecting. */
export function mongooseSuite(setup?: (conn: mongoose.Connection) => Promise<void> | void): MongooseSuite {
  const s = {} as MongooseSuite;
  before(async () => {
    s.t = await startTarget();
    s.conn = await mongoose.createConnection(s.t.uri, { dbName: s.t.dbName }).asPromise();
    await setup?.(s.conn);
  });
  after(async () => {
    await s.conn?.dropDatabase().catch(() => {});
    await s.conn?.close();
    await s.t?.close();
  });
  return s;
}

/** The error a promise is rejected with; fails the test when it resolves. */
export async function fails(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

/** The error code a promise is rejected with, or undefined when it resolves. */
export async function errorCode(p: Promise<unknown>): Promise<number | undefined> {
  const e: any = await p.then(
    () => null,
    (x) => x,
  );
  return e?.code;
}

/**
 * Runs `command` while `other` (a second client) pings in a loop; returns how many pings were
 * answered before the command's promise settled, how many of them the embedded engine answered
 * while a data command was between two of its slices, and the command's result. The event-loop
 * delay of this process is printed for information only (no timing is asserted).
 */
export async function pingWhile<T>(t: Target, other: MongoClient, command: () => Promise<T>): Promise<{ before: number; between: number; result: T }> {
  const stats = t.embedded?.engine.sliceStats;
  const served0 = stats?.servedBetween ?? 0;
  if (stats) stats.longestMs = 0;
  const odb = other.db(t.dbName);
  await odb.command({ ping: 1 }); // connected and warm
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  await new Promise((r) => setTimeout(r, 20)); // the histogram's first ticks (a stall before them is not seen)
  let done = false;
  let before = 0;
  const pinging = (async () => {
    while (!done) {
      await odb.command({ ping: 1 });
      if (!done) before++;
    }
  })();
  const result = await command().finally(() => {
    done = true;
  });
  await pinging;
  await new Promise((r) => setTimeout(r, 20)); // let the histogram's late timer record the last stall
  lag.disable();
  const between = (stats?.servedBetween ?? 0) - served0;
  console.log(`      (pings answered before it finished: ${before}, by the engine between two of its slices: ${between}; max event-loop delay of this process: ${(lag.max / 1e6).toFixed(0)} ms; the engine's longest slice: ${stats?.longestMs.toFixed(0)} ms)`);
  return { before, between, result };
}
