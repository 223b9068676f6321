// Entry point for server/main.ts: `const jobs = await startJobs({timezone}); … jobs.stop()`.
import { reapInterruptedRuns } from '../server/services/jobs.ts';
import { Scheduler, type SchedulerOptions } from './scheduler.ts';

export { Scheduler, DEFAULT_SCHEDULES } from './scheduler.ts';
export { MongoLeaseCoordinator } from './lease.ts';

export interface Jobs {
  scheduler: Scheduler;
  stop(): Promise<void>;
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
  return { scheduler, stop: () => scheduler.stop() };
}
