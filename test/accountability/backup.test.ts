// Attachments survive an online backup and a restore: an app started on the restored data shows the
// case with its rectification and serves the very same bytes (GridFS bucket attachmentFiles included).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { backupInChild } from '../../server/services/backup.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli, tmp } from '../backup/helpers.ts';
import { at, pdf, png, postFiles, publishedCases } from './helpers.ts';

describe('attachments in a backup and a restore', function () {
  this.timeout(300_000);
  let t: TestApp;
  const work = tmp('bk-attach-');
  after(async () => {
    await t?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('a restored backup holds the rectification and its files, byte for byte', async () => {
    t = await startTestApp();
    const admin = await t.tokenFor('admin');
    const reviewer = await t.tokenFor('reviewer');
    const ids = await publishedCases(t, admin, reviewer);
    at('2026-05-01T02:00:00Z');
    const big = Buffer.concat([pdf(), Buffer.alloc(600 * 1024, 7)]); // several GridFS chunks
    const sent = await postFiles(t, await t.tokenFor('reporter', 'D3'), `/api/v1/accountability/cases/${ids.d3}/rectifications`, [
      { name: '报告.pdf', data: big },
      { name: '照片.png', data: png() },
    ], { report: '整改报告' });
    expect(sent.status, sent.text).to.equal(201);
    const shown = (await t.api(reviewer).get(`/api/v1/accountability/cases/${ids.d3}`)).body;

    const out = path.join(work, 'b.sqlite3');
    await backupInChild({ dataDir: t.dataDir, out });
    await t.stop();
    const restored = path.join(work, 'restored');
    const r = await runCli('restore', ['--from', out, '--data-dir', restored]);
    expect(r.code, r.stderr).to.equal(0);

    t = await startTestApp({ dataDir: restored });
    at('2026-05-01T02:00:00Z'); // the same instant as before (a new app starts on the real clock)
    const rev = await t.tokenFor('reviewer');
    const again = (await t.api(rev).get(`/api/v1/accountability/cases/${ids.d3}`)).body;
    expect(again).to.deep.equal(shown);
    const files = again.rectifications[0].attachments as { id: string }[];
    expect((await t.api(rev).get(`/api/v1/attachments/${files[0]!.id}`)).buffer.equals(big)).to.equal(true);
    expect((await t.api(rev).get(`/api/v1/attachments/${files[1]!.id}`)).buffer.equals(png())).to.equal(true);
  });
});
