// Publication at national scale, measured on its own (issue 19 item 1): the app's peak RSS and time of
// one publication with the engine in another process, and where the memory goes, phase by phase.
//
//   npx tsx bench/publish-memory.ts seed <dir> <units>   # once: units, two quarters of returns, the first
//                                                         # published (its cases open), the second scored
//   npx tsx bench/publish-memory.ts run <dir> <units> [publish|core|phases] [--digest]
//
// `run` copies <dir>/seed to <dir>/run, starts the engine on it in its own process (bench/engine-host.ts),
// publishes the second quarter in a fresh app process and prints one `RESULT <json>` line:
// - publish: publishPeriod as the API route calls it (final results + cases + the results view it answers);
// - core:    the publication without building the answer (what the nightly job does);
// - phases:  the same steps one by one, with the RSS high-water and heap used sampled per phase.
// --digest adds a SHA-256 of the publication's records (result rows, cases, notices, audit entries,
// period; without _id / computeId), to compare two builds on the same seed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const Q_PUBLISHED = '2026Q3'; // deadline 2026-10-15 +08:00
const Q = '2026Q4'; // deadline 2027-01-15 +08:00
const AT = {
  q3Returns: new Date('2026-10-10T02:00:00Z'),
  q3Published: new Date('2026-10-25T02:00:00Z'),
  q4Returns: new Date('2026-12-20T02:00:00Z'),
  q4Scored: new Date('2027-01-18T02:00:00Z'),
  q4Published: new Date('2027-01-25T02:00:00Z'),
};

const [cmd, dir, nArg, ...rest] = process.argv.slice(2);
if (!cmd || !dir) throw new Error('usage: tsx bench/publish-memory.ts <seed|run> <dir> <units> [publish|core|phases] [--digest]');
const n = Number(nArg ?? 1000);

async function appSide(dataDir: string, uri?: string) {
  const { loadConfig } = await import('../server/config.ts');
  const { setLogLevel } = await import('../server/log.ts');
  const { connectDb, ensureIndexes } = await import('../server/db/connect.ts');
  const { applyHeapGrowth } = await import('../server/heap.ts');
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai', HEAP_GROWTH_PERCENT: process.env.HEAP_GROWTH_PERCENT });
  applyHeapGrowth(config.heapGrowthPercent); // as at the app's start (server/main.ts)
  setLogLevel('silent');
  const db = await connectDb({ dataDir, mongodbUri: uri, dbName: 'assessment' });
  await ensureIndexes();
  return db;
}

async function seed() {
  const seedDir = path.join(dir!, 'seed');
  fs.rmSync(seedDir, { recursive: true, force: true });
  fs.mkdirSync(seedDir, { recursive: true });
  const db = await appSide(seedDir);
  const { clock } = await import('../server/clock.ts');
  const { Unit } = await import('../server/models/unit.ts');
  const { ReturnRevision } = await import('../server/models/return-revision.ts');
  const { openPeriod } = await import('../server/services/periods.ts');
  const { computeAndStore } = await import('../server/results/compute.ts');
  const { publishPeriod, SYSTEM_ACTOR } = await import('../server/results/publication.ts');
  const { scaleReturns, scaleUnits } = await import('./scale.ts');
  const units = scaleUnits(n);
  clock.set(() => AT.q3Returns);
  for (const p of [Q_PUBLISHED, Q]) await openPeriod({ username: 'bench' }, p);
  for (let i = 0; i < units.length; i += 5000) await Unit.insertMany(units.slice(i, i + 5000).map((u) => ({ ...u, active: true })), { lean: true });
  const insert = async (period: string, seedNo: number, at: Date) => {
    const rows = scaleReturns(units, { seed: seedNo });
    for (let i = 0; i < rows.length; i += 5000) {
      await ReturnRevision.insertMany(
        rows.slice(i, i + 5000).map((r) => ({ unit: r.code, period, revision: 1, values: r.values, source: 'api', submittedBy: 'bench', submittedAt: at, committed: true, batch: null, file: null, review: null })),
        { lean: true },
      );
    }
  };
  await insert(Q_PUBLISHED, 2, AT.q3Returns);
  clock.set(() => AT.q3Published);
  await publishPeriod(SYSTEM_ACTOR, Q_PUBLISHED);
  clock.set(() => AT.q4Returns);
  await insert(Q, 1, AT.q4Returns);
  clock.set(() => AT.q4Scored);
  await computeAndStore(Q); // the nightly job's provisional snapshot
  await db.close();
  console.log(`seeded ${n} units in ${seedDir}`);
}

