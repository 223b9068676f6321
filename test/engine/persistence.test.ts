// Restart persistence and the one-process-per-data-directory rule (embedded engine only).
import { expect } from 'chai';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import mongoose, { Schema } from 'mongoose';
import { startEngine, DataDirInUseError } from '../../server/db/engine/index.ts';
import { scanStats } from '../../server/db/engine/query.ts';
import { REAL, tempDir } from './harness.ts';

const WRITER = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));

(REAL ? describe.skip : describe)('engine: persistence', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps documents, indexes and unique constraints across stop / restart', async () => {
    const schema = new Schema({ code: { type: String, unique: true }, at: Date, n: Number });
    let e = await startEngine({ dataDir: dir });
    let conn = await mongoose.createConnection(e.uri, { dbName: 'app' }).asPromise();
    let Unit = conn.model('Unit', schema);
    await Unit.init();
    const at = new Date('2024-01-02T03:04:05.678Z');
    await Unit.create([{ code: 'A', at, n: 1 }, { code: 'B', n: 2 }]);
    await Unit.updateOne({ code: 'B' }, { $set: { n: 3 } });
    await Unit.deleteOne({ code: 'A' });
    await Unit.create({ code: 'C', n: 4 });
    await conn.close();
    await e.stop();

    e = await startEngine({ dataDir: dir });
    conn = await mongoose.createConnection(e.uri, { dbName: 'app' }).asPromise();
    Unit = conn.model('Unit', schema);
    const docs = await Unit.find().sort({ code: 1 }).lean<any[]>();
    expect(docs.map((d) => [d.code, d.n])).to.deep.equal([['B', 3], ['C', 4]]);
    const err: any = await Unit.create({ code: 'B' }).catch((x) => x);
    expect(err.code).to.equal(11000);
    const idx = await conn.db!.collection('units').indexes();
    expect(idx.map((i) => i.name).sort()).to.deep.equal(['_id_', 'code_1']);
    await conn.close();
    await e.stop();
  });

  it('refuses a second start on the same data directory with a clear message', async () => {
    const e = await startEngine({ dataDir: dir });
    try {
      const err: any = await startEngine({ dataDir: dir }).catch((x) => x);
      expect(err).to.be.instanceOf(DataDirInUseError);
      expect(err.message).to.contain('已被进程');
      expect(err.message).to.contain(String(process.pid));
      // from another process as well
      const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, 'start'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await new Promise((res) => child.on('exit', res));
      expect(code).to.equal(3);
      expect(stderr).to.contain('data directory in use');
    } finally {
      await e.stop();
    }
    // after stop the directory is free again
    const again = await startEngine({ dataDir: dir });
    const client = await new MongoClient(again.uri).connect();
    expect((await client.db('x').command({ ping: 1 })).ok).to.equal(1);
    await client.close();
    await again.stop();
  });
});

(REAL ? describe.skip : describe)('engine: index use', () => {
  it('answers equality lookups on indexed fields (and _id) without scanning the collection', async () => {
    const dir = tempDir();
    const e = await startEngine({ dataDir: dir });
    const client = await new MongoClient(e.uri).connect();
    try {
      const c = client.db('idx').collection('items');
      await c.createIndex({ key: 1 }, { unique: true });
      await c.createIndex({ group: 1, key: 1 });
      await c.insertMany(Array.from({ length: 2000 }, (_, i) => ({ _id: i as any, key: `k${i}`, group: i % 10 })));
      let before = scanStats.examined;
      expect((await c.findOne({ key: 'k1234' }))!._id).to.equal(1234);
      expect(scanStats.examined - before).to.equal(1);
      before = scanStats.examined;
      expect((await c.findOne({ _id: 42 as any }))!.key).to.equal('k42');
      await c.updateOne({ key: { $in: ['k7', 'k8'] } }, { $set: { x: 1 } });
      expect(scanStats.examined - before).to.be.at.most(3);
      before = scanStats.examined;
      expect(await c.countDocuments({ group: 3 })).to.equal(200);
      expect(scanStats.examined - before).to.equal(200);
      before = scanStats.examined;
      await c.findOne({ unindexed: 1 });
      expect(scanStats.examined - before).to.equal(2000); // a scan, as expected without an index
    } finally {
      await client.close();
      await e.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
