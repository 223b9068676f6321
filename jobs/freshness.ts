// Provisional results follow their inputs (SPEC §2): after a return is accepted or reviewed, a unit changes,
// the scheme changes or a deadline moves, the services mark the period stale (services/periods.ts markStale).
// This worker recomputes stale periods shortly after — `delayMs` after the first change, so that a burst of
// changes (50 uploads on deadline day) is covered by a few computations, not one each — and again while
// changes keep arriving. Across instances one recomputation runs at a time: it takes the `recompute` job
// lease (jobs/lease.ts); an instance that cannot get it tries again later. Markers are stored, so a
// change whose instance died before recomputing is picked up by the next worker to run (or the nightly job).
import { log } from '../server/log.ts';
import { onStale, stalePeriods } from '../server/services/periods.ts';
import { refreshPeriod } from '../server/results/publication.ts';
import { MongoLeaseCoordinator, leaseKey } from './lease.ts';

export interface FreshnessOptions {
  /** Wait after a change before recomputing (changes meanwhile are coalesced). */
  delayMs: number;
  coordinator?: MongoLeaseCoordinator;
  /** Lease length; renewed while a recomputation runs. */
  leaseMs?: number;
}

export class FreshnessWorker {
  /** Recomputations run by this worker (periods computed), for the benchmark and tests. */
  computations = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private lastSlot = 0;
  private readonly coordinator: MongoLeaseCoordinator;
  private readonly ownsCoordinator: boolean;
  private readonly leaseMs: number;

  constructor(private readonly opts: FreshnessOptions) {
    this.coordinator = opts.coordinator ?? new MongoLeaseCoordinator();
    this.ownsCoordinator = !opts.coordinator;
    this.leaseMs = opts.leaseMs ?? 5 * 60_000;
  }

  /** Listens for changes on this instance and picks up markers left by others (or by a previous process). */
  start(): void {
    onStale(() => this.poke());
    this.poke();
  }

  /** Something changed: recompute after the delay (no-op while a recomputation is already scheduled). */
  poke(delayMs = this.opts.delayMs): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce().finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Resolves once what was scheduled or running when called has run (tests wait on it before reading).
   * Bounded: under a steady stream of changes it returns after a few computations instead of never.
   */
  async idle(maxRuns = 3): Promise<void> {
    for (let runs = 0, waits = 0; runs < maxRuns && waits < 500 && (this.timer || this.running); ) {
      if (this.running) {
        await this.running;
        runs++;
      } else {
        await new Promise((r) => setTimeout(r, Math.max(1, Math.min(this.opts.delayMs, 20))));
        waits++;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    onStale(null);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running.catch(() => undefined);
    if (this.ownsCoordinator) this.coordinator.stop();
  }

  private nextSlot(): Date {
    // Strictly increasing per instance: the lease takes a slot only if it is newer than the last one taken.
    this.lastSlot = Math.max(Date.now(), this.lastSlot + 1);
    return new Date(this.lastSlot);
  }

  private async runOnce(): Promise<void> {
    try {
      const stale = await stalePeriods();
      if (stale.length === 0) return;
      const key = leaseKey('recompute', this.nextSlot());
      if (!(await this.coordinator.shouldRun(key, this.leaseMs))) {
        // Another instance is recomputing: look again later (its run may predate our change).
        this.again = true;
        await new Promise((r) => setTimeout(r, Math.max(this.opts.delayMs, 200)).unref());
        return;
      }
      try {
        for (const s of stale) {
          if (this.stopped) break;
          await refreshPeriod(s);
          this.computations++;
        }
      } finally {
        await this.coordinator.onComplete(key);
      }
      // Changes that arrived while computing left their marker: run again.
      if ((await stalePeriods()).length > 0) this.again = true;
    } catch (err) {
      log.error({ err }, 'recomputing provisional results failed');
    }
  }
}

/** Boot wiring (server/main.ts, the test harness): starts the worker with the configured delay. */
export function startFreshness(opts: FreshnessOptions): FreshnessWorker {
  const w = new FreshnessWorker(opts);
  w.start();
  return w;
}
