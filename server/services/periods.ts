// The assessment calendar (SPEC §2): a period takes part only once it has been opened — by an admin, by the
// calendar on the first day of its quarter, or by the migration of a database made before periods were records.
// A period that was never opened does not exist for the product: every read of it answers 404 period_not_open.
// Lifecycle: open → published (Period.publishedAt: intake, reviews and deadline changes refused with 409) →
// reopened by an admin (open again).
import { randomUUID } from 'node:crypto';
import { clock } from '../clock.ts';
import { currentConfig } from '../config.ts';
import { AppError, badRequest, conflict } from '../domain/errors.ts';
import { defaultDeadline, formatQuarter, isQuarter, parseQuarter, previousQuarter } from '../domain/periods.ts';
import { DatabaseInfo, Period } from '../models/period.ts';
import { audit, type Actor } from './audit.ts';

/** The configured time zone (SPEC §2, default Asia/Shanghai). */
export function timeZone(): string {
  return currentConfig().tz;
}

export type PeriodStatus = 'open' | 'published';

export interface PeriodView {
  period: string;
  deadline: string;
  status: PeriodStatus;
  publishedAt: string | null;
  /** true when no admin has changed the deadline. */
  defaultDeadline: boolean;
  /** Closed by an admin: no more submissions. */
  closed: boolean;
  openedAt: string | null;
  openedBy: string | null;
}

export const SYSTEM_OPENER = 'system';

export function assertQuarter(period: unknown): string {
  if (typeof period !== 'string' || !isQuarter(period)) {
    throw badRequest('invalid_period', `期次「${String(period ?? '')}」无效，应为 YYYYQn 格式，如 2026Q3`);
  }
  return period;
}

interface PeriodLean {
  period: string;
  deadline: Date;
  publishedAt?: Date | null;
  closed?: boolean | null;
  openedAt?: Date | null;
  openedBy?: string | null;
}

function viewOf(doc: PeriodLean): PeriodView {
  const def = defaultDeadline(doc.period, timeZone());
  return {
    period: doc.period,
    deadline: doc.deadline.toISOString(),
    status: doc.publishedAt ? 'published' : 'open',
    publishedAt: doc.publishedAt ? doc.publishedAt.toISOString() : null,
    defaultDeadline: doc.deadline.getTime() === def.getTime(),
    closed: doc.closed === true,
    openedAt: doc.openedAt ? doc.openedAt.toISOString() : null,
    openedBy: doc.openedBy ?? null,
  };
}

const PERIOD_PROJECTION = { _id: 0, period: 1, deadline: 1, publishedAt: 1, closed: 1, openedAt: 1, openedBy: 1 } as const;

/** The 404 of a period that was never opened; names the latest opened one so pages can link to it. */
export function periodNotOpen(period: string, latest: string | null): AppError {
  return new AppError(404, 'period_not_open', `${period} 期尚未开放考核，没有任何数据`, latest ? { latest } : undefined);
}

/** The opened period, or null when it was never opened. */
export async function findPeriod(period: string): Promise<PeriodView | null> {
  assertQuarter(period);
  const doc = await Period.findOne({ period }, PERIOD_PROJECTION).lean();
  return doc ? viewOf(doc) : null;
}

/** The opened period; 404 period_not_open otherwise. */
export async function getPeriod(period: string): Promise<PeriodView> {
  const p = await findPeriod(period);
  if (!p) throw periodNotOpen(period, await latestPeriod());
  return p;
}

/** The opened periods, newest first. */
export async function listPeriods(): Promise<PeriodView[]> {
  const docs = await Period.find({}, PERIOD_PROJECTION).sort({ period: -1 }).lean();
  return docs.filter((d) => isQuarter(d.period)).map(viewOf);
}

/** The newest opened period (null: none yet). */
export async function latestPeriod(): Promise<string | null> {
  const doc = await Period.findOne({}, { period: 1 }).sort({ period: -1 }).lean();
  return doc?.period ?? null;
}