/** Copies the seed, hosts the engine on the copy, runs the child; prints the child's RESULT plus the engine's high-water. */
async function run() {
  const mode = rest.find((a) => !a.startsWith('--')) ?? 'publish';
  const runDir = path.join(dir!, 'run');
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.cpSync(path.join(dir!, 'seed'), runDir, { recursive: true });
  fs.rmSync(path.join(runDir, 'engine-socket'), { recursive: true, force: true });
  const host = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'engine-host.ts'), runDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const uri = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: host.stdout! }).on('line', (l) => l.startsWith('URI ') && resolve(JSON.parse(l.slice(4))));
      host.once('exit', (code) => reject(new Error(`engine host exited ${code}`)));
    });
    const child = spawn(process.execPath, ['--import', 'tsx', ...(process.env.CHILD_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []), fileURLToPath(import.meta.url), 'child', runDir, String(n), mode, ...rest.filter((a) => a.startsWith('--'))], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, MONGODB_URI: uri, LOG_LEVEL: 'silent' },
    });
    let line = '';
    readline.createInterface({ input: child.stdout! }).on('line', (l) => (l.startsWith('RESULT ') ? (line = l.slice(7)) : console.log(l)));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0 || !line) throw new Error(`child exited ${code}`);
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${host.pid}/status`, 'utf8'));
    console.log(`RESULT ${JSON.stringify({ ...JSON.parse(line), engineHwmMb: m ? Math.round(Number(m[1]) / 1024) : null, load: fs.readFileSync('/proc/loadavg', 'utf8').trim() })}`);
  } finally {
    host.kill('SIGTERM');
  }
}

async function child() {
  const mode = rest[0] ?? 'publish';
  const db = await appSide(dir!, process.env.MONGODB_URI);
  const { clock } = await import('../server/clock.ts');
  const pub = await import('../server/results/publication.ts');
  const mb = (b: number) => Math.round(b / 1024 / 1024);
  const startMb = mb(process.memoryUsage().rss);
  clock.set(() => AT.q4Published);
  const t0 = performance.now();
  const out: Record<string, unknown> = { units: n, mode, startRssMb: startMb };
  if (mode === 'phases') {
    // The steps of publishPeriod one by one; per phase the highest RSS and heap used (sampled every 10 ms).
    const { markPublished, intakeDrained } = await import('../server/services/periods.ts');
    const { computeAndStore } = await import('../server/results/compute.ts');
    const { recordPublication } = await import('../server/results/store.ts');
    const { openCasesForPeriod } = await import('../server/services/accountability.ts');
    const { getResults } = await import('../server/results/read.ts');
    const phases: Record<string, { ms: number; rssMb: number; heapMb: number }> = {};
    let cur = { rss: 0, heap: 0 };
    const sample = () => {
      const m = process.memoryUsage();
      cur = { rss: Math.max(cur.rss, m.rss), heap: Math.max(cur.heap, m.heapUsed) };
    };
    const timer = setInterval(sample, 10);
    const phase = async (name: string, fn: () => Promise<unknown>) => {
      cur = { rss: 0, heap: 0 };
      const t = performance.now();
      await fn();
      sample();
      phases[name] = { ms: Math.round(performance.now() - t), rssMb: mb(cur.rss), heapMb: mb(cur.heap) };
    };
    await phase('freeze', async () => {
      await markPublished(Q, clock.now());
      await intakeDrained(Q);
    });
    await phase('finalScores', () => computeAndStore(Q, { final: true, by: 'system' }));
    await phase('record', () => recordPublication(Q, pub.SYSTEM_ACTOR, null));
    await phase('cases', () => openCasesForPeriod(Q));
    await phase('view', async () => (await getResults(Q)).results.length);
    clearInterval(timer);
    out.phases = phases;
  } else if (mode === 'core') {
    out.summary = await (pub as unknown as { publish: (a: unknown, p: string) => Promise<unknown> }).publish(pub.SYSTEM_ACTOR, Q);
  } else {
    out.rows = (await pub.publishPeriod(pub.SYSTEM_ACTOR, Q)).results.length;
  }
  out.ms = Math.round(performance.now() - t0);
  out.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  if (rest.includes('--digest')) out.digest = await digest();
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  await db.close();
  process.exit(0);
}

/** SHA-256 per collection of what a publication writes, in a stable order, without _id and computeId. */
async function digest(): Promise<Record<string, string | number>> {
  const mongoose = (await import('mongoose')).default;
  const raw = mongoose.connection.db!;
  const strip = (coll: string, d: Record<string, unknown>) => {
    // createdAt / updatedAt of cases: mongoose's timestamps (the real clock, not the business clock).
    const { _id, computeId, updatedAt, ...x } = d;
    if (coll === 'cases') delete x.createdAt;
    // The audit entry names the new computation (a fresh ObjectId on every run).
    if (coll === 'audit_log') {
      delete x.key;
      if (x.after && typeof x.after === 'object') delete (x.after as Record<string, unknown>).computeId;
    }
    if (Array.isArray(x.history)) x.history = x.history.map(({ _id: _h, ...h }: Record<string, unknown>) => h);
    return x;
  };
  const of = async (coll: string, filter: object, sort: Record<string, 1>) => {
    const h = createHash('sha256');
    let count = 0;
    for await (const d of raw.collection(coll).find(filter, { sort })) {
      h.update(JSON.stringify(strip(coll, d)));
      count++;
    }
    return `${count}:${h.digest('hex').slice(0, 16)}`;
  };
  return {
    resultRows: await of('result_rows', { period: Q }, { order: 1 }),
    resultSet: await of('result_sets', { period: Q }, { period: 1 }),
    cases: await of('cases', {}, { period: 1, unit: 1, rule: 1 }),
    notices: await of('notices', {}, { key: 1, unit: 1, createdAt: 1 }),
    audit: await of('audit_log', { action: 'results.publish' }, { key: 1 }),
    periods: await of('periods', {}, { period: 1 }),
  };
}

if (cmd === 'seed') await seed();
else if (cmd === 'run') await run();
else if (cmd === 'child') await child();
else throw new Error(`unknown command ${cmd}`);
