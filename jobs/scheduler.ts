// The job scheduler: node-cron tasks in the configured time zone, one runner per slot among all app
// instances (node-cron's `distributed` option with the MongoDB lease coordinator), catch-up of a slot
// missed while the app was down, and every run recorded by the job service.
//
// Slots: a slot is a cron match (a minute, in the time zone). `tick()` fires, for every job, the latest
// slot that is due at clock.now() — the lease makes a slot run at most once across instances, so
// ticking is idempotent. At start we tick once (catch-up); afterwards node-cron fires each slot on time
// and consults the same coordinator. Tests drive `tick()` with a fake clock.
import cron, { type ScheduledTask } from 'node-cron';
import { clock } from '../server/clock.ts';
import { timeZone } from '../server/services/periods.ts';
import { executeJob, JOB_NAMES, slotSucceeded, type JobName, type JobRunRecord } from '../server/services/jobs.ts';
import { leaseKey, MongoLeaseCoordinator } from './lease.ts';

export const DEFAULT_SCHEDULES: Readonly<Record<JobName, string>> = {
  score: '0 2 * * *', // nightly 02:00
  accountability: '30 2 * * *', // after scoring: open cases for published periods, mark overdue
  remind: '0 9 * * *', // daily 09:00 during a submission window
  backup: '0 3 * * *', // nightly 03:00, after scoring and accountability (embedded engine only)
};

export interface SchedulerOptions {
  timezone?: string;
  schedules?: Partial<Record<JobName, string>>;
  /** Lease length; a dead holder's slot can be taken over after this long. */
  leaseMs?: number;
  instanceId?: string;
  coordinator?: MongoLeaseCoordinator;
  /** How far back a missed slot is still caught up at start (default 49 h: one day's slot of a daily job). */
  catchUpWindowMs?: number;
  /** A slot older than this when fired counts as a catch-up. */
  lateAfterMs?: number;
}

const MINUTE = 60_000;

export class Scheduler {
  readonly timezone: string;
  readonly coordinator: MongoLeaseCoordinator;
  readonly leaseMs: number;
  private readonly tasks = new Map<JobName, ScheduledTask>();
  private readonly catchUpWindowMs: number;
  private readonly lateAfterMs: number;
  private started = false;

  constructor(opts: SchedulerOptions = {}) {
    this.timezone = opts.timezone ?? timeZone();
    this.leaseMs = opts.leaseMs ?? 5 * MINUTE;
    this.coordinator = opts.coordinator ?? new MongoLeaseCoordinator({ instanceId: opts.instanceId });
    this.catchUpWindowMs = opts.catchUpWindowMs ?? 49 * 60 * MINUTE;
    this.lateAfterMs = opts.lateAfterMs ?? 2 * MINUTE;
    for (const job of JOB_NAMES) {
      const expr = opts.schedules?.[job] ?? DEFAULT_SCHEDULES[job];
      const task = cron.createTask(
        expr,
        async (ctx) => {
          // node-cron already won the lease for this slot through the coordinator.
          if (ctx.date && (await slotSucceeded(job, ctx.date))) return;
          await executeJob(job, { trigger: 'scheduled', slot: ctx.date, instance: this.coordinator.instanceId });
        },
        {
          name: job,
          timezone: this.timezone,
          distributed: true,
          runCoordinator: this.coordinator,
          distributedLease: this.leaseMs,
          noOverlap: true,
          unref: true,
        },
      );
      this.tasks.set(job, task);
    }
  }

  /** The latest slot of `job` at or before `now` within the catch-up window, or null. */
  latestSlot(job: JobName, now: Date = clock.now()): Date | null {
    const task = this.tasks.get(job);
    if (!task) return null;
    const end = Math.floor(now.getTime() / MINUTE) * MINUTE;
    for (let t = end; t > now.getTime() - this.catchUpWindowMs; t -= MINUTE) {
      const d = new Date(t);
      if (task.match(d)) return d;
    }
    return null;
  }

  /** Fires one slot through the coordinator; returns the run record, or null when another runner has it. */
  async fire(job: JobName, slot: Date, trigger: 'scheduled' | 'catchup'): Promise<JobRunRecord | null> {
    const key = leaseKey(job, slot);
    if (!(await this.coordinator.shouldRun(key, this.leaseMs))) return null;
    try {
      // A taken-over slot whose holder recorded success before it died is done: release it, run nothing.
      if (await slotSucceeded(job, slot)) return null;
      return await executeJob(job, { trigger, slot, instance: this.coordinator.instanceId });
    } finally {
      await this.coordinator.onComplete(key);
    }
  }

  /** Fires, for each job, its latest due slot (if not yet run anywhere). Jobs run one after another. */
  async tick(): Promise<JobRunRecord[]> {
    const now = clock.now();
    const runs: JobRunRecord[] = [];
    for (const job of JOB_NAMES) {
      const slot = this.latestSlot(job, now);
      if (!slot) continue;
      const trigger = now.getTime() - slot.getTime() > this.lateAfterMs ? 'catchup' : 'scheduled';
      const run = await this.fire(job, slot, trigger);
      if (run) runs.push(run);
    }
    return runs;
  }

  /** Catches up missed slots, then lets node-cron fire on time. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.tick();
    if (!this.started) return;
    for (const task of this.tasks.values()) await task.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const task of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    this.coordinator.stop();
  }
}
