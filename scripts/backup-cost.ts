// What an online backup costs at a given size: time, size, and how long requests waited meanwhile.
//   tsx scripts/backup-cost.ts DATA_DIR [--demo]
// --demo loads the demo province into an empty DATA_DIR first (else use a populated one, e.g. from
// `npm run bench -- --sizes 10000 --keep`). Starts the app on DATA_DIR (ephemeral port), then for
// the same number of seconds before and during `npm run backup` (child process, as the job runs it)
// sends PUT + GET of returns back to back, and prints the latencies and the backup's figures.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { connectDb, ensureIndexes } from '../server/db/connect.ts';
import { setLogLevel } from '../server/log.ts';
import { backupInChild } from '../server/services/backup.ts';
import { createUser } from '../server/services/users.ts';
import { scaleValues } from '../bench/scale.ts';

const dataDir = path.resolve(process.argv[2] ?? '');
if (!process.argv[2]) throw new Error('usage: tsx scripts/backup-cost.ts DATA_DIR [--demo]');
const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai' });
setLogLevel('silent');
const db = await connectDb({ dataDir, dbName: config.dbName });
const app = await createApp({ config });
await ensureIndexes();
if (process.argv.includes('--demo')) {
  const { loadDemoData } = await import('../server/services/demo.ts');
  await loadDemoData();
}
const server = http.createServer(app);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const user = `cost-${Date.now()}`;
await createUser({ username: user, password: 'cost-password-1', role: 'admin' }, { checkUnit: false });
const token = (await (await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password: 'cost-password-1' }) })).json()).token as string;
const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const units = (await (await fetch(`${base}/api/v1/units`, { headers: h })).json()) as { code: string }[];
const period = '2027Q1';

async function load(until: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; !until(); i++) {
    const code = units[i % units.length]!.code;
    const t0 = performance.now();
    const put = await fetch(`${base}/api/v1/returns/${period}/${code}`, { method: 'PUT', headers: h, body: JSON.stringify({ values: scaleValues(i) }) });
    await put.arrayBuffer();
    if (put.status !== 200) throw new Error(`PUT ${put.status}`);
    const get = await fetch(`${base}/api/v1/returns/${period}/${code}`, { headers: h });
    await get.arrayBuffer();
    ms.push(performance.now() - t0);
  }
  return ms;
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
  return `${s.length} PUT+GET pairs, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${s[s.length - 1]!.toFixed(1)} ms`;
};

const dbFile = path.join(dataDir, 'engine.sqlite3');
const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'backup-cost-')), 'b.sqlite3');
const t0 = performance.now();
let done = false;
const duringP = load(() => done);
const report = await backupInChild({ dataDir, out }).finally(() => (done = true));
const wall = performance.now() - t0;
const during = await duringP;
const windowMs = wall;
const t1 = performance.now();
const before = await load(() => performance.now() - t1 > windowMs);
console.log(JSON.stringify({ units: units.length, dataFileBytes: fs.statSync(dbFile).size, backupBytes: report.bytes, documents: report.documents, snapshotAndVerifyMs: report.ms, wallMsWithChildStart: Math.round(wall) }));
console.log(`without backup: ${stats(before)}`);
console.log(`during backup:  ${stats(during)}`);
fs.rmSync(path.dirname(out), { recursive: true, force: true });
server.close();
await db.close();
process.exit(0);