export async function deadlineOf(period: string): Promise<Date> {
  return new Date((await getPeriod(period)).deadline);
}

function publishedConflict(period: string): AppError {
  return conflict('period_published', `${period} 期考核结果已发布，数据已冻结，不能再修改（如确需修改，请管理员先重新开放该期）`);
}

/** Opened and not published (404 period_not_open / 409 period_published): reviews and other changes. */
export async function assertUnpublished(period: string): Promise<PeriodView> {
  const p = await getPeriod(period);
  if (p.status === 'published') throw publishedConflict(period);
  return p;
}

/** Takes submissions: opened, not published, not closed by an admin. */
export async function assertOpen(period: string): Promise<PeriodView> {
  const p = await assertUnpublished(period);
  if (p.closed) throw conflict('period_closed', `${period} 期已关闭，不再接受填报`);
  return p;
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseDeadline(raw: unknown): Date {
  if (typeof raw !== 'string' || !ISO_RE.test(raw.trim())) {
    throw badRequest('invalid_deadline', '截止时间应为 ISO 8601 格式，如 2026-10-15T23:59:59+08:00');
  }
  const d = new Date(raw.trim());
  if (Number.isNaN(d.getTime())) throw badRequest('invalid_deadline', `截止时间「${raw}」不是有效的时间`);
  return d;
}

/**
 * Opens the period if it is not open yet (deadline: the given one or the default). Idempotent: an opened
 * period is left as it is. `created`: this call opened it. Audited when it opens.
 */
export async function openPeriod(actor: Actor, period: string, opts: { deadline?: Date } = {}): Promise<{ created: boolean; period: PeriodView }> {
  assertQuarter(period);
  const now = clock.now();
  const res = await Period.updateOne(
    { period },
    {
      $setOnInsert: {
        period,
        deadline: opts.deadline ?? defaultDeadline(period, timeZone()),
        openedAt: now,
        openedBy: actor.username,
        publishedAt: null,
        closed: false,
        staleAt: now,
        staleVersion: 1,
      },
    },
    { upsert: true },
  );
  const created = res.upsertedCount === 1;
  const view = (await findPeriod(period))!;
  if (created) {
    await audit(actor, { action: 'period.open', entity: 'period', entityId: period, before: null, after: { deadline: view.deadline, openedBy: actor.username } });
  }
  return { created, period: view };
}

/** Opens the period if needed and sets its deadline (PUT /periods/:period). 409 once published. */
export async function setDeadline(actor: Actor, period: string, rawDeadline: unknown): Promise<{ created: boolean; period: PeriodView }> {
  assertQuarter(period);
  const deadline = parseDeadline(rawDeadline);
  const before = await findPeriod(period);
  if (before?.status === 'published') throw publishedConflict(period);
  if (!before) return openPeriod(actor, period, { deadline });
  // The publication may have started since we read: the condition keeps a published period's deadline.
  const res = await Period.updateOne({ period, publishedAt: null }, { $set: { deadline, staleAt: clock.now() }, $inc: { staleVersion: 1 } });
  if (res.matchedCount === 0) throw publishedConflict(period);
  const view = (await findPeriod(period))!;
  if (before.deadline !== view.deadline) {
    await audit(actor, {
      action: 'period.deadline',
      entity: 'period',
      entityId: period,
      before: { deadline: before.deadline, closed: before.closed },
      after: { deadline: view.deadline, closed: view.closed },
    });
  }
  return { created: false, period: view };
}

/** Closes / reopens intake of an opened period (admin). 409 once published. */
export async function setClosed(actor: Actor, period: string, closed: boolean): Promise<PeriodView> {
  const before = await assertUnpublished(period);
  await Period.updateOne({ period, publishedAt: null }, { $set: { closed } });
  const view = (await findPeriod(period))!;
  await audit(actor, { action: closed ? 'period.close' : 'period.reopen_intake', entity: 'period', entityId: period, before: { closed: before.closed }, after: { closed } });
  return view;
}

// ---------------------------------------------------------------------------------------------
// The intake fence: a write that the publication must either see or refuse (a submission, an upload's
// commit record, a review) checks "not published" and registers itself in the same atomic write, and
// leaves when it has written. The publication records its freeze first (after which nobody can enter),
// then waits until the fence is empty before it reads the returns. Without transactions this is what
// keeps a check-then-write from landing in a period whose final results were computed without it.

/** An entry older than this is a writer that died (a submission writes in milliseconds). */
export const INTAKE_STALE_MS = 30_000;
const INTAKE_POLL_MS = 20;

export type IntakeNeed = 'open' | 'unpublished';

async function enterIntake(period: string, need: IntakeNeed): Promise<string> {
  const ticket = randomUUID();
  const filter: Record<string, unknown> = { period, publishedAt: null };
  if (need === 'open') filter.closed = { $ne: true };
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await Period.updateOne(filter, { $push: { intake: { ticket, at: new Date() } } });
    if (res.matchedCount === 1) return ticket;
    // Throws the answer the user needs (not opened / published / closed) …
    if (need === 'open') await assertOpen(period);
    else await assertUnpublished(period);
    // … or the period changed back between the two reads: try again.
  }
  throw conflict('period_busy', `${period} 期状态正在变更，请稍后重试`);
}

