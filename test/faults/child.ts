// Child process for the fault tests: the real services on a real DATA_DIR (embedded engine in this
// process), or on MONGODB_URI (an engine hosted by another process, as several app instances share
// one database). The business clock is fixed by FAULT_NOW so that every run of the same operation
// gives the same stored data. Usage:
//   tsx test/faults/child.ts <mode> <dataDir> [arg]
// modes:
//   seed <units>   units, 2026Q3 returns published (history for A3), 2026Q4 returns (some late)
//   score-loop     MID (state found at start), then runs the score job for 2026Q4 again and again,
//                  printing TICK after each (until killed)
//   score-once     MID, one score job run for 2026Q4, then SNAP
//   publish        publishes 2026Q4 (prints DONE), then idles until killed
//   finish         the "next run" after a crash: MID, publish 2026Q4 unless final, run the accountability job, SNAP
//   snapshot       SNAP only
//   engine         hosts the engine on dataDir; prints URI <uri>; serves until killed
//   tick <id>      a scheduler instance <id> ticks once: prints RUNS <json>, then SNAP
//   manual-hang    runs the score job manually until a run is seen `running`, prints RUNNING <id> and
//                  freezes (to be SIGKILLed mid-run)
//   manual-after   a restarted instance: startJobs' clean-up, prints RUNS <json>, one manual score run, prints NEW <json>
import fs from 'node:fs';
import { clock } from '../../server/clock.ts';
import { connectDb, ensureIndexes } from '../../server/db/connect.ts';
import { openPeriod } from '../../server/services/periods.ts';
import { startEngine } from '../../server/db/engine/index.ts';
import { setLogLevel } from '../../server/log.ts';
import '../../server/app.ts'; // registers every model
import { AuditLog } from '../../server/models/audit-log.ts';
import { Case } from '../../server/models/case.ts';
import { JobLease } from '../../server/models/job-lease.ts';
import { JobRun } from '../../server/models/job-run.ts';
import { Notice } from '../../server/models/notice.ts';
import { Period } from '../../server/models/period.ts';
import { ResultRow, ResultSet } from '../../server/models/result.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { Unit } from '../../server/models/unit.ts';
import { runAccountabilityJob } from '../../server/services/accountability.ts';
import { computeAndStore } from '../../server/results/compute.ts';
import { publishPeriod as publish, runScoreJob, SYSTEM_ACTOR } from '../../server/results/publication.ts';
import { getResults } from '../../server/results/read.ts';
import { scaleReturns, scaleUnits } from '../../bench/scale.ts';

export const P = '2026Q4';
export const PREV = '2026Q3';

