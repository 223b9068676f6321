// Running jobs and recording every run (SPEC §5). Used by the scheduler (jobs/) and by
// POST /api/v1/jobs/:name/run. A run is recorded before it starts and closed with its outcome,
// counts or error; each job is idempotent, so a run killed half-way is repaired by the next one.
// Every run records its owning process (host, pid) and a heartbeat; a run whose owner is gone (a dead pid
// on this host, or a heartbeat older than JOB_STALE_MS from any host) is closed as failed with
// INTERRUPTED_ERROR by reapInterruptedRuns() — at start-up and before each run; listings show such runs as
// interrupted without writing.
import os from 'node:os';
import mongoose from 'mongoose';
import { clock } from '../clock.ts';
import { badRequest, notFound } from '../domain/errors.ts';
import { isQuarter } from '../domain/periods.ts';
import { shownValue } from '../domain/validation.ts';
import { JobRun } from '../models/job-run.ts';
import { runAccountabilityJob } from './accountability.ts';
import { runBackupJob } from './backup.ts';
import { runRemindJob } from './reminders.ts';
import { runScoreJob } from '../results/publication.ts';
import { pidAlive } from './process-alive.ts';

export const JOB_NAMES = ['score', 'accountability', 'remind', 'backup'] as const;
export type JobName = (typeof JOB_NAMES)[number];
export const JOB_LABELS: Readonly<Record<JobName, string>> = {
  score: '评分与发布',
  accountability: '问责（立案与逾期标记）',
  remind: '报送提醒',
  backup: '数据备份',
};

export function isJobName(x: string): x is JobName {
  return (JOB_NAMES as readonly string[]).includes(x);
}

const RUNNERS: Readonly<Record<JobName, (opts: { period?: string }) => Promise<object>>> = {
  score: runScoreJob,
  accountability: runAccountabilityJob,
  remind: runRemindJob,
  backup: runBackupJob,
};

export const INTERRUPTED_ERROR = '运行中断（进程退出）';
const HOST = os.hostname();
const HEARTBEAT_MS = Number(process.env.JOB_HEARTBEAT_MS) || 15_000;
const STALE_MS = Number(process.env.JOB_STALE_MS) || 4 * HEARTBEAT_MS;
/** Runs this process is executing right now (a recorded pid equal to ours may be a previous process's). */
const liveRuns = new Set<string>();

/** Closes every `running` run whose owning process is gone; returns how many. */
type Liveness = { host?: string | null; pid?: number | null; heartbeatAt?: Date | null; _id: unknown };

/** A run marked running whose process is gone: this process's finished one, a dead pid here, or a stale heartbeat. */
function ownerGone(r: Liveness, wallNow: number): boolean {
  if (r.host === HOST && typeof r.pid === 'number') {
    return r.pid === process.pid ? !liveRuns.has(String(r._id)) : !pidAlive(r.pid);
  }
  // Another host (or no owner recorded): only a stale heartbeat tells it is gone.
  return r.heartbeatAt instanceof Date && wallNow - r.heartbeatAt.getTime() > STALE_MS;
}

export async function reapInterruptedRuns(): Promise<number> {
  const running = await JobRun.find({ outcome: 'running' }, { host: 1, pid: 1, heartbeatAt: 1 }).lean();
  const wallNow = Date.now();
  const gone = running.filter((r) => ownerGone(r, wallNow));
  if (gone.length === 0) return 0;
  const res = await JobRun.updateMany(
    { _id: { $in: gone.map((r) => r._id) }, outcome: 'running' },
    { $set: { outcome: 'failed', finishedAt: clock.now(), error: INTERRUPTED_ERROR } },
  );
  return res.modifiedCount;
}

export interface JobRunRecord {
  id: string;
  job: string;
  trigger: 'scheduled' | 'catchup' | 'manual';
  slot: string | null;
  period: string | null;
  instance: string;
  by: string | null;
  startedAt: string;
  finishedAt: string | null;
  outcome: 'running' | 'success' | 'failed';
  counts: Record<string, number>;
  error: string | null;
}

type RunDoc = {
  _id: unknown;
  job: string;
  trigger: string;
  slot?: Date | null;
  period?: string | null;
  instance: string;
  by?: string | null;
  startedAt: Date;
  finishedAt?: Date | null;
  outcome: string;
  counts?: unknown;
  error?: string | null;
  host?: string | null;
  pid?: number | null;
  heartbeatAt?: Date | null;
};

export function runView(d: RunDoc): JobRunRecord {
  return {
    id: String(d._id),
    job: d.job,
    trigger: d.trigger as JobRunRecord['trigger'],
    slot: d.slot ? d.slot.toISOString() : null,
    period: d.period ?? null,
    instance: d.instance,
    by: d.by ?? null,
    startedAt: d.startedAt.toISOString(),
    finishedAt: d.finishedAt ? d.finishedAt.toISOString() : null,
    outcome: d.outcome as JobRunRecord['outcome'],
    counts: (d.counts as Record<string, number>) ?? {},
    error: d.error ?? null,
  };
}

