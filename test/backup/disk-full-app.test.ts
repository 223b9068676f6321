// Disk full, end to end: the app on a data directory on a small filesystem (tmpfs; needs permission
// to mount, else skipped — test/backup/engine-file.test.ts injects SQLITE_FULL without it). When the
// disk fills up a submission is refused and takes no revision number, reads keep working, and once
// space is freed writes go on where they left off.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createUnits, vals } from '../intake/helpers.ts';
import { tmp } from './helpers.ts';

describe('backup: disk full on a real (small) filesystem', function () {
  this.timeout(120_000);
  let mnt = '';
  let mounted = false;
  let t: TestApp | undefined;

  before(function () {
    mnt = tmp('bk-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt], { stdio: 'ignore' });
      mounted = true;
    } catch {
      this.skip();
    }
  });
  after(async () => {
    await t?.stop();
    if (mounted) execFileSync('umount', [mnt], { stdio: 'ignore' });
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  it('refuses writes that cannot be stored, keeps serving reads, and resumes when space is freed', async () => {
    const dataDir = path.join(mnt, 'data');
    t = await startTestApp({ dataDir, periods: ['2026Q3'] });
    const admin = await t.tokenFor('admin');
    await createUnits(t, admin);
    expect((await t.api(admin).put('/api/v1/returns/2026Q3/D001', { values: vals(1) })).body.revision).to.equal(1);

    // Fill the filesystem.
    const filler = path.join(mnt, 'filler');
    const fd = fs.openSync(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, block);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).to.equal('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }

    let refused = 0;
    for (let i = 0; i < 3; i++) {
      const r = await t.api(admin).put('/api/v1/returns/2026Q3/D001', { values: vals(2 + i) });
      expect(r.status, r.text).to.equal(503);
      expect(r.body.error.code).to.equal('storage_full');
      expect(r.body.error.message).to.contain('磁盘空间不足');
      refused++;
    }
    expect(refused).to.equal(3);
    // Reads keep working and show only what was stored.
    const latest = await t.api(admin).get('/api/v1/returns/2026Q3/D001');
    expect(latest.status).to.equal(200);
    expect(latest.body.revision).to.equal(1);
    expect(latest.body.values).to.deep.equal(vals(1));
    expect((await t.api(admin).get('/api/v1/units')).body).to.have.length(5);

    fs.rmSync(filler);
    const after = await t.api(admin).put('/api/v1/returns/2026Q3/D001', { values: vals(9) });
    expect(after.status, after.text).to.equal(200);
    expect(after.body.revision).to.equal(2); // the refused ones never took a number
    const hist = (await t.api(admin).get('/api/v1/returns/2026Q3/D001/revisions')).body as { revision: number }[];
    expect(hist.map((h) => h.revision)).to.deep.equal([1, 2]);
  });
});