async function leaveIntake(period: string, ticket: string): Promise<void> {
  await Period.updateOne({ period }, { $pull: { intake: { ticket } } });
}

/** Runs `write` inside the fence: 404/409 as {@link assertOpen} / {@link assertUnpublished} otherwise. */
export async function withinIntake<T>(period: string, need: IntakeNeed, write: () => Promise<T>): Promise<T> {
  const ticket = await enterIntake(period, need);
  try {
    return await write();
  } finally {
    await leaveIntake(period, ticket);
  }
}

/** Waits until no live writer is inside the fence of `period` (entries of dead writers are dropped). */
export async function intakeDrained(period: string): Promise<void> {
  for (;;) {
    const cutoff = new Date(Date.now() - INTAKE_STALE_MS);
    const doc = await Period.findOne({ period }, { _id: 0, intake: 1 }).lean();
    const live = (doc?.intake ?? []).filter((e) => e.at.getTime() >= cutoff.getTime());
    if (live.length === 0) {
      if (doc?.intake?.length) await Period.updateOne({ period }, { $pull: { intake: { at: { $lt: cutoff } } } });
      return;
    }
    await new Promise((r) => setTimeout(r, INTAKE_POLL_MS));
  }
}

// ---------------------------------------------------------------------------------------------
// Freshness markers: what the provisional results depend on changed (SPEC §2 "reading never writes").

/**
 * Marks the provisional results of `periods` (or of every unpublished period) as out of date. The
 * recomputation (jobs/freshness.ts) picks them up shortly after; published periods are never marked.
 */
export async function markStale(periods: readonly string[] | 'unpublished'): Promise<void> {
  const filter: Record<string, unknown> = { publishedAt: null };
  if (periods !== 'unpublished') {
    if (periods.length === 0) return;
    filter.period = { $in: [...new Set(periods)] };
  }
  await Period.updateMany(filter, { $set: { staleAt: clock.now() }, $inc: { staleVersion: 1 } });
  staleListener?.();
}

let staleListener: (() => void) | null = null;
/** Wired at boot (jobs/freshness.ts): told after every markStale on this instance. */
export function onStale(listener: (() => void) | null): void {
  staleListener = listener;
}

export interface StaleMarker {
  period: string;
  staleAt: Date;
  version: number;
}

/** Unpublished periods whose results are out of date, with the marker each was read with. */
export async function stalePeriods(): Promise<StaleMarker[]> {
  const docs = await Period.find({ staleAt: { $ne: null }, publishedAt: null }, { _id: 0, period: 1, staleAt: 1, staleVersion: 1 }).sort({ period: 1 }).lean();
  return docs.map((d) => ({ period: d.period, staleAt: d.staleAt!, version: d.staleVersion ?? 0 }));
}

