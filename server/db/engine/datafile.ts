// The engine's data file as a file: integrity checks, consistent online copies (backups) and
// restores. Self-contained (better-sqlite3 and node:fs only), so the backup / restore commands can
// use it from another process while the engine runs.
//
// Consistency: the engine commits every acknowledged write to SQLite (WAL, synchronous=FULL) before
// it replies, so the file is the whole state. `VACUUM INTO` runs in ONE read transaction on its own
// read-only connection: the copy is the database as of one commit (every write acknowledged before
// the copy started is in it, no later half of a write is), and in WAL mode it does not block the
// engine's writes. A copy is written under a temporary name, fsynced, verified (integrity_check,
// counts per collection) and only then renamed: a killed or failed copy never has a final name.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { deserialize } from 'bson';

export const DATA_FILE = 'engine.sqlite3';
/** Written next to the data file after each good backup; named by the start-up error of a damaged file. */
export const LAST_BACKUP_FILE = 'last-backup.json';

export class DataFileError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DataFileError';
  }
}

export interface CollectionCount {
  /** db.collection */
  ns: string;
  count: number;
}

export interface FileReport {
  file: string;
  bytes: number;
  collections: CollectionCount[];
  documents: number;
}

export interface LastBackup {
  file: string;
  at: string;
  bytes: number;
}

/** The last good backup recorded for a data directory, or null. */
export function lastBackup(dataDir: string): LastBackup | null {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(dataDir, LAST_BACKUP_FILE), 'utf8')) as LastBackup;
    return typeof v.file === 'string' && typeof v.at === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Records a good backup for the data directory (atomically: temp file + rename). */
export function recordLastBackup(dataDir: string, info: LastBackup): void {
  const file = path.join(dataDir, LAST_BACKUP_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(info) + '\n');
  fs.renameSync(tmp, file);
}

/** Whether an error from SQLite / BSON means the file's content is damaged. */
export function isDamage(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) return true;
  return (e as Error)?.name === 'BSONError';
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    fsyncFile(dir);
  } catch {
    /* not supported on every platform */
  }
}

/**
 * Checks a data file (read-only): SQLite's integrity_check (or quick_check), the catalogue decodes,
 * and counts the documents per collection. Throws DataFileError('data_file_damaged') when it is not sound.
 */
export function verifyDataFile(file: string, opts: { quick?: boolean } = {}): FileReport {
  if (!fs.existsSync(file)) throw new DataFileError('data_file_missing', `文件不存在：${file} (file not found)`);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const problem = checkOpen(db, opts.quick ? 'quick_check' : 'integrity_check');
    if (problem) throw new DataFileError('data_file_damaged', `数据文件 ${file} 已损坏：${problem} (data file is damaged)`);
    const names = new Map<number, string>();
    for (const row of db.prepare('SELECT cid, db, name, meta FROM collections ORDER BY db, name').all() as { cid: number; db: string; name: string; meta: Buffer }[]) {
      deserialize(row.meta);
      names.set(row.cid, `${row.db}.${row.name}`);
    }
    const counts = new Map<number, number>();
    for (const row of db.prepare('SELECT cid, count(*) AS n FROM docs GROUP BY cid').all() as { cid: number; n: number }[]) counts.set(row.cid, row.n);
    const collections = [...names].map(([cid, ns]) => ({ ns, count: counts.get(cid) ?? 0 })).sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
    return { file, bytes: fs.statSync(file).size, collections, documents: collections.reduce((s, c) => s + c.count, 0) };
  } catch (e) {
    if (e instanceof DataFileError) throw e;
    if (isDamage(e) || /no such table/.test((e as Error)?.message ?? '')) {
      throw new DataFileError('data_file_damaged', `数据文件 ${file} 已损坏或不是本系统的数据文件：${(e as Error).message} (data file is damaged)`);
    }
    throw e;
  } finally {
    db?.close();
  }
}

/** Runs quick_check / integrity_check on an open database; returns the first problem, or null when ok. */
export function checkOpen(db: Database.Database, pragma: 'quick_check' | 'integrity_check' = 'quick_check'): string | null {
  const rows = db.pragma(`${pragma}(5)`) as Record<string, string>[];
  const msgs = rows.map((r) => Object.values(r)[0]);
  return msgs.length === 1 && msgs[0] === 'ok' ? null : msgs.join('; ');
}