const [mode, dataDir, arg] = process.argv.slice(2);
if (!mode || !dataDir) throw new Error('usage: child.ts <mode> <dataDir> [arg]');
setLogLevel('silent');
// Synchronous and whole: a line is entirely in the pipe before the next step, so a SIGKILL or
// process.exit never cuts a large snapshot line short (at FAULT_UNITS=1000 a line is ≈ 0.6 MB, far over
// the pipe's buffer). The pipe may be non-blocking: partial writes and EAGAIN are retried.
function out(tag: string, x?: unknown): void {
  const bytes = Buffer.from(`${tag}${x === undefined ? '' : ` ${JSON.stringify(x)}`}\n`);
  for (let off = 0; off < bytes.length; ) {
    try {
      off += fs.writeSync(1, bytes, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}
const fixed = (iso: string) => clock.set(() => new Date(iso));
if (process.env.FAULT_NOW) fixed(process.env.FAULT_NOW);
const forever = () => new Promise<never>(() => setInterval(() => {}, 1 << 30));

if (mode === 'engine') {
  fs.mkdirSync(dataDir, { recursive: true });
  const engine = await startEngine({ dataDir, port: 0, host: '127.0.0.1' });
  out('URI', engine.uri);
  await forever();
}

const db = await connectDb({ dataDir, mongodbUri: process.env.MONGODB_URI || undefined, dbName: 'assessment' });
await ensureIndexes();

/** The state a user can observe, normalised (no ids, no wall-clock times), plus consistency facts. */
async function snapshot() {
  const sets = await ResultSet.find({}).sort({ period: 1 }).lean();
  const consistency = [];
  for (const s of sets) {
    const rows = await ResultRow.countDocuments({ period: s.period, computeId: s.computeId });
    const strays = await ResultRow.countDocuments({ period: s.period, computeId: { $ne: s.computeId } });
    consistency.push({ period: s.period, status: s.status, rowCount: s.rowCount, rows, strays });
  }
  const results = sets.some((s) => s.period === P) ? await getResults(P) : null;
  const cases = (await Case.find({}).sort({ period: 1, unit: 1, rule: 1 }).lean()).map((c) => ({
    period: c.period, unit: c.unit, rule: c.rule, type: c.type, status: c.status, dueAt: c.dueAt?.toISOString() ?? null,
    openedAt: c.openedAt.toISOString(), reason: c.reason, history: (c.history ?? []).length,
  }));
  const notices = await Notice.find({ kind: 'case' }, { key: 1 }).lean();
  const periodDoc = await Period.findOne({ period: P }).lean();
  return {
    results: results && { period: results.period, status: results.status, schemeVersion: results.schemeVersion, publishedAt: results.publishedAt, results: results.results },
    consistency,
    cases,
    caseNotices: notices.length,
    caseNoticeKeys: new Set(notices.map((x) => (x as { key?: string }).key)).size,
    periodPublishedAt: periodDoc?.publishedAt?.toISOString() ?? null,
    publishAudits: await AuditLog.countDocuments({ action: 'results.publish', entityId: P }),
    runs: (await JobRun.find({}).sort({ job: 1, startedAt: 1 }).lean()).map((r) => ({ job: r.job, trigger: r.trigger, slot: r.slot?.toISOString() ?? null, instance: r.instance, outcome: r.outcome, error: r.error ?? null })),
    leases: (await JobLease.find({}).sort({ _id: 1 }).lean()).map((l) => ({ job: String(l._id), holder: l.holder, slot: l.slot?.toISOString() ?? null, done: l.done })),
  };
}

try {
  if (mode === 'seed') {
    const units = scaleUnits(Number(arg ?? 300));
    for (const period of [PREV, P]) await openPeriod({ username: 'seed' }, period);
    await Unit.insertMany(units.map((u) => ({ ...u, active: true })));
    const doc = (period: string, r: { code: string; values: object }, at: Date) => ({ unit: r.code, period, revision: 1, values: r.values, source: 'api', submittedBy: 'seed', submittedAt: at, committed: true, batch: null, file: null, review: null });
    await ReturnRevision.insertMany(scaleReturns(units, { seed: 2, missingRate: 0.05 }).map((r) => doc(PREV, r, new Date('2026-10-10T02:00:00Z'))));
    await ReturnRevision.insertMany(
      scaleReturns(units, { seed: 1, missingRate: 0.05 }).map((r, i) => doc(P, r, new Date(i % 20 === 0 ? '2027-01-16T02:00:00Z' : '2026-12-20T02:00:00Z'))),
    );
    fixed('2026-10-25T02:00:00Z');
    await publish(SYSTEM_ACTOR, PREV);
    out('DONE');
  } else if (mode === 'score-loop') {
    out('MID', await snapshot());
    out('START');
    for (let i = 0; ; i++) {
      await runScoreJob({ period: P });
      out('TICK', i);
    }
  } else if (mode === 'score-once') {
    out('MID', await snapshot());
    await runScoreJob({ period: P });
    out('SNAP', await snapshot());
  } else if (mode === 'publish') {
    out('START');
    await publish(SYSTEM_ACTOR, P);
    out('DONE');
    await forever();
  } else if (mode === 'finish') {
    out('MID', await snapshot());
    const set = await ResultSet.findOne({ period: P }).lean();
    if (set?.status !== 'final') await publish(SYSTEM_ACTOR, P);
    await runAccountabilityJob({});
    out('SNAP', await snapshot());
  } else if (mode === 'snapshot') {
    out('SNAP', await snapshot());
  } else if (mode === 'tick') {
    const { Scheduler } = await import('../../jobs/scheduler.ts');
    const s = new Scheduler({ instanceId: arg, leaseMs: Number(process.env.LEASE_MS ?? 3000), timezone: 'Asia/Shanghai' });
    const runs = await s.tick();
    out('RUNS', runs.map((r) => ({ job: r.job, outcome: r.outcome, trigger: r.trigger, error: r.error })));
    await s.stop();
    out('SNAP', await snapshot());
  } else if (mode === 'manual-hang') {
    const { runJobNow } = await import('../../server/services/jobs.ts');
    for (;;) {
      let settled = false;
      const p = runJobNow('score', { period: P }, 'admin').finally(() => (settled = true));
      while (!settled) {
        const r = await JobRun.findOne({ outcome: 'running', pid: process.pid }).lean();
        if (r) {
          out('RUNNING', String(r._id));
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // frozen mid-run until killed
        }
      }
      await p;
    }
  } else if (mode === 'manual-after') {
    const { reapInterruptedRuns, listRuns, runJobNow } = await import('../../server/services/jobs.ts');
    await reapInterruptedRuns();
    out('RUNS', await listRuns());
    out('NEW', await runJobNow('score', { period: P }, 'admin'));
  } else if (mode === 'compute') {
    await computeAndStore(P);
    out('DONE');
  } else throw new Error(`unknown mode ${mode}`);
} finally {
  await db.close();
}
process.exit(0);