/** Clears the marker if nothing changed since it was read (a newer change keeps the period stale). */
export async function clearStale(marker: StaleMarker): Promise<boolean> {
  const res = await Period.updateOne({ period: marker.period, staleVersion: marker.version }, { $set: { staleAt: null } });
  return res.modifiedCount === 1;
}

// ---------------------------------------------------------------------------------------------
// Publication state (written by the publication service, in this order: record the intent, freeze the
// results, complete; see services/scoring.ts publish / reopen).

export async function markPublished(period: string, at: Date): Promise<void> {
  await Period.updateOne({ period }, { $set: { publishedAt: at, staleAt: null } });
}

export async function markUnpublished(period: string): Promise<void> {
  await Period.updateOne({ period }, { $set: { publishedAt: null, staleAt: clock.now() }, $inc: { staleVersion: 1 } });
}

// ---------------------------------------------------------------------------------------------
// The clock of quarters

// One formatter per time zone (building an Intl.DateTimeFormat costs far more than using one).
const yearMonthFormats = new Map<string, Intl.DateTimeFormat>();
function yearMonthFormat(tz: string): Intl.DateTimeFormat {
  let f = yearMonthFormats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: 'numeric' });
    yearMonthFormats.set(tz, f);
  }
  return f;
}

// Pages ask for the current quarter several times per request. A quarter starts at local midnight and
// zone offsets are whole minutes, so the answer for one (zone, minute) is the answer for all of it.
let lastQuarter: { tz: string; minute: number; quarter: string } | null = null;

/** The quarter containing `at` in the configured zone. */
export function quarterAt(at: Date): string {
  const tz = timeZone();
  const minute = Math.floor(at.getTime() / 60_000);
  if (lastQuarter && lastQuarter.minute === minute && lastQuarter.tz === tz) return lastQuarter.quarter;
  const parts = yearMonthFormat(tz).formatToParts(at);
  const year = Number(parts.find((p) => p.type === 'year')!.value);
  const month = Number(parts.find((p) => p.type === 'month')!.value);
  const quarter = formatQuarter({ year, quarter: (Math.floor((month - 1) / 3) + 1) as 1 | 2 | 3 | 4 });
  if (Number.isFinite(minute)) lastQuarter = { tz, minute, quarter };
  return quarter;
}

/** The last quarter that ended at `at` (its submission window opens when it ends). */
export function currentReportingPeriod(at = clock.now()): string {
  return previousQuarter(quarterAt(at))!;
}

// ---------------------------------------------------------------------------------------------
// The calendar: ASSESSMENT_START and the automatic opening of quarters

/**
 * When the database was created: recorded once at start-up by the calendar migration
 * (services/calendar-migration.ts); read only here, so pages that show it never write.
 */
export async function databaseCreatedAt(): Promise<Date> {
  const doc = await DatabaseInfo.findOne({ _id: 'database' }, { createdAt: 1 }).lean();
  return doc?.createdAt ?? clock.now();
}

/** The first assessed quarter: ASSESSMENT_START, else the quarter in which the database was created. */
export async function assessmentStart(): Promise<string> {
  return currentConfig().assessmentStart ?? quarterAt(await databaseCreatedAt());
}

/**
 * Opens, from ASSESSMENT_START on, the quarter containing `at` and the quarter being reported (the one
 * that last ended) while its deadline has not passed. Never an earlier quarter: opening a quarter whose
 * submission window is over would only produce missing returns. Returns the periods it opened.
 */
export async function openDueQuarters(at = clock.now()): Promise<string[]> {
  const start = await assessmentStart();
  const candidates = [currentReportingPeriod(at), quarterAt(at)].filter((p) => p >= start);
  const opened: string[] = [];
  for (const p of candidates) {
    if (p !== quarterAt(at) && defaultDeadline(p, timeZone()).getTime() < at.getTime()) continue;
    const r = await openPeriod({ username: SYSTEM_OPENER, role: 'system' }, p);
    if (r.created) opened.push(p);
  }
  return opened;
}

export { parseQuarter };