export interface ExecuteOptions {
  trigger: 'scheduled' | 'catchup' | 'manual';
  slot?: Date | null;
  period?: string;
  instance: string;
  by?: string;
}

/** Runs a job now and records the run. Never throws for a job failure: the record says `failed`. */
export async function executeJob(job: JobName, opts: ExecuteOptions): Promise<JobRunRecord> {
  if (opts.trigger !== 'manual') {
    // This runner holds the job's lease, so older unfinished scheduled runs belong to a dead holder.
    await JobRun.updateMany(
      { job, outcome: 'running', trigger: { $ne: 'manual' } },
      { $set: { outcome: 'failed', finishedAt: clock.now(), error: '运行中断：执行实例失联，已由其他实例接管' } },
    );
  }
  await reapInterruptedRuns();
  const run = await JobRun.create({
    job,
    trigger: opts.trigger,
    slot: opts.slot ?? null,
    period: opts.period ?? null,
    instance: opts.instance,
    host: HOST,
    pid: process.pid,
    heartbeatAt: new Date(),
    by: opts.by ?? null,
    startedAt: clock.now(),
    outcome: 'running',
    counts: {},
  });
  const id = String(run._id);
  liveRuns.add(id);
  const heartbeat = setInterval(() => {
    JobRun.updateOne({ _id: run._id, outcome: 'running' }, { $set: { heartbeatAt: new Date() } }).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let update: Record<string, unknown>;
  try {
    const counts = await RUNNERS[job](opts.period ? { period: opts.period } : {});
    update = { outcome: 'success', counts, finishedAt: clock.now() };
  } catch (err) {
    const e = err as Error;
    update = { outcome: 'failed', error: e?.message ?? String(err), finishedAt: clock.now() };
  } finally {
    clearInterval(heartbeat);
    liveRuns.delete(id);
  }
  const doc = await JobRun.findByIdAndUpdate(run._id, { $set: update }, { returnDocument: 'after' }).lean();
  return runView(doc as RunDoc);
}

/**
 * Whether a scheduled slot of `job` already ran to success — a runner killed after recording its outcome
 * but before releasing the lease leaves the slot to be taken over; the taker then must not run it again.
 */
export async function slotSucceeded(job: JobName, slot: Date): Promise<boolean> {
  return (await JobRun.exists({ job, slot, outcome: 'success', trigger: { $ne: 'manual' } })) !== null;
}

/** POST /api/v1/jobs/:name/run: validates, runs in this request, returns the run record. */
export async function runJobNow(name: string, body: { period?: unknown }, by: string): Promise<JobRunRecord> {
  if (!isJobName(name)) throw notFound('job_not_found', `任务「${name}」不存在，可选：${JOB_NAMES.join('、')}`);
  let period: string | undefined;
  if (body.period !== undefined && body.period !== null && body.period !== '') {
    if (typeof body.period !== 'string' || !isQuarter(body.period)) {
      throw badRequest('invalid_period', `期次「${shownValue(body.period)}」无效，应为 YYYYQn 格式，如 2026Q3`);
    }
    period = body.period;
  }
  return executeJob(name, { trigger: 'manual', period, instance: `api-${process.pid}`, by });
}

/**
 * A run as a reader should see it: one whose process is gone reads as interrupted (ended at its last
 * heartbeat) although the record is closed only by the next start-up or run — a read never writes.
 */
function presentRun(d: RunDoc, wallNow: number): JobRunRecord {
  const view = runView(d);
  if (d.outcome !== 'running' || !ownerGone(d, wallNow)) return view;
  const endedAt = d.heartbeatAt ?? d.startedAt;
  return { ...view, outcome: 'failed', error: INTERRUPTED_ERROR, finishedAt: endedAt.toISOString() };
}

export async function listRuns(opts: { job?: string; limit?: number } = {}): Promise<JobRunRecord[]> {
  const q: Record<string, unknown> = {};
  if (opts.job) q.job = opts.job;
  const docs = await JobRun.find(q).sort({ startedAt: -1, _id: -1 }).limit(Math.min(opts.limit ?? 50, 500)).lean();
  const wallNow = Date.now();
  return docs.map((d) => presentRun(d as RunDoc, wallNow));
}

export async function getRun(id: string): Promise<JobRunRecord> {
  if (!mongoose.isValidObjectId(id)) throw notFound('job_run_not_found', '任务运行记录不存在');
  const d = await JobRun.findById(id).lean();
  if (!d) throw notFound('job_run_not_found', '任务运行记录不存在');
  return presentRun(d as RunDoc, Date.now());
}
