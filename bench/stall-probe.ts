// Ad-hoc: the longest event-loop stall of one annual computation at scale, with a CPU profile.
//   npx tsx bench/stall-probe.ts <dataDir> [profile.cpuprofile]
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { clock } from '../server/clock.ts';
import { connectDb, ensureIndexes } from '../server/db/connect.ts';
import { setLogLevel } from '../server/log.ts';
import { annualPage } from '../server/pages/annual.ts';

const [dataDir, profile] = process.argv.slice(2);
setLogLevel('silent');
await connectDb({ dataDir: dataDir! });
await ensureIndexes();
clock.set(() => new Date('2027-01-18T02:00:00Z'));
const v = { username: 'probe', role: 'office' as const };
await annualPage(v, '2026', 'county'); // warm: snapshots cached, code compiled
const gaps: { ms: number; fromUs: number; toUs: number }[] = [];
const us = () => Number(process.hrtime.bigint() / 1000n);
let last = us();
let on = true;
const tick = () => {
  const now = us();
  gaps.push({ ms: (now - last) / 1000, fromUs: last, toUs: now });
  last = now;
  if (on) setImmediate(tick);
};
const session = profile ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
}
setImmediate(tick);
const t0 = performance.now();
await annualPage(v, '2026', 'county');
const ms = performance.now() - t0;
on = false;
if (session) fs.writeFileSync(profile!, JSON.stringify((await session.post('Profiler.stop')).profile));
gaps.sort((a, b) => b.ms - a.ms);
console.log(`annual page model: ${ms.toFixed(0)} ms; longest stalls ${gaps.slice(0, 5).map((g) => g.ms.toFixed(0)).join(', ')} ms`);
if (profile) fs.writeFileSync(`${profile}.gaps.json`, JSON.stringify(gaps.slice(0, 5)));
process.exit(0);
