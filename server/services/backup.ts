// Backups of the embedded engine's data (SPEC §5 `backup`, §8): the nightly job, the backups kept in
// BACKUP_DIR and what the admin page shows about them. The copy itself is made by the engine's
// data-file module (server/db/engine/datafile.ts: VACUUM INTO on a read-only connection — a
// point-in-time snapshot that does not block the engine's writes — to a temporary name, synced,
// verified, renamed), run in a child process (`server/cli/backup.ts`) so that the app's event loop,
// which also serves the embedded engine, is never blocked by the copy.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clock } from '../clock.ts';
import { currentConfig } from '../config.ts';
import { isTempName, recordLastBackup, type SnapshotReport } from '../db/engine/datafile.ts';
import { pidAlive } from './process-alive.ts';

/** Names of the backups the job makes: backup-20261202T031500123Z.sqlite3 (UTC), so names sort by time. */
export const BACKUP_NAME = /^backup-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z\.sqlite3$/;
/** A backup older than this is reported as stale on the admin page. */
export const BACKUP_STALE_MS = 2 * 24 * 3600_000;

export function backupFileName(at: Date): string {
  return `backup-${at.toISOString().replace(/[-:.]/g, '')}.sqlite3`;
}

/** 1536 → "1.5 KB" (sizes shown to people). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export interface BackupFile {
  file: string;
  name: string;
  /** when the backup was taken (from its name), ISO */
  at: string;
  bytes: number;
}

/** The good backups in `dir` (only verified copies get a backup name), newest first. */
export function listBackups(dir: string): BackupFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: BackupFile[] = [];
  for (const name of names) {
    const m = BACKUP_NAME.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    let bytes: number;
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) continue;
      bytes = st.size;
    } catch {
      continue;
    }
    out.push({ file, name, at: `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`, bytes });
  }
  return out.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

/**
 * Keeps the newest `keep` backups in `dir` and removes the older ones; also removes temporary files
 * left by copies whose process is gone (a killed backup). Returns how many of each it removed.
 */
export function pruneBackups(dir: string, keep: number): { removed: number; tempsRemoved: number } {
  let removed = 0;
  for (const b of listBackups(dir).slice(keep)) {
    fs.rmSync(b.file, { force: true });
    removed++;
  }
  let tempsRemoved = 0;
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (!isTempName(name)) continue;
    const pid = Number(/\.tmp-(\d+)$/.exec(name)![1]);
    if (pid !== process.pid && pidAlive(pid)) continue; // a copy in progress
    fs.rmSync(path.join(dir, name), { force: true });
    tempsRemoved++;
  }
  return { removed, tempsRemoved };
}

const CLI = fileURLToPath(new URL('../cli/backup.ts', import.meta.url));

/**
 * Runs `server/cli/backup.ts --out FILE --data-dir DIR --json` in a child process and returns its
 * report. Rejects with the child's one-line reason when it fails.
 */
export function backupInChild(opts: { dataDir: string; out: string; env?: Record<string, string> }): Promise<SnapshotReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, '--out', opts.out, '--data-dir', opts.dataDir, '--json'], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(last) as SnapshotReport);
        } catch {
          reject(new Error(`备份进程的输出无法识别：${last.slice(0, 200)}`));
        }
        return;
      }
      const reason = stderr.trim().split('\n').filter(Boolean).pop() ?? (signal ? `进程被信号 ${signal} 终止` : `退出码 ${code}`);
      reject(new Error(reason));
    });
  });
}

/** The nightly `backup` job: one verified copy into BACKUP_DIR, then keeps the last BACKUP_KEEP. */
export async function runBackupJob(): Promise<Record<string, number>> {
  const cfg = currentConfig();
  // With MONGODB_URI the deployment's own backups (mongodump, snapshots) apply: recorded as skipped.
  if (cfg.mongodbUri) return { skipped: 1 };
  fs.mkdirSync(cfg.backupDir, { recursive: true });
  const before = pruneBackups(cfg.backupDir, Number.MAX_SAFE_INTEGER);
  const at = clock.now();
  const out = path.join(cfg.backupDir, backupFileName(at));
  const report = await backupInChild({ dataDir: cfg.dataDir, out });
  recordLastBackup(cfg.dataDir, { file: out, at: at.toISOString(), bytes: report.bytes });
  const pruned = pruneBackups(cfg.backupDir, cfg.backupKeep);
  return {
    bytes: report.bytes,
    collections: report.collections.length,
    documents: report.documents,
    ms: report.ms,
    kept: listBackups(cfg.backupDir).length,
    removed: pruned.removed,
    tempsRemoved: before.tempsRemoved + pruned.tempsRemoved,
  };
}

export interface BackupStatus {
  /** false with MONGODB_URI (the deployment is backed up by its own means) */
  applicable: boolean;
  dir: string;
  keep: number;
  last: BackupFile | null;
  count: number;
  /** no backup, or the last one older than two days */
  stale: boolean;
  /** age of the last backup in hours (rounded down), or null */
  ageHours: number | null;
}

/** What the admin page shows: the last good backup (when, size) and whether it is too old. Reads only. */
export function backupStatus(): BackupStatus {
  const cfg = currentConfig();
  if (cfg.mongodbUri) return { applicable: false, dir: cfg.backupDir, keep: cfg.backupKeep, last: null, count: 0, stale: false, ageHours: null };
  const all = listBackups(cfg.backupDir);
  const last = all[0] ?? null;
  const age = last ? clock.now().getTime() - new Date(last.at).getTime() : null;
  return {
    applicable: true,
    dir: cfg.backupDir,
    keep: cfg.backupKeep,
    last,
    count: all.length,
    stale: age === null || age > BACKUP_STALE_MS,
    ageHours: age === null ? null : Math.max(0, Math.floor(age / 3600_000)),
  };
}
