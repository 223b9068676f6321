// A node-cron RunCoordinator backed by one lease document per job in MongoDB (collection job_leases).
//
// node-cron asks `shouldRun("<job>:<slot ISO>", ttlMs)` before a distributed fire and `onComplete(key)`
// after it. A runner takes the lease with one conditional findOneAndUpdate: the lease must be free (the
// last run is done, or its holder stopped renewing and it expired) and the slot must be newer than the
// last one taken (or the same slot, left unfinished by a holder that died — a takeover). While the run
// lasts the holder renews `expiresAt`; a holder that dies stops renewing and loses the lease after ttl.
import { randomUUID } from 'node:crypto';
import type { RunCoordinator } from 'node-cron';
import { clock } from '../server/clock.ts';
import { JobLease } from '../server/models/job-lease.ts';

export function leaseKey(job: string, slot: Date): string {
  return `${job}:${slot.toISOString()}`;
}

export function parseLeaseKey(key: string): { job: string; slot: Date } {
  const i = key.indexOf(':');
  const job = i < 0 ? key : key.slice(0, i);
  const slot = new Date(i < 0 ? NaN : key.slice(i + 1));
  if (Number.isNaN(slot.getTime())) throw new Error(`bad coordinator key: ${key}`);
  return { job, slot };
}

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

export class MongoLeaseCoordinator implements RunCoordinator {
  readonly instanceId: string;
  private readonly renewers = new Map<string, NodeJS.Timeout>();
  private readonly renewEveryMs: number | undefined;

  constructor(opts: { instanceId?: string; renewEveryMs?: number } = {}) {
    this.instanceId = opts.instanceId ?? `${process.pid}-${randomUUID().slice(0, 8)}`;
    this.renewEveryMs = opts.renewEveryMs;
  }

  async shouldRun(key: string, ttlMs: number): Promise<boolean> {
    const { job, slot } = parseLeaseKey(key);
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + ttlMs);
    const set = { holder: this.instanceId, slot, done: false, acquiredAt: now, expiresAt };
    const taken = await JobLease.findOneAndUpdate(
      {
        _id: job,
        $and: [
          { $or: [{ done: true }, { expiresAt: { $lte: now } }] },
          { $or: [{ slot: { $lt: slot } }, { slot, done: false }] },
        ],
      },
      { $set: set },
      { returnDocument: 'after' },
    ).lean();
    let ok = taken !== null;
    if (!ok) {
      try {
        await JobLease.create({ _id: job, ...set });
        ok = true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    if (ok) this.startRenewing(key, job, slot, ttlMs);
    return ok;
  }

  async onComplete(key: string): Promise<void> {
    const { job, slot } = parseLeaseKey(key);
    this.stopRenewing(key);
    await JobLease.updateOne(
      { _id: job, holder: this.instanceId, slot },
      { $set: { done: true, expiresAt: clock.now() } },
    );
  }

  /** Tests: behave as if this instance died — stop renewing every lease it holds, release nothing. */
  abandon(): void {
    for (const key of [...this.renewers.keys()]) this.stopRenewing(key);
  }

  stop(): void {
    this.abandon();
  }

  private startRenewing(key: string, job: string, slot: Date, ttlMs: number): void {
    this.stopRenewing(key);
    const every = this.renewEveryMs ?? Math.max(1000, Math.floor(ttlMs / 3));
    const timer = setInterval(() => {
      JobLease.updateOne(
        { _id: job, holder: this.instanceId, slot, done: false },
        { $set: { expiresAt: new Date(clock.now().getTime() + ttlMs) } },
      ).catch(() => undefined);
    }, every);
    timer.unref();
    this.renewers.set(key, timer);
  }

  private stopRenewing(key: string): void {
    const t = this.renewers.get(key);
    if (t) clearInterval(t);
    this.renewers.delete(key);
  }
}
