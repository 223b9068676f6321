// The read side at scale, measured alone (issue 19 item 1: the ranking page and the results API in
// ≤ 500 MB at 50 000 units, with the database in its own process):
//
//   tsx bench/read-side.ts seed  <dataDir> <units>        # once: units, two scored quarters (engine in process)
//   tsx bench/read-side.ts run   <dataDir> <units> [--code dir]… [--urls page,api,…] [--seconds s] [--rounds r]
//
// `run` hosts the engine on dataDir in its own process (bench/engine-host.ts) and, for each URL and each
// code tree (--code: a checkout of the app, default this one; give two to compare builds in the same
// run), starts a fresh app process (`serve`), loads that one URL with autocannon (--connections, default 10) and
// reports the app's peak RSS while serving it (VmHWM of a process that served nothing else), its req/s,
// the longest and p99 wait of /healthz on one more connection during the load (how long the URL's work
// holds other requests up), and /healthz's req/s alone afterwards. Rounds alternate the code trees, so a before/after pair shares
// the machine's load.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PERIOD = '2026Q4';
const PREVIOUS = '2026Q3';

const [mode, dataDir, nArg, ...rest] = process.argv.slice(2);
if (!mode || !dataDir) throw new Error('usage: tsx bench/read-side.ts <seed|run|serve> <dataDir> <units> [options]');
const n = Number(nArg ?? 1000);

/** The app's modules from a code tree (the current one or another checkout: before/after builds). */
async function appModules(root: string) {
  const m = (p: string) => import(pathToFileURL(path.join(root, p)).href);
  return {
    app: await m('server/app.ts'),
    clock: await m('server/clock.ts'),
    config: await m('server/config.ts'),
    connect: await m('server/db/connect.ts'),
    log: await m('server/log.ts'),
    users: await m('server/services/users.ts'),
    // Older trees (a baseline checkout) have no heap setting: they run under V8's own rule.
    heap: fs.existsSync(path.join(root, 'server/heap.ts')) ? await m('server/heap.ts') : null,
  };
}

async function seed() {
  const root = path.resolve(HERE, '..');
  const { clock } = await import('../server/clock.ts');
  const { loadConfig } = await import('../server/config.ts');
  const { connectDb, ensureIndexes } = await import('../server/db/connect.ts');
  const { setLogLevel } = await import('../server/log.ts');
  const { Unit } = await import('../server/models/unit.ts');
  const { ReturnRevision } = await import('../server/models/return-revision.ts');
  const { computeAndStore } = await import('../server/results/compute.ts');
  const { openPeriod } = await import('../server/services/periods.ts');
  const { scaleReturns, scaleUnits } = await import('./scale.ts');
  void root;
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai' });
  setLogLevel('silent');
  fs.mkdirSync(dataDir!, { recursive: true });
  const db = await connectDb({ dataDir: dataDir!, dbName: config.dbName });
  await ensureIndexes();
  const units = scaleUnits(n);
  for (const p of [PREVIOUS, PERIOD]) await openPeriod({ username: 'bench' }, p);
  for (let i = 0; i < units.length; i += 5000) await Unit.insertMany(units.slice(i, i + 5000).map((u) => ({ ...u, active: true })), { lean: true });
  const insertReturns = async (period: string, seedNo: number, at: Date) => {
    const rows = scaleReturns(units, { seed: seedNo });
    for (let i = 0; i < rows.length; i += 5000) {
      await ReturnRevision.insertMany(
        rows.slice(i, i + 5000).map((r) => ({ unit: r.code, period, revision: 1, values: r.values, source: 'api', submittedBy: 'bench', submittedAt: at, committed: true, batch: null, file: null, review: null })),
        { lean: true },
      );
    }
  };
  clock.set(() => new Date('2026-10-20T02:00:00Z'));
  await insertReturns(PREVIOUS, 2, new Date('2026-10-10T02:00:00Z'));
  await computeAndStore(PREVIOUS);
  clock.set(() => new Date('2027-01-18T02:00:00Z'));
  await insertReturns(PERIOD, 1, new Date('2026-12-20T02:00:00Z'));
  await computeAndStore(PERIOD);
  await db.close();
  console.log(`seeded ${n} units in ${dataDir}`);
}

