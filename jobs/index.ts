// Entry point for server/main.ts: `const jobs = await startJobs({timezone}); … jobs.stop()`.
import { pruneExpiredTokens } from '../server/services/auth.ts';
import { reapInterruptedRuns } from '../server/services/jobs.ts';
import { Scheduler, type SchedulerOptions } from './scheduler.ts';

export { Scheduler, DEFAULT_SCHEDULES } from './scheduler.ts';
export { MongoLeaseCoordinator } from './lease.ts';

export interface Jobs {
  scheduler: Scheduler;
  stop(): Promise<void>;
}

/** Housekeeping is idempotent and cheap, so every instance runs it (no lease): hourly, and once at start. */
export const HOUSEKEEPING_INTERVAL_MS = 3600_000;

export async function housekeeping(): Promise<void> {
  try {
    await pruneExpiredTokens();
  } catch (err) {
    console.error('[jobs] housekeeping failed', err);
  }
}

/** Starts the scheduled jobs (call after mongoose is connected). Catch-up runs in the background. */
export function startJobs(opts: SchedulerOptions = {}): Jobs {
  const scheduler = new Scheduler(opts);
  // Runs left `running` by a previous process of this instance (killed half-way) get their outcome now.
  reapInterruptedRuns().catch((err) => {
    console.error('[jobs] closing interrupted runs failed', err);
  });
  scheduler.start().catch((err) => {
    console.error('[jobs] start failed', err);
  });
  void housekeeping();
  const timer = setInterval(() => void housekeeping(), HOUSEKEEPING_INTERVAL_MS);
  timer.unref();
  return {
    scheduler,
    stop: () => {
      clearInterval(timer);
      return scheduler.stop();
    },
  };
}
