// The nightly backup job and the backups it keeps: recorded runs, BACKUP_KEEP, the admin page's
// panel (last good backup, size, warning when older than two days), a backup killed half-way
// (previous ones intact, the leftover never taken for a backup, cleaned by the next run), restore
// refusing a non-empty directory or a damaged backup, the job skipped with MONGODB_URI, and the app
// refusing to start on a damaged data file.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { clock } from '../../server/clock.ts';
import { setCurrentConfig } from '../../server/config.ts';
import { DATA_FILE, recordLastBackup, restoreDataFile, verifyDataFile } from '../../server/db/engine/datafile.ts';
import { JobRun } from '../../server/models/job-run.ts';
import { backupFileName, backupStatus, listBackups } from '../../server/services/backup.ts';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { createUnits } from '../intake/helpers.ts';
import { ROOT, runCli, sha, tmp } from './helpers.ts';

const at = (iso: string) => {
  const d = new Date(iso);
  clock.set(() => d);
};

describe('backup: the nightly job, kept backups, admin panel, failures', function () {
  this.timeout(120_000);
  let t: TestApp;
  let admin: TestUser;
  let backupDir: string;
  const work = tmp('bk-job-');
  const run = async () => {
    // a fresh token at the (fake) time of the run
    const tok = await t.api().post('/api/v1/auth/token', { username: admin.username, password: admin.password });
    expect(tok.status, tok.text).to.equal(200);
    const r = await t.api(tok.body.token).post('/api/v1/jobs/backup/run', {});
    expect(r.status, r.text).to.equal(200);
    return r.body as { outcome: string; counts: Record<string, number>; error: string | null };
  };
  const adminPage = async () => {
    const w = t.web();
    await w.login(admin.username, admin.password);
    const page = await w.get('/admin');
    expect(page.status).to.equal(200);
    const m = /<section class="panel backup-panel"[\s\S]*?<\/section>/.exec(page.text);
    expect(m, 'backup panel').to.not.equal(null);
    return m![0];
  };

  before(async () => {
    t = await startTestApp({ env: { BACKUP_KEEP: '2' } });
    admin = await t.userFor('admin');
    await createUnits(t, admin.token);
    backupDir = t.config.backupDir;
    expect(backupDir).to.equal(path.join(t.dataDir, 'backups'));
  });
  after(async () => {
    await t?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('without any backup the admin page warns', async () => {
    const panel = await adminPage();
    expect(panel).to.include('还没有任何完好的备份');
  });

  it('runs, is recorded, keeps the last BACKUP_KEEP, and the admin page shows the last one (warning after two days)', async () => {
    const times = ['2027-01-01T19:00:00.000Z', '2027-01-02T19:00:00.000Z', '2027-01-03T19:00:00.000Z'];
    for (const iso of times) {
      at(iso);
      const r = await run();
      expect(r.outcome, r.error ?? '').to.equal('success');
      expect(r.counts.bytes).to.be.greaterThan(0);
      expect(r.counts.documents).to.be.greaterThan(0);
    }
    const kept = listBackups(backupDir);
    expect(kept.map((b) => b.at)).to.deep.equal([times[2], times[1]]);
    expect(fs.statSync(kept[0].file).mode & 0o777).to.equal(0o600);
    // `npm run backup -- --out` never overwrites a file
    const exists = await runCli('backup', ['--out', kept[0].file, '--data-dir', t.dataDir]);
    expect(exists.code).to.equal(1);
    expect(exists.stderr).to.include('已存在').and.include('[backup_exists]');
    expect(listBackups(backupDir)).to.deep.equal(kept);
    expect(kept[0].name).to.equal(backupFileName(new Date(times[2])));
    expect(verifyDataFile(kept[0].file).collections.find((c) => c.ns === 'assessment.units')!.count).to.equal(5);
    const recorded = await JobRun.find({ job: 'backup' }).lean();
    expect(recorded.map((r) => r.outcome)).to.deep.equal(['success', 'success', 'success']);
    expect(recorded[2].counts).to.include({ kept: 2, removed: 1 });

    at('2027-01-04T08:00:00.000Z');
    let panel = await adminPage();
    expect(panel).to.include('2027/01/04 03:00'); // 19:00Z is 03:00 in Shanghai
    expect(panel).to.include(kept[0].name).and.include('KB');
    expect(panel).not.to.include('backup-warning');

    at('2027-01-06T08:00:00.000Z'); // two days and 13 hours later
    panel = await adminPage();
    expect(panel).to.include('backup-warning').and.include('超过两天');
  });

  it('a backup killed half-way leaves the previous ones intact and is never taken for a good one', async () => {
    const beforeList = listBackups(backupDir);
    const sums = beforeList.map((b) => sha(b.file));
    const out = path.join(backupDir, backupFileName(new Date('2027-01-07T19:00:00.000Z')));
    let tmpFile = '';
    const r = await runCli('backup', ['--out', out, '--data-dir', t.dataDir], {
      env: { BACKUP_FAULT: 'hold' },
      onStdout: (text, child) => {
        const m = /HOLD (.+)\n/.exec(text);
        if (m && !tmpFile) {
          tmpFile = m[1];
          child.kill('SIGKILL');
        }
      },
    });
    expect(r.signal).to.equal('SIGKILL');
    expect(fs.existsSync(tmpFile), 'the half-made copy is left under its temporary name').to.equal(true);
    expect(fs.existsSync(out)).to.equal(false);
    expect(listBackups(backupDir)).to.deep.equal(beforeList);
    expect(beforeList.map((b) => sha(b.file))).to.deep.equal(sums);
    at('2027-01-07T20:00:00.000Z');
    expect(backupStatus().last!.name).to.equal(beforeList[0].name);
    // The next run cleans the leftover and makes a good one.
    const next = await run();
    expect(next.outcome, next.error ?? '').to.equal('success');
    expect(next.counts.tempsRemoved).to.equal(1);
    expect(fs.existsSync(tmpFile)).to.equal(false);
    expect(listBackups(backupDir)[0].at).to.equal('2027-01-07T20:00:00.000Z');
  });

  it('restore refuses a non-empty directory and a damaged backup, and changes nothing', async () => {
    const good = listBackups(backupDir)[0].file;
    const busy = path.join(work, 'busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'notes.txt'), 'keep me');
    const r = await runCli('restore', ['--from', good, '--data-dir', busy]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include('不是空的').and.include('[data_dir_not_empty]');
    expect(fs.readdirSync(busy)).to.deep.equal(['notes.txt']);

    const bad = path.join(work, 'bad.sqlite3');
    const buf = fs.readFileSync(good);
    for (let off = 4096; off < buf.length; off += 3 * 4096) buf.fill(0x5a, off, Math.min(off + 4096, buf.length));
    fs.writeFileSync(bad, buf);
    const empty = path.join(work, 'empty');
    const d = await runCli('restore', ['--from', bad, '--data-dir', empty]);
    expect(d.code).to.equal(1);
    expect(d.stderr).to.include('已损坏');
    expect(fs.existsSync(empty)).to.equal(false);

    const missing = await runCli('restore', ['--from', path.join(work, 'nope.sqlite3'), '--data-dir', empty]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('文件不存在');
  });

  it('with MONGODB_URI the job is recorded as skipped, the backup command refuses, the panel says not applicable', async () => {
    setCurrentConfig({ ...t.config, mongodbUri: 'mongodb://db.example:27017/?replicaSet=rs0' });
    try {
      const before = listBackups(backupDir);
      const r = await run();
      expect(r.outcome).to.equal('success');
      expect(r.counts).to.deep.equal({ skipped: 1 });
      expect(listBackups(backupDir)).to.deep.equal(before);
      expect(await adminPage()).to.include('内置备份不适用');
    } finally {
      setCurrentConfig(t.config);
    }
    const cli = await runCli('backup', ['--out', path.join(work, 'x.sqlite3')], { env: { MONGODB_URI: 'mongodb://db.example:27017/', DATA_DIR: t.dataDir } });
    expect(cli.code).to.equal(1);
    expect(cli.stderr).to.include('MONGODB_URI');
  });

  it('the app refuses to start on a damaged data file, with one line naming the last good backup', async () => {
    const good = listBackups(backupDir)[0];
    const dir = path.join(work, 'damaged');
    restoreDataFile(good.file, dir);
    recordLastBackup(dir, { file: good.file, at: good.at, bytes: good.bytes });
    const file = path.join(dir, DATA_FILE);
    const buf = fs.readFileSync(file);
    for (let off = 8192; off < buf.length; off += 2 * 4096) buf.fill(0xc3, off, Math.min(off + 4096, buf.length));
    fs.writeFileSync(file, buf);
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATA_DIR: dir, PORT: '0', JOBS: '0', LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (x) => (stdout += x));
      child.stderr.on('data', (x) => (stderr += x));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(res.code).to.equal(1);
    expect(res.stdout).not.to.include('已启动');
    const lines = res.stderr.trim().split('\n');
    expect(lines, res.stderr).to.have.length(1);
    expect(lines[0]).to.include('已损坏').and.include('damaged').and.include(good.file);
  });
});
