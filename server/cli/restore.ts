// npm run restore -- --from FILE [--data-dir DIR]
// Restores a backup into an EMPTY data directory (refuses one with anything in it), verifies the copy
// (SQLite integrity check, documents per collection) and prints what it restored. Start the app
// with DATA_DIR=DIR afterwards.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { recordLastBackup, restoreDataFile } from '../db/engine/datafile.ts';
import { cliMain, formatBytes, printCounts } from './common.ts';

cliMain(async () => {
  const { values } = parseArgs({
    options: { from: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  if (!values.from) throw new Error('请用 --from FILE 指定备份文件');
  const dataDir = path.resolve(values['data-dir'] ?? loadConfig().dataDir);
  const from = path.resolve(values.from);
  const report = restoreDataFile(from, dataDir);
  // Until the next backup, the one restored from is this directory's last good backup.
  recordLastBackup(dataDir, { file: from, at: fs.statSync(from).mtime.toISOString(), bytes: fs.statSync(from).size });
  if (values.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  process.stdout.write(`已恢复（已校验）：${from} → ${dataDir}\n大小 ${formatBytes(report.bytes)}，${report.documents} 个文档\n`);
  printCounts(report.collections);
  process.stdout.write(`启动：DATA_DIR=${dataDir} npm start\n`);
});
