// The lifecycle of a period's results: opening (with the first provisional snapshot), recomputation after
// changes, publication (freeze → record → open cases) and reopening; and the nightly score job.
import { clock } from '../clock.ts';
import { badRequest, conflict, notFound } from '../domain/errors.ts';
import { quarterStart } from '../domain/periods.ts';
import { openCasesForPeriod } from '../services/accountability.ts';
import { audit, type Actor } from '../services/audit.ts';
import {
  assertQuarter,
  clearStale,
  getPeriod,
  intakeDrained,
  listPeriods,
  markPublished,
  markUnpublished,
  openDueQuarters,
  openPeriod,
  setDeadline,
  timeZone,
  type PeriodView,
  type StaleMarker,
} from '../services/periods.ts';
import { computeAndStore } from './compute.ts';
import { getResults, type ResultsView } from './read.ts';
import { readPointer, recordPublication, resultSetOf, SYSTEM_ACTOR, unfreeze, type ObjectIdT, type SnapshotWrite } from './store.ts';

export { SYSTEM_ACTOR };

/** What a publication wrote: the final snapshot's rows and the cases it opened (of those its rules call for). */
export interface Publication {
  period: string;
  rows: number;
  cases: { opened: number; evaluated: number };
}

/** Grace after the deadline before the nightly job publishes a period (SPEC §5). */
export const PUBLISH_GRACE_MS = 7 * 24 * 3600 * 1000;

/**
 * Publishes a period (the route, the ranking page and the nightly job all come here). Only an opened
 * period, only after the deadline; 409 when already final. Steps, each idempotent (no transactions):
 * 1. freeze: the period records the publication (Period.publishedAt), so intake, reviews and deadline
 *    changes are refused from here on and the final computation sees the returns the period keeps;
 * 2. the final snapshot is computed and flipped in one write;
 * 3. record: the audit entry;
 * 4. open the accountability cases (which notify the units).
 * The accountability job completes 3–4 after a kill; the score job completes 2 for a period whose
 * publication was recorded but whose snapshot is not final.
 */
export async function publish(actor: Actor, period: string): Promise<Publication> {
  assertQuarter(period);
  const p = await getPeriod(period);
  if (clock.now().getTime() <= new Date(p.deadline).getTime()) {
    throw conflict('deadline_not_passed', `${period} 期报送截止时间（${p.deadline}）未到，不能发布结果`);
  }
  const before = await resultSetOf(period);
  if (before?.status === 'final') throw conflict('already_published', `${period} 期结果已发布`);
  await markPublished(period, p.publishedAt ? new Date(p.publishedAt) : clock.now());
  // Writes that passed their check before the freeze finish first, so the final results include them.
  await intakeDrained(period);
  const w = await computeAndStore(period, { final: true, by: actor.username });
  if (!w.written) {
    if (w.frozen) throw conflict('already_published', `${period} 期结果已发布`);
    throw conflict('results_busy', `${period} 期结果正在计算，请稍后重试`);
  }
  await recordPublication(period, actor, before ? { status: before.status, computeId: String(before.computeId) } : null);
  const cases = await openCasesForPeriod(period);
  return { period, rows: w.rows, cases };
}

/** {@link publish}, answering the final results (POST /api/v1/results/:period/publish). */
export async function publishPeriod(actor: Actor, period: string): Promise<ResultsView> {
  await publish(actor, period);
  return getResults(period);
}

/** Makes a published period open again (admin, audited, with a reason). It is not auto-published again. */
export async function reopenPeriod(actor: Actor, period: string, reason: unknown): Promise<ResultsView> {
  assertQuarter(period);
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (!text) throw badRequest('reason_required', '重新开放已发布的结果必须填写原因');
  if (text.length > 1000) throw badRequest('reason_too_long', '原因不能超过 1000 字');
  await getPeriod(period);
  const set = await resultSetOf(period);
  if (!set) throw notFound('results_not_found', `${period} 期暂无考核结果`);
  if (set.status !== 'final') throw conflict('not_published', `${period} 期结果尚未发布，无需重新开放`);
  const updated = await unfreeze(period, set.computeId as ObjectIdT, { at: clock.now(), by: actor.username, reason: text });
  if (!updated) throw conflict('results_busy', `${period} 期结果刚被修改，请刷新后重试`);
  await markUnpublished(period);
  await audit(actor, {
    action: 'results.reopen',
    entity: 'results',
    entityId: period,
    before: { status: 'final', publishedAt: set.publishedAt, publishedBy: set.publishedBy },
    after: { status: 'provisional', reason: text },
  });
  return getResults(period);
}

