// npm run backup -- [--out FILE] [--data-dir DIR] [--json]
// A consistent online copy of the embedded engine's data while the app runs and writes (SPEC §8):
// read-only, it never takes the engine's lock. Without --out the copy goes into BACKUP_DIR under
// the job's naming (backup-<UTC time>.sqlite3) and the last BACKUP_KEEP are kept.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { clock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { DATA_FILE, recordLastBackup, snapshotDataFile } from '../db/engine/datafile.ts';
import { backupFileName, pruneBackups } from '../services/backup.ts';
import { cliMain, formatBytes, printCounts } from './common.ts';

cliMain(async () => {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  const cfg = loadConfig();
  if (cfg.mongodbUri && !values['data-dir']) {
    throw new Error('已设置 MONGODB_URI：该部署请用 MongoDB 自己的备份（mongodump 或快照）；内置引擎的数据目录请用 --data-dir 指定');
  }
  const dataDir = path.resolve(values['data-dir'] ?? cfg.dataDir);
  const at = clock.now();
  const out = path.resolve(values.out ?? path.join(cfg.backupDir, backupFileName(at)));
  const report = snapshotDataFile(path.join(dataDir, DATA_FILE), out, {
    beforeRename: (tmp) => {
      // Fault injection for the tests: stop here (copy written, not yet verified nor renamed) until killed.
      if (process.env.BACKUP_FAULT === 'hold') {
        process.stdout.write(`HOLD ${tmp}\n`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
    },
  });
  recordLastBackup(dataDir, { file: out, at: at.toISOString(), bytes: report.bytes });
  if (!values.out) pruneBackups(cfg.backupDir, cfg.backupKeep);
  if (values.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  process.stdout.write(`备份完成（已校验）：${out}\n大小 ${formatBytes(report.bytes)}，用时 ${report.ms} ms，${report.documents} 个文档\n`);
  printCounts(report.collections);
});
