// npm run migrate -- --to URI      the embedded store under DATA_DIR → an empty MongoDB deployment
// npm run migrate -- --from URI    a MongoDB deployment → an empty DATA_DIR (e.g. a test copy of production)
// Options: --data-dir DIR (default DATA_DIR), --db NAME (default MONGODB_DB, "assessment"), --batch N.
// Stop the app first: the embedded engine is one process per data directory. Copies every collection
// with its indexes and every stored file (GridFS), refuses a non-empty target, verifies counts and a
// checksum per collection before it says done.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { DataDirInUseError, startEngine, type RunningEngine } from '../db/engine/index.ts';
import { dirHasEntries } from '../db/engine/datafile.ts';
import { migrate } from '../services/migration.ts';
import { cliMain } from './common.ts';

/** The URI without its credentials, for printing. */
const shown = (uri: string) => uri.replace(/\/\/[^@/]*@/, '//***@');

cliMain(async () => {
  const { values } = parseArgs({
    options: { to: { type: 'string' }, from: { type: 'string' }, 'data-dir': { type: 'string' }, db: { type: 'string' }, batch: { type: 'string' } },
    strict: true,
  });
  if (!values.to === !values.from) throw new Error('请用 --to URI（内置引擎 → MongoDB）或 --from URI（MongoDB → 空的 DATA_DIR）之一');
  const uri = (values.to ?? values.from)!;
  if (!/^mongodb(\+srv)?:\/\/\S+$/.test(uri)) throw new Error(`URI 必须以 mongodb:// 或 mongodb+srv:// 开头（当前为 "${uri}"）`);
  const cfg = loadConfig({ ...process.env, MONGODB_URI: undefined });
  const dataDir = path.resolve(values['data-dir'] ?? cfg.dataDir);
  const db = values.db ?? cfg.dbName;
  const batchSize = values.batch ? Number(values.batch) : 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new Error('--batch 必须是 1–100000 之间的整数');

  const reverse = Boolean(values.from);
  const createdDir = reverse && !fs.existsSync(dataDir);
  if (reverse) {
    const entries = dirHasEntries(dataDir);
    if (entries.length) throw Object.assign(new Error(`数据目录 ${dataDir} 不是空的（${entries.slice(0, 3).join('、')}），--from 只写入空的数据目录`), { code: 'data_dir_not_empty' });
  } else if (!fs.existsSync(path.join(dataDir, 'engine.sqlite3'))) {
    throw new Error(`数据目录 ${dataDir} 中没有内置引擎的数据（engine.sqlite3）`);
  }
  let engine: RunningEngine;
  try {
    engine = await startEngine({ dataDir, ttlIntervalMs: 0 });
  } catch (e) {
    if (e instanceof DataDirInUseError) throw new Error(`${e.message}：请先停止应用再迁移`);
    throw e;
  }
  let ok = false;
  try {
    process.stdout.write(reverse ? `迁移：${shown(uri)} → 内置引擎 ${dataDir}（数据库 ${db}）\n` : `迁移：内置引擎 ${dataDir} → ${shown(uri)}（数据库 ${db}）\n`);
    const report = await migrate({
      from: reverse ? uri : engine.uri,
      to: reverse ? engine.uri : uri,
      db,
      batchSize,
      progress: (line) => process.stdout.write(`  ${line}\n`),
    }).catch((e: Error & { code?: string }) => {
      if (reverse || e.code === 'target_not_empty') throw e;
      throw Object.assign(new Error(`${e.message}；目标数据库 ${db} 可能已写入部分数据，请删除它后重试`), { code: e.code });
    });
    ok = true;
    process.stdout.write(`迁移完成（已校验文档数与校验和）：${report.collections.length} 个集合，${report.documents} 个文档，${report.files} 个存储文件，用时 ${report.ms} ms\n`);
    for (const c of report.collections) process.stdout.write(`  ${c.name.padEnd(28)} ${String(c.count).padStart(8)}  ${c.checksum.slice(0, 16)}  索引 ${c.indexes.length}\n`);
    process.stdout.write(reverse ? `启动：DATA_DIR=${dataDir} npm start（不设 MONGODB_URI）\n` : `下一步：设置 MONGODB_URI=${shown(uri)}${db !== 'assessment' ? ` MONGODB_DB=${db}` : ''} 后启动应用\n`);
  } finally {
    await engine.stop();
    // A failed reverse migration leaves the data directory as it found it (empty).
    if (reverse && !ok) {
      for (const name of dirHasEntries(dataDir)) fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
      if (createdDir) fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
});
