// The engine's cost of an upload's writes alone, through the driver, in process (issue 19 item 4):
//   npx tsx bench/engine-writes.ts [rows=5000] [rounds=3]
// Each round: the batch record (rows with values) inserted, the revisions and the audit entries
// inserted ≤ 1 000 a command into the app's collections (its indexes), the batch updated twice
// (commit record with `accepted`, finalized) — the documents an upload writes, without the upload's
// logic. PROFILE=file.cpuprofile profiles the rounds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import mongoose from 'mongoose';
import { connectDb, ensureIndexes } from '../server/db/connect.ts';
import { setLogLevel } from '../server/log.ts';
import { scaleReturns, scaleUnits } from './scale.ts';

const n = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 3);
setLogLevel('silent');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-writes-'));
const db = await connectDb({ dataDir });
await ensureIndexes();
const raw = mongoose.connection.db!;
const rows = scaleReturns(scaleUnits(n), { seed: 1 });
const phases = new Map<string, number[]>();
const timed = async (name: string, fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  phases.set(name, [...(phases.get(name) ?? []), ms]);
};
async function round(r: number) {
  const batch = new mongoose.Types.ObjectId();
  const at = new Date();
  await timed('batch insert', () => raw.collection('upload_batches').insertOne({ _id: batch, period: '2026Q4', status: 'pending', source: 'excel', createdBy: 'bench', createdAt: at, rows: rows.map((x, i) => (process.env.SLIM ? { unit: x.code, row: i + 3 } : { unit: x.code, row: i + 3, values: x.values })), accepted: [] }));
  const revs = rows.map((x) => ({ _id: new mongoose.Types.ObjectId(), source: 'excel', submittedBy: 'bench', batch, committed: false, file: null, unit: x.code, period: '2026Q4', values: x.values, revision: r + 1, submittedAt: at, review: null }));
  await timed('revisions', async () => {
    for (let i = 0; i < revs.length; i += 1000) await raw.collection('returns').insertMany(revs.slice(i, i + 1000), { ordered: false });
  });
  const accepted = rows.map((x) => ({ unit: x.code, revision: r + 1 }));
  await timed('commit record', () => raw.collection('upload_batches').updateOne({ _id: batch, status: 'pending' }, { $set: { status: 'committed', committedAt: at, accepted } }));
  const audits = rows.map((x) => ({ _id: new mongoose.Types.ObjectId(), at, actor: 'bench', actorRole: null, action: 'return.submit', entity: 'return', entityId: `2026Q4/${x.code}`, before: null, after: { revision: r + 1, values: x.values, source: 'excel', batch: String(batch) }, key: `batch:${String(batch)}:${x.code}`, __v: 0 }));
  await timed('audit', async () => {
    for (let i = 0; i < audits.length; i += 1000) await raw.collection('audit_log').insertMany(audits.slice(i, i + 1000), { ordered: false });
  });
  await timed('finalized', () => raw.collection('upload_batches').updateOne({ _id: batch }, { $set: { finalized: true } }));
}
await round(0);
phases.clear();
const profiler = process.env.PROFILE ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
for (let r = 1; r <= rounds; r++) await round(r);
if (profiler) fs.writeFileSync(process.env.PROFILE!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log([...phases].map(([k, v]) => `${k} ${median(v).toFixed(0)} ms`).join(' · '), `(${rows.length} rows, median of ${rounds}; load ${os.loadavg()[0]!.toFixed(1)})`);
await db.close();
fs.rmSync(dataDir, { recursive: true, force: true });
