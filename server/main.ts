// Start-up: configuration → database (embedded engine unless MONGODB_URI) → indexes → first admin
// → demo data (DEMO_DATA=1, empty database) → app → jobs → listen. Graceful shutdown on
// SIGTERM/SIGINT: stop accepting, finish in-flight requests, stop jobs, close the database and engine.
import fs from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// Only the configuration (and the heap setting it carries) is loaded before it is validated: a bad one
// fails at once. The rest (app, models, engine) is imported after.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { applyHeapGrowth } from './heap.ts';
import type { DbHandle } from './db/connect.ts';

const SHUTDOWN_TIMEOUT_MS = 20_000;

type Log = typeof import('./log.ts').log;
let logger: Log | null = null;

/** DEMO_DATA=1 on an empty database (no units yet): load the demo province. */
async function maybeLoadDemo(config: Config, log: Log): Promise<void> {
  if (!config.demoData) return;
  const { Unit } = await import('./models/unit.ts');
  if (await Unit.exists({})) {
    log.info('DEMO_DATA: the database is not empty, demo data not loaded');
    return;
  }
  const { loadDemoData } = await import('./services/demo.ts');
  log.info('loading demo data…');
  const result = await loadDemoData();
  // The accounts' passwords go to the console once, not into the JSON log.
  const { lines, accounts: _accounts, ...summary } = result ?? {};
  log.info({ result: summary }, 'demo data loaded');
  if (Array.isArray(lines)) process.stdout.write(`${lines.join('\n')}\n`);
}

/** The scheduled jobs and housekeeping (jobs/); JOBS=0 leaves them to other instances. */
async function startJobsUnlessDisabled(config: Config) {
  if (process.env.JOBS === '0') return null;
  const { startJobs } = await import('../jobs/index.ts');
  return startJobs({ timezone: config.tz });
}

function fail(message: string): never {
  process.stderr.write(`${message.split('\n')[0]}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(`配置错误：${err.message}`);
    throw err;
  }
  applyHeapGrowth(config.heapGrowthPercent);
  process.env.TZ = config.tz; // Node's local time (Date, node-cron defaults) follows the configured zone
  process.env.LOG_LEVEL = config.logLevel;
  const { log, setLogLevel } = await import('./log.ts');
  setLogLevel(config.logLevel);
  logger = log;
  const { connectDb, ensureIndexes } = await import('./db/connect.ts');
  const { createApp } = await import('./app.ts');
  const { ensureFirstAdmin } = await import('./services/users.ts');

  let db: DbHandle;
  try {
    if (!config.mongodbUri) fs.mkdirSync(config.dataDir, { recursive: true });
    db = await connectDb({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, dbName: config.dbName });
  } catch (err) {
    fail(`无法连接数据库：${(err as Error).message}`);
  }

  const app = await createApp({ config });
  await ensureIndexes();
  const { prepareDatabase } = await import('./boot.ts');
  await prepareDatabase();
  if (await ensureFirstAdmin(config.adminPassword)) process.stdout.write('已创建管理员账号 admin（密码来自 ADMIN_PASSWORD）\n');
  await maybeLoadDemo(config, log);
  // The calendar opens the quarters that are due (also done by the nightly score job), then provisional
  // results follow every change (jobs/freshness.ts; on every instance, one at a time through a lease).
  const { openDueQuartersWithResults } = await import('./results/publication.ts');
  const openedNow = await openDueQuartersWithResults();
  if (openedNow.length) log.info({ periods: openedNow }, 'calendar: periods opened');
  const { startFreshness } = await import('../jobs/freshness.ts');
  const freshness = startFreshness({ delayMs: config.recomputeDelayMs });
  const jobs = await startJobsUnlessDisabled(config);

  const server: Server = await new Promise<Server>((resolve, reject) => {
    const s = http.createServer(app);
    s.once('error', reject);
    if (config.host) s.listen(config.port, config.host, () => resolve(s));
    else s.listen(config.port, () => resolve(s));
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') fail(`端口 ${config.port} 已被占用（PORT）`);
    if (err.code === 'EACCES') fail(`无权监听端口 ${config.port}（PORT）`);
    throw err;
  });
  server.keepAliveTimeout = 5000;

  const port = (server.address() as AddressInfo).port;
  const shownHost = !config.host || config.host === '::' || config.host === '0.0.0.0' ? 'localhost' : config.host;
  log.info({ port, embedded: db.embedded, dataDir: db.embedded ? config.dataDir : undefined, tz: config.tz }, 'listening');
  process.stdout.write(`数据共享考核平台已启动：http://${shownHost}:${port}/\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('shutdown timed out: closing remaining connections');
      server.closeAllConnections();
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    force.unref();
    // Stop accepting; idle keep-alive sockets are closed now, busy ones as soon as their response is sent.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    await closed;
    clearInterval(sweep);
    try {
      if (jobs) await jobs.stop();
      await freshness.stop();
    } catch (err) {
      log.error({ err }, 'stopping jobs failed');
    }
    await db.close();
    clearTimeout(force);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  logger?.fatal({ err }, 'start-up failed');
  fail(`启动失败：${(err as Error)?.message ?? String(err)}`);
});
