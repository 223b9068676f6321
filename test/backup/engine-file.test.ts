// The engine's data file: quick check at start (a damaged file stops start-up, naming the last good
// backup, and leaves nothing half-loaded) and writes that cannot be made durable (disk full, I/O
// error) refused with the in-memory state unchanged while reads keep working.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { startEngine, DataDirInUseError, type RunningEngine } from '../../server/db/engine/index.ts';
import { DATA_FILE, recordLastBackup, snapshotDataFile, verifyDataFile } from '../../server/db/engine/datafile.ts';
import { DataFileDamagedError } from '../../server/db/engine/store.ts';

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

/** Fills a data directory with `n` documents of ~1 KB in app.things (unique index on code) and stops. */
async function filled(dir: string, n: number): Promise<void> {
  const e = await startEngine({ dataDir: dir });
  const c = await MongoClient.connect(e.uri);
  const col = c.db('app').collection('things');
  await col.createIndex({ code: 1 }, { unique: true });
  await col.insertMany(Array.from({ length: n }, (_, i) => ({ _id: i as never, code: `C${i}`, pad: 'x'.repeat(1000) })));
  await c.close();
  await e.stop();
}

/** Overwrites the middle of the file's pages (past the schema page) with garbage. */
function damage(file: string): void {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  const junk = Buffer.alloc(8192, 0xa5);
  for (let off = 8192; off + junk.length < size; off += 4 * 8192) fs.writeSync(fd, junk, 0, junk.length, off);
  fs.closeSync(fd);
}

describe('backup: engine data file integrity at start', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('refuses to start on a damaged file with a Chinese and English one-line reason naming the last good backup', async () => {
    const dir = tmp('bk-damaged-');
    dirs.push(dir);
    await filled(dir, 300);
    const good = path.join(dir, 'backups', 'backup-good.sqlite3');
    const rep = snapshotDataFile(path.join(dir, DATA_FILE), good);
    expect(rep.collections.find((c) => c.ns === 'app.things')!.count).to.equal(300);
    recordLastBackup(dir, { file: good, at: '2026-12-01T18:00:00.000Z', bytes: rep.bytes });
    damage(path.join(dir, DATA_FILE));

    const err = await startEngine({ dataDir: dir }).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(DataFileDamagedError);
    const msg = (err as Error).message;
    expect(msg.split('\n')).to.have.length(1);
    expect(msg).to.include('已损坏').and.include('damaged').and.include(good).and.include('2026-12-01T18:00:00.000Z');
    // Nothing half-started: the lock is released (a second try gives the same reason, not "in use").
    const again = await startEngine({ dataDir: dir }).then(() => null, (e) => e);
    expect(again).to.be.instanceOf(DataFileDamagedError);
    expect(again).not.to.be.instanceOf(DataDirInUseError);
    expect(fs.existsSync(path.join(dir, 'engine.lock'))).to.equal(false);
    // The backup it names is sound and complete.
    expect(verifyDataFile(good).documents).to.equal(300);
  });

  it('refuses a file that is not a database at all, and says when no backup is recorded', async () => {
    const dir = tmp('bk-notadb-');
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, DATA_FILE), Buffer.alloc(64 * 1024, 0x42));
    const err = await startEngine({ dataDir: dir }).then(() => null, (e) => e);
    expect(err).to.be.instanceOf(DataFileDamagedError);
    expect((err as Error).message).to.include('没有记录到完好的备份').and.include('no good backup recorded');
  });

  it('starts normally on a sound file (the check passes and every document is loaded)', async () => {
    const dir = tmp('bk-sound-');
    dirs.push(dir);
    await filled(dir, 50);
    const e = await startEngine({ dataDir: dir });
    try {
      expect(e.engine.store.get('app', 'things')!.docs.size).to.equal(50);
    } finally {
      await e.stop();
    }
  });
});

describe('backup: writes that cannot be made durable', function () {
  this.timeout(60_000);
  let dir: string;
  let e: RunningEngine;
  let client: MongoClient;
  const col = () => client.db('app').collection<{ _id: number; code: string; pad?: string; n?: number }>('things');

  beforeEach(async () => {
    dir = tmp('bk-full-');
    await filled(dir, 20);
    e = await startEngine({ dataDir: dir });
    client = await MongoClient.connect(e.uri);
  });
  afterEach(async () => {
    await client.close();
    await e.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('disk full (SQLITE_FULL): refused with a clear error, memory unchanged, reads served, writes resume when space returns', async () => {
    const sql = e.engine.store.sql;
    const pages = Number(sql.pragma('page_count', { simple: true }));
    sql.pragma(`max_page_count = ${pages}`); // the file cannot grow: a real SQLITE_FULL

    const big = Array.from({ length: 50 }, (_, i) => ({ _id: 1000 + i, code: `N${i}`, pad: 'y'.repeat(4000) }));
    const err: any = await col().insertMany(big).catch((x) => x);
    expect(err, 'insert must fail').to.be.instanceOf(Error);
    expect(err.code).to.equal(14031);
    expect(err.codeName).to.equal('OutOfDiskSpace');
    expect(err.message).to.include('磁盘空间不足').and.include('not durable');
    // Nothing of the refused write is visible; reads keep working.
    expect(await col().countDocuments()).to.equal(20);
    expect(await col().findOne({ code: 'N0' })).to.equal(null);
    expect((await col().findOne({ _id: 3 }))!.code).to.equal('C3');
    // An update that grows documents is refused too, and leaves them as they were.
    const u: any = await col().updateMany({}, { $set: { pad: 'z'.repeat(20_000) } }).catch((x) => x);
    expect(u.code).to.equal(14031);
    expect((await col().findOne({ _id: 3 }))!.pad).to.equal('x'.repeat(1000));

    sql.pragma('max_page_count = 1073741823');
    await col().insertMany(big); // the unique index has no leftovers of the refused insert
    expect(await col().countDocuments()).to.equal(70);

    // What was acknowledged is what is on disk.
    await client.close();
    await e.stop();
    e = await startEngine({ dataDir: dir });
    client = await MongoClient.connect(e.uri);
    expect(await col().countDocuments()).to.equal(70);
    expect((await col().findOne({ _id: 3 }))!.pad).to.equal('x'.repeat(1000));
  });

  it('an I/O error at commit (injected): refused, nothing changed in memory or on disk', async () => {
    const stmt = (e.engine.store as any).stmts.put;
    const run = stmt.run;
    stmt.run = function () {
      throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
    };
    const err: any = await col().updateOne({ _id: 4 }, { $set: { n: 99 } }).catch((x) => x);
    stmt.run = run;
    expect(err.message).to.include('磁盘读写错误').and.include('SQLITE_IOERR_WRITE');
    expect(await col().findOne({ _id: 4, n: 99 })).to.equal(null);
    await client.close();
    await e.stop();
    e = await startEngine({ dataDir: dir });
    client = await MongoClient.connect(e.uri);
    expect(await col().findOne({ _id: 4, n: 99 })).to.equal(null);
    expect(await col().countDocuments()).to.equal(20);
  });
});