/** An app on the engine at MONGODB_URI, from code tree `root`; prints READY, then RESULT on "stop". */
async function serve(root: string) {
  const m = await appModules(root);
  const config = m.config.loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai', HEAP_GROWTH_PERCENT: process.env.HEAP_GROWTH_PERCENT });
  m.heap?.applyHeapGrowth(config.heapGrowthPercent); // as at the app's start (server/main.ts)
  m.log.setLogLevel('silent');
  const db = await m.connect.connectDb({ dataDir, mongodbUri: process.env.MONGODB_URI, dbName: config.dbName });
  await m.connect.ensureIndexes();
  m.clock.clock.set(() => new Date('2027-01-18T02:00:00Z'));
  const app = await m.app.createApp({ config });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const username = `bench-read-${process.pid}`;
  await m.users.createUser({ username, password: 'bench-password-1', role: 'office' }, { checkUnit: false });
  const tok = await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'bench-password-1' }) });
  const token = ((await tok.json()) as { token: string }).token;
  const loginPage = await fetch(`${base}/login`);
  const jar = loginPage.headers.getSetCookie().map((c) => /^([^=;\s]+=[^;]*)/.exec(c)?.[1]).filter(Boolean).join('; ');
  const csrf = /<meta name="csrf-token" content="([^"]*)"/.exec(await loginPage.text())?.[1] ?? '';
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(jar ? { cookie: jar } : {}) },
    body: new URLSearchParams({ username, password: 'bench-password-1', _csrf: csrf }).toString(),
    redirect: 'manual',
  });
  const sid = /sid=([^;]*)/.exec(login.headers.getSetCookie().join(';'))?.[1];
  if (login.status !== 303 || !sid) throw new Error(`login failed: ${login.status}`);
  const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
  process.stdout.write(`READY ${JSON.stringify({ base, token, cookie: `sid=${sid}`, restRssMb: rssMb() })}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  // A line, or the parent gone (stdin closed): report and exit.
  await new Promise<void>((resolve) => rl.on('line', () => resolve()).on('close', () => resolve()));
  rl.close();
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  process.stdout.write(`RESULT ${JSON.stringify({ peakRssMb: Math.round(hwm), endRssMb: rssMb() })}\n`);
  server.closeAllConnections();
  server.close();
  await db.close();
  process.exit(0);
}

function lines(proc: ChildProcess) {
  const rl = readline.createInterface({ input: proc.stdout! });
  return rl[Symbol.asyncIterator]();
}
async function lineWith(it: AsyncIterableIterator<string>, prefix: string, err: () => string): Promise<any> {
  for (;;) {
    const { value, done } = await it.next();
    if (done) throw new Error(`exited before ${prefix}: ${err().slice(-3000)}`);
    if (value.startsWith(prefix + ' ')) return JSON.parse(value.slice(prefix.length + 1));
  }
}

const URLS: Record<string, (ready: { token: string; cookie: string }) => { path: string; headers: Record<string, string> }> = {
  page: (r) => ({ path: `/ranking?period=${PERIOD}&category=county`, headers: { cookie: r.cookie, accept: 'text/html' } }),
  pageDept: (r) => ({ path: `/ranking?period=${PERIOD}`, headers: { cookie: r.cookie, accept: 'text/html' } }),
  pageByName: (r) => ({ path: `/ranking?period=${PERIOD}&category=county&sort=name&dir=asc`, headers: { cookie: r.cookie, accept: 'text/html' } }),
  api: (r) => ({ path: `/api/v1/results/${PERIOD}`, headers: { authorization: `Bearer ${r.token}` } }),
  apiGzip: (r) => ({ path: `/api/v1/results/${PERIOD}`, headers: { authorization: `Bearer ${r.token}`, 'accept-encoding': 'gzip' } }),
  apiCounty: (r) => ({ path: `/api/v1/results/${PERIOD}?category=county`, headers: { authorization: `Bearer ${r.token}` } }),
  annual: (r) => ({ path: `/annual?year=2026&category=county`, headers: { cookie: r.cookie, accept: 'text/html' } }),
  overview: (r) => ({ path: `/?period=${PERIOD}`, headers: { cookie: r.cookie, accept: 'text/html' } }),
  annualApi: (r) => ({ path: `/api/v1/years/2026/results`, headers: { authorization: `Bearer ${r.token}` } }),
  annualSheet: (r) => ({ path: `/api/v1/years/2026/sheet.xlsx`, headers: { authorization: `Bearer ${r.token}` } }),
};

async function run() {
  const opt = (name: string): string[] => rest.flatMap((a, i) => (a === name && rest[i + 1] ? [rest[i + 1]!] : []));
  const codes = opt('--code').map((c) => path.resolve(c));
  if (!codes.length) codes.push(path.resolve(HERE, '..'));
  const urls = (opt('--urls')[0] ?? 'page,api').split(',');
  const seconds = Number(opt('--seconds')[0] ?? 10);
  const rounds = Number(opt('--rounds')[0] ?? 1);
  const connections = Number(opt('--connections')[0] ?? 10);
  const { default: autocannon } = await import('autocannon');
  console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ${n} units; ${seconds} s a URL, ${connections} connections, ${rounds} round(s)`);
  const host = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'engine-host.ts'), dataDir!], { stdio: ['ignore', 'pipe', 'inherit'] });
  const uri = await lineWith(lines(host), 'URI', () => '');
  const load = async (url: string, headers: Record<string, string>) => {
    const r = await autocannon({ url, headers, connections, duration: seconds, timeout: 60 });
    if (r.non2xx || r.errors || r.timeouts) console.log(`  (${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)`);
    return r.requests.average;
  };
  type Latency = { latency: { max: number; p99: number } };
  const out: Record<string, unknown>[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const url of urls) {
        for (const code of codes) {
          let err = '';
          const app = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', dataDir!, String(n), code], {
            stdio: ['pipe', 'pipe', 'pipe'],
            cwd: code,
            env: { ...process.env, LOG_LEVEL: 'silent', MONGODB_URI: uri },
          });
          app.stderr!.on('data', (d: Buffer) => void (err = (err + d.toString()).slice(-10_000)));
          const it = lines(app);
          const ready = await lineWith(it, 'READY', () => err);
          const u = URLS[url]!(ready);
          // One request alone first (the first read of the snapshot), then the load.
          const t0 = performance.now();
          const first = await fetch(`${ready.base}${u.path}`, { headers: u.headers });
          const bytes = (await first.arrayBuffer()).byteLength;
          const firstMs = performance.now() - t0;
          if (first.status !== 200) throw new Error(`${url}: ${first.status}`);
          // /healthz on one more connection during the load: how long a request waits behind this URL's work.
          const [rps, alongside] = await Promise.all([load(`${ready.base}${u.path}`, u.headers), autocannon({ url: `${ready.base}/healthz`, connections: 1, duration: seconds, timeout: 60 })]);
          const healthz = await load(`${ready.base}/healthz`, {});
          app.stdin!.write('stop\n');
          const r = await lineWith(it, 'RESULT', () => err);
          const row = { round, url, code: path.basename(code), bytes, firstMs: Math.round(firstMs), rps: +rps.toFixed(1), healthzRps: Math.round(healthz), healthzAlongsideMaxMs: Math.round((alongside as Latency).latency.max), healthzAlongsideP99Ms: Math.round((alongside as Latency).latency.p99), ratio: +(rps / healthz).toFixed(4), restRssMb: ready.restRssMb, peakRssMb: r.peakRssMb };
          console.log(JSON.stringify(row));
          out.push(row);
        }
      }
    }
  } finally {
    host.kill('SIGTERM');
  }
  console.log(`load at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

if (mode === 'seed') await seed();
else if (mode === 'serve') await serve(nArg && rest[0] ? rest[0] : path.resolve(HERE, '..'));
else if (mode === 'run') await run();
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
