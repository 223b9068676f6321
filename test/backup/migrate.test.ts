// Migration with the driver only: the embedded store → a second embedded engine standing in for an
// empty MongoDB deployment (`npm run migrate -- --to URI`), and back into an empty data directory
// (`--from URI`); the app started on the round-tripped copy shows exactly what the original showed,
// stored files (GridFS) byte-identical, indexes in place; non-empty targets refused and unchanged.
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GridFSBucket, MongoClient } from 'mongodb';
import { startEngine, type RunningEngine } from '../../server/db/engine/index.ts';
import { DATA_FILE, verifyDataFile } from '../../server/db/engine/datafile.ts';
import { collectionChecksum } from '../../server/services/migration.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { buildWorkbook, createUnits, vals } from '../intake/helpers.ts';
import { httpView, runCli, sha, tmp } from './helpers.ts';

const P = '2026Q3';
const CODES = ['D001', 'D002', 'D003', 'C0571', 'X330102'];
const DB = 'assessment';

async function readGridFs(uri: string, bucketName: string, name: string): Promise<Buffer> {
  const c = await MongoClient.connect(uri);
  try {
    const chunks: Buffer[] = [];
    for await (const part of new GridFSBucket(c.db(DB), { bucketName }).openDownloadStreamByName(name)) chunks.push(part as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await c.close();
  }
}

async function indexNames(uri: string): Promise<Record<string, string[]>> {
  const c = await MongoClient.connect(uri);
  try {
    const out: Record<string, string[]> = {};
    for (const col of await c.db(DB).listCollections().toArray()) {
      out[col.name] = (await c.db(DB).collection(col.name).listIndexes().toArray()).map((i) => `${i.name}${i.unique ? '!' : ''}`).sort();
    }
    return out;
  } finally {
    await c.close();
  }
}

describe('backup: migration to and from a MongoDB deployment (driver only)', function () {
  this.timeout(300_000);
  let t: TestApp;
  let target: RunningEngine | null = null;
  const work = tmp('bk-migrate-');
  after(async () => {
    await t?.stop();
    await target?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('round trip: same collections, indexes, counts, checksums; the app shows the same; GridFS files byte-identical', async () => {
    t = await startTestApp();
    const admin = await t.tokenFor('admin');
    await createUnits(t, admin);
    for (let i = 0; i < 3; i++) {
      const file = await buildWorkbook(CODES.map((code) => ({ code, values: vals(i) })));
      const r = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', file, `u${i}.xlsx`);
      expect(r.status, r.text).to.equal(200);
    }
    for (let i = 0; i < 6; i++) expect((await t.api(admin).put(`/api/v1/returns/${P}/${CODES[i % 5]}`, { values: vals(10 + i) })).status).to.equal(200);
    expect((await t.api(admin).post('/api/v1/jobs/score/run', { period: P })).body.outcome).to.equal('success');
    // A stored file of several chunks (GridFS chunks are 255 KB), written with the driver.
    const big = crypto.randomBytes(700_000);
    {
      const c = await MongoClient.connect(t.db.uri);
      await new Promise<void>((resolve, reject) => {
        new GridFSBucket(c.db(DB), { bucketName: 'uploads' }).openUploadStream('big.bin').on('finish', () => resolve()).on('error', reject).end(big);
      });
      await c.close();
    }
    const shown = await httpView(t.api(admin), P, CODES);
    expect(Object.keys(shown.files)).to.have.length(3);
    const sourceUri = t.db.uri;
    const sourceIndexes = await indexNames(sourceUri);
    await t.db.close(); // the app is stopped; its data directory stays
    const sourceReport = verifyDataFile(path.join(t.dataDir, DATA_FILE));

    // → an empty "deployment"
    target = await startEngine({ dataDir: path.join(work, 'target') });
    const to = await runCli('migrate', ['--to', target.uri], { env: { DATA_DIR: t.dataDir } });
    expect(to.code, to.stderr).to.equal(0);
    expect(to.stdout).to.include('迁移完成').and.include('uploads.chunks').and.include(`${DB}`);
    expect(to.stdout).to.match(/uploads\.chunks: \d+\/\d+/); // progress
    expect(await indexNames(target.uri)).to.deep.equal(sourceIndexes);
    expect((await readGridFs(target.uri, 'uploads', 'big.bin')).equals(big)).to.equal(true);

    // A second run refuses the now non-empty target and changes nothing there.
    const c = await MongoClient.connect(target.uri);
    const before = await collectionChecksum(c.db(DB), 'returns');
    const again = await runCli('migrate', ['--to', target.uri], { env: { DATA_DIR: t.dataDir } });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('不是空的').and.include('[target_not_empty]');
    expect(await collectionChecksum(c.db(DB), 'returns')).to.deep.equal(before);
    await c.close();

    // ← back into an empty data directory
    const copy = path.join(work, 'copy');
    const from = await runCli('migrate', ['--from', target.uri, '--data-dir', copy]);
    expect(from.code, from.stderr).to.equal(0);
    const refused = await runCli('migrate', ['--from', target.uri, '--data-dir', copy]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('不是空的');
    await target.stop();
    target = null;
    expect(verifyDataFile(path.join(copy, DATA_FILE)).collections).to.deep.equal(sourceReport.collections);

    t = await startTestApp({ dataDir: copy });
    expect(await indexNames(t.db.uri)).to.deep.equal(sourceIndexes);
    expect((await readGridFs(t.db.uri, 'uploads', 'big.bin')).equals(big)).to.equal(true);
    const again2 = await httpView(t.api(await t.tokenFor('admin')), P, CODES);
    expect(again2).to.deep.equal(shown);
    expect(Object.values(again2.files).every((f) => f.startsWith('200:') && f !== `200:${sha(Buffer.alloc(0))}`)).to.equal(true);
  });
});