export interface SnapshotOptions {
  /** Called with the temporary file after it is written and synced, before it is verified and renamed (tests). */
  beforeRename?: (tmp: string) => void;
}

export interface SnapshotReport extends FileReport {
  ms: number;
}

/** The temporary name a copy to `out` is written under: hidden, never mistaken for a backup. */
export function tempNameFor(out: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.tmp-${process.pid}`);
}

/** True for a temporary name made by tempNameFor. */
export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+$/.test(name);
}

/**
 * A consistent copy of the data file `src` (of a running engine or not) at `out`, which must not
 * exist. Written to a temporary name, synced, verified, then renamed. Returns what was copied.
 */
export function snapshotDataFile(src: string, out: string, opts: SnapshotOptions = {}): SnapshotReport {
  const t0 = performance.now();
  if (!fs.existsSync(src)) throw new DataFileError('data_file_missing', `没有找到数据文件：${src} (no data file)`);
  if (fs.existsSync(out)) throw new DataFileError('backup_exists', `备份文件已存在，不会覆盖：${out} (backup file exists)`);
  fs.mkdirSync(path.dirname(out), { recursive: true, mode: 0o700 });
  const tmp = tempNameFor(out);
  fs.rmSync(tmp, { force: true });
  try {
    const db = new Database(src, { readonly: true, fileMustExist: true });
    try {
      db.prepare('VACUUM INTO ?').run(tmp);
    } finally {
      db.close();
    }
    fs.chmodSync(tmp, 0o600); // it holds password hashes and the app's secrets
    fsyncFile(tmp);
    opts.beforeRename?.(tmp);
    const report = verifyDataFile(tmp);
    if (fs.existsSync(out)) throw new DataFileError('backup_exists', `备份文件已存在，不会覆盖：${out} (backup file exists)`);
    fs.renameSync(tmp, out);
    fsyncDir(path.dirname(out));
    return { ...report, file: out, ms: Math.round(performance.now() - t0) };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (e instanceof DataFileError) throw e;
    if ((e as { code?: string }).code === 'SQLITE_FULL' || (e as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new DataFileError('backup_disk_full', `备份失败：磁盘空间不足（${(e as Error).message}） (backup failed: disk full)`);
    }
    throw new DataFileError('backup_failed', `备份失败：${(e as Error).message} (backup failed)`);
  }
}

/** Whether a directory has anything in it (a missing directory is empty). */
export function dirHasEntries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Restores the backup `from` as the data file of `dataDir`, which must be empty (or missing):
 * verifies the backup, copies it under a temporary name, syncs and verifies the copy (same counts),
 * renames it. Returns what was restored.
 */
export function restoreDataFile(from: string, dataDir: string): FileReport {
  const entries = dirHasEntries(dataDir);
  if (entries.length) {
    throw new DataFileError('data_dir_not_empty', `目标数据目录 ${dataDir} 不是空的（${entries.slice(0, 3).join('、')}${entries.length > 3 ? '…' : ''}），为免覆盖数据，恢复只写入空目录 (data directory is not empty)`);
  }
  const source = verifyDataFile(from);
  fs.mkdirSync(dataDir, { recursive: true });
  const target = path.join(dataDir, DATA_FILE);
  const tmp = tempNameFor(target);
  try {
    fs.copyFileSync(from, tmp, fs.constants.COPYFILE_EXCL);
    fs.chmodSync(tmp, 0o600);
    fsyncFile(tmp);
    const copy = verifyDataFile(tmp);
    if (JSON.stringify(copy.collections) !== JSON.stringify(source.collections)) {
      throw new DataFileError('restore_mismatch', '恢复的副本与备份的文档数不一致 (restored copy differs from the backup)');
    }
    if (dirHasEntries(dataDir).some((n) => n !== path.basename(tmp))) {
      throw new DataFileError('data_dir_not_empty', `恢复期间目标数据目录 ${dataDir} 出现了其他文件，已放弃 (data directory changed during restore)`);
    }
    fs.renameSync(tmp, target);
    fsyncDir(dataDir);
    return { ...copy, file: target };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
