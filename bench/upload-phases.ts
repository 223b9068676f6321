// The upload alone against our reader, in one process, same run (issue 19 item 4):
//   npx tsx bench/upload-phases.ts [units=5000] [rounds=3] [warn|calm]
// Seeds n units and the previous quarter's returns, then uploads the same province's file `rounds`
// times (revision 2, 3, …), each time right after our reader read it warm. `calm`: the file repeats
// the previous quarter's values (no plausibility warning: a typical quarter); `warn`: independent
// values (≈ 6 warnings a row: the bench's worst case). Prints each round and the median ratio.
// Add `node --cpu-prof` (NODE_OPTIONS) to profile.
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { clock } from '../server/clock.ts';
import { loadConfig } from '../server/config.ts';
import { applyHeapGrowth } from '../server/heap.ts';
import { connectDb, ensureIndexes } from '../server/db/connect.ts';
import { setLogLevel } from '../server/log.ts';
import { readDataSheet } from '../server/excel/xlsx-reader.ts';
import { ReturnRevision } from '../server/models/return-revision.ts';
import { Unit } from '../server/models/unit.ts';
import { openPeriod } from '../server/services/periods.ts';
import { uploadAndCommit } from '../server/services/uploads.ts';
import { scaleReturns, scaleUnits, scaleWorkbook } from './scale.ts';

const n = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 3);
const mode = process.argv[4] === 'warn' ? 'warn' : 'calm';
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'upload-phases-'));
const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai', HEAP_GROWTH_PERCENT: process.env.HEAP_GROWTH_PERCENT });
setLogLevel('silent');
// The app's heap setting (server/main.ts), for both sides: switching it between them would let the
// limit V8 computed under one rule carry over into the other (it is recomputed at each full collection).
applyHeapGrowth(config.heapGrowthPercent);
const db = await connectDb({ dataDir, mongodbUri: process.env.MONGODB_URI || undefined });
await ensureIndexes();

const PREVIOUS = '2026Q3';
const PERIOD = '2026Q4';
clock.set(() => new Date('2026-10-10T02:00:00Z'));
const units = scaleUnits(n);
for (const p of [PREVIOUS, PERIOD]) await openPeriod({ username: 'bench' }, p);
for (let i = 0; i < units.length; i += 5000) await Unit.insertMany(units.slice(i, i + 5000).map((u) => ({ ...u, active: true })), { lean: true });
const previous = scaleReturns(units, { seed: 2 });
for (let i = 0; i < previous.length; i += 5000) {
  await ReturnRevision.insertMany(
    previous.slice(i, i + 5000).map((r) => ({ unit: r.code, period: PREVIOUS, revision: 1, values: r.values, source: 'api', submittedBy: 'bench', submittedAt: clock.now(), committed: true, batch: null, file: null, review: null })),
    { lean: true },
  );
}
clock.set(() => new Date('2026-12-20T02:00:00Z'));
const rows = mode === 'calm' ? previous : scaleReturns(units, { seed: 1 });
const file = await scaleWorkbook(rows, '2026年第4季度 数据共享考核指标填报表');
const admin = { username: 'bench-admin', role: 'admin' as const };
const reader = async () => {
  const r = await readDataSheet(file, { isHeaderCell: (x) => x === '单位代码' || x === 'unit_code', keepColumns: (h) => new Set(h[0]!.cells.keys()) });
  if (!r.found) throw new Error('no header');
};
/** Wall ms; `cpu` gets the process's CPU ms (every thread: the engine, the parsing worker). */
const timed = async (fn: () => Promise<unknown>, cpu?: number[]) => {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  cpu?.push((c.user + c.system) / 1000);
  return performance.now() - t0;
};
const cpuRatios: number[] = [];
// PHASES=1: time between the temporary __phase marks in the code (not committed).
let marks: string[] = [];
let last = 0;
if (process.env.PHASES) {
  (globalThis as Record<string, unknown>).__phase = (name: string) => {
    const t = performance.now();
    if (name !== 'start') marks.push(`${name} ${(t - last).toFixed(0)}`);
    last = t;
  };
}
// Warm both sides.
await reader();
await uploadAndCommit(admin, PERIOD, await scaleWorkbook(rows.slice(0, 200), 'warm'), 'warm.xlsx');
const ratios: number[] = [];
// PROFILE=file.cpuprofile: a CPU profile of the main thread over the timed rounds only.
const profiler = process.env.PROFILE ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
for (let i = 0; i < rounds; i++) {
  const cpu: number[] = [];
  const readerMs = await timed(reader, cpu);
  let warnings = 0;
  const uploadMs = await timed(async () => void (warnings = (await uploadAndCommit(admin, PERIOD, file, 'bench.xlsx')).warnings.length), cpu);
  ratios.push(uploadMs / readerMs);
  cpuRatios.push(cpu[1]! / cpu[0]!);
  if (marks.length) console.log('  ' + marks.join(' · '));
  marks = [];
  console.log(`round ${i + 1}: upload ${uploadMs.toFixed(0)} ms (CPU ${cpu[1]!.toFixed(0)}), reader ${readerMs.toFixed(0)} ms (CPU ${cpu[0]!.toFixed(0)}), ratio ${(uploadMs / readerMs).toFixed(2)}× (CPU ${(cpu[1]! / cpu[0]!).toFixed(2)}×), ${rows.length} rows, ${warnings} warnings`);
}
if (profiler) fs.writeFileSync(process.env.PROFILE!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
ratios.sort((a, b) => a - b);
cpuRatios.sort((a, b) => a - b);
console.log(`median ratio ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}× (CPU ${cpuRatios[Math.floor(cpuRatios.length / 2)]!.toFixed(2)}×; ${mode}, ${n} units), peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
await db.close();
fs.rmSync(dataDir, { recursive: true, force: true });