// ---------------------------------------------------------------------------------------------
// Opening and recomputing

/**
 * Opens a period if needed (optionally setting its deadline) and computes its first provisional snapshot,
 * so that from the moment a period exists its results can be read (reads never compute; SPEC §2).
 */
export async function openForAssessment(actor: Actor, period: string, opts: { deadline?: unknown } = {}): Promise<{ created: boolean; period: PeriodView }> {
  const r = opts.deadline !== undefined ? await setDeadline(actor, period, opts.deadline) : await openPeriod(actor, period);
  if (!(await readPointer(period))) await computeAndStore(period);
  return r;
}

/** The calendar's automatic opening (first day of each quarter, and at start-up), with first results. */
export async function openDueQuartersWithResults(at = clock.now()): Promise<string[]> {
  const opened = await openDueQuarters(at);
  for (const p of opened) if (!(await readPointer(p))) await computeAndStore(p);
  return opened;
}

/**
 * Recomputes an unpublished period whose inputs changed and clears its marker unless a newer change
 * arrived meanwhile. Called by the recomputation worker (jobs/freshness.ts) under its lease.
 */
export async function refreshPeriod(marker: StaleMarker): Promise<SnapshotWrite> {
  const w = await computeAndStore(marker.period);
  if (w.written || w.frozen) await clearStale(marker);
  return w;
}

/** 重新计算 (reviewer, admin): recomputes an open period now; 409 once published. */
export async function recomputeNow(actor: Actor, period: string): Promise<ResultsView> {
  const p = await getPeriod(period);
  if (p.status === 'published') throw conflict('period_published', `${period} 期考核结果已发布，不再重新计算`);
  const w = await computeAndStore(period);
  if (!w.written) {
    if (w.frozen) throw conflict('period_published', `${period} 期考核结果已发布，不再重新计算`);
    throw conflict('results_busy', `${period} 期结果正在计算，请稍后重试`);
  }
  await audit(actor, { action: 'results.recompute', entity: 'results', entityId: period, after: { computeId: String(w.computeId), rows: w.rows } });
  return getResults(period);
}

// ---------------------------------------------------------------------------------------------
// The score job (SPEC §5)

export interface ScoreJobCounts {
  periods: number;
  opened: number;
  recomputed: number;
  published: number;
  frozen: number;
  rows: number;
}

/** Opened periods the nightly job looks at: not published, quarter already started. */
function scorablePeriods(opened: readonly PeriodView[]): string[] {
  const now = clock.now().getTime();
  return opened
    .filter((p) => p.status === 'open' && quarterStart(p.period, timeZone()).getTime() <= now)
    .map((p) => p.period)
    .sort();
}

/**
 * Opens the quarters that are due, recomputes the provisional results of open periods (or of `period`
 * only) and publishes each one whose deadline plus 7 days' grace has passed — unless it was reopened by
 * an admin, which then needs an explicit publish. Completes a publication that was recorded but cut short
 * before its snapshot became final. Never touches a period not opened. Deterministic.
 */
export async function runScoreJob(opts: { period?: string } = {}): Promise<ScoreJobCounts> {
  const openedNow = opts.period ? [] : await openDueQuartersWithResults(clock.now());
  if (opts.period) await getPeriod(assertQuarter(opts.period));
  const all = opts.period ? [] : await listPeriods();
  const interrupted = all.filter((p) => p.status === 'published').map((p) => p.period);
  const periods = opts.period ? [opts.period] : scorablePeriods(all);
  const counts: ScoreJobCounts = { periods: periods.length, opened: openedNow.length, recomputed: 0, published: 0, frozen: 0, rows: 0 };
  for (const period of interrupted) {
    if ((await resultSetOf(period))?.status === 'final') continue;
    counts.rows += (await publish(SYSTEM_ACTOR, period)).rows;
    counts.published++;
  }
  for (const period of periods) {
    const set = await resultSetOf(period);
    const p = await getPeriod(period);
    if (set?.status === 'final' || p.status === 'published') {
      counts.frozen++;
      continue;
    }
    if (!set?.reopened && clock.now().getTime() >= new Date(p.deadline).getTime() + PUBLISH_GRACE_MS) {
      counts.rows += (await publish(SYSTEM_ACTOR, period)).rows;
      counts.published++;
    } else {
      const w = await computeAndStore(period);
      if (w.written) {
        counts.recomputed++;
        counts.rows += w.rows;
      } else if (w.frozen) counts.frozen++;
    }
  }
  return counts;
}
