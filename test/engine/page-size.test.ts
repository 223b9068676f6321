// A new data file gets 16 KiB pages (server/db/engine/store.ts PAGE_SIZE: documents of up to ≈ 4 KB
// stay in their row instead of each writing an overflow page); a data file made with SQLite's default
// 4 KiB pages (every file before this change) keeps them, and is read and written as before.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MongoClient } from 'mongodb';
import { startEngine } from '../../server/db/engine/index.ts';
import { PAGE_SIZE } from '../../server/db/engine/store.ts';
import { DATA_FILE } from '../../server/db/engine/datafile.ts';
import { REAL, tempDir } from './harness.ts';

const pageSize = (dir: string) => {
  const db = new Database(path.join(dir, DATA_FILE), { readonly: true });
  try {
    return db.pragma('page_size', { simple: true });
  } finally {
    db.close();
  }
};

async function roundTrip(dir: string, docs: number): Promise<string[]> {
  let e = await startEngine({ dataDir: dir });
  let c = await new MongoClient(e.uri).connect();
  const big = 'x'.repeat(3000); // larger than a 4 KiB page holds in place, smaller than a 16 KiB page does
  await c.db('app').collection('t').insertMany(Array.from({ length: docs }, (_, i) => ({ _id: `d${i}` as never, big, i })));
  await c.db('app').collection('t').updateMany({}, { $set: { more: big } });
  await c.close();
  await e.stop();
  e = await startEngine({ dataDir: dir });
  c = await new MongoClient(e.uri).connect();
  try {
    const back = await c.db('app').collection('t').find({}, { sort: { i: 1 } }).toArray();
    expect(back.every((d) => d.big === big && d.more === big)).to.equal(true);
    return back.map((d) => String(d._id));
  } finally {
    await c.close();
    await e.stop();
  }
}

(REAL ? describe.skip : describe)('engine: page size of the data file', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a new data file has PAGE_SIZE pages and keeps large documents across a restart', async () => {
    expect(PAGE_SIZE).to.equal(16384);
    expect(await roundTrip(dir, 50)).to.have.length(50);
    expect(pageSize(dir)).to.equal(PAGE_SIZE);
  });

  it('an existing data file with 4 KiB pages keeps them and works as before', async () => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const old = new Database(path.join(dir, DATA_FILE));
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE keep (x INTEGER)');
    old.close();
    expect(pageSize(dir)).to.equal(4096);
    expect(await roundTrip(dir, 50)).to.have.length(50);
    expect(pageSize(dir)).to.equal(4096);
  });
});
