// Periods (SPEC §2): deadline (default or set by an admin), open / closed.
import { clock } from '../clock.ts';
import { currentConfig } from '../config.ts';
import { badRequest, conflict } from '../domain/errors.ts';
import { defaultDeadline, formatQuarter, isQuarter, parseQuarter } from '../domain/periods.ts';
import { Period } from '../models/period.ts';
import { audit, type Actor } from './audit.ts';

/** The configured time zone (SPEC §2, default Asia/Shanghai). */
export function timeZone(): string {
  return currentConfig().tz;
}

export interface PeriodView {
  period: string;
  deadline: string;
  /** true when no admin has changed the deadline. */
  defaultDeadline: boolean;
  closed: boolean;
  publishedAt: string | null;
}

export function assertQuarter(period: unknown): string {
  if (typeof period !== 'string' || !isQuarter(period)) {
    throw badRequest('invalid_period', `期次「${String(period ?? '')}」无效，应为 YYYYQn 格式，如 2026Q3`);
  }
  return period;
}

export async function getPeriod(period: string): Promise<PeriodView> {
  assertQuarter(period);
  const doc = await Period.findOne({ period }).lean();
  const def = defaultDeadline(period, timeZone());
  return {
    period,
    deadline: (doc?.deadline ?? def).toISOString(),
    defaultDeadline: !doc || doc.deadline.getTime() === def.getTime(),
    closed: doc?.closed === true,
    publishedAt: doc?.publishedAt ? doc.publishedAt.toISOString() : null,
  };
}

export async function deadlineOf(period: string): Promise<Date> {
  return new Date((await getPeriod(period)).deadline);
}

/** Throws 409 when the period no longer takes submissions. */
export async function assertOpen(period: string): Promise<PeriodView> {
  const p = await getPeriod(period);
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

export async function setDeadline(actor: Actor, period: string, rawDeadline: unknown): Promise<{ created: boolean; period: PeriodView }> {
  assertQuarter(period);
  const deadline = parseDeadline(rawDeadline);
  const before = await Period.findOne({ period }).lean();
  await Period.updateOne({ period }, { $set: { deadline }, $setOnInsert: { period } }, { upsert: true });
  const view = await getPeriod(period);
  await audit(actor, {
    action: 'period.deadline',
    entity: 'period',
    entityId: period,
    before: before ? { deadline: before.deadline, closed: before.closed } : null,
    after: { deadline: view.deadline, closed: view.closed },
  });
  return { created: !before, period: view };
}

export async function setClosed(actor: Actor, period: string, closed: boolean): Promise<PeriodView> {
  assertQuarter(period);
  const before = await getPeriod(period);
  await Period.updateOne(
    { period },
    { $set: { closed }, $setOnInsert: { period, deadline: defaultDeadline(period, timeZone()) } },
    { upsert: true },
  );
  const view = await getPeriod(period);
  await audit(actor, { action: closed ? 'period.close' : 'period.open', entity: 'period', entityId: period, before: { closed: before.closed }, after: { closed } });
  return view;
}

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

/** The period currently being reported: the last quarter that ended (its submission window is open now). */
export function currentReportingPeriod(at = clock.now()): string {
  const q = parseQuarter(quarterAt(at))!;
  return q.quarter === 1 ? `${q.year - 1}Q4` : `${q.year}Q${q.quarter - 1}`;
}

/** Recent periods for the pages: stored ones plus the last `n` quarters, newest first. */
export async function recentPeriods(n = 8): Promise<PeriodView[]> {
  const set = new Set<string>();
  let p = quarterAt(clock.now());
  for (let i = 0; i < n; i++) {
    set.add(p);
    const q = parseQuarter(p)!;
    p = q.quarter === 1 ? `${q.year - 1}Q4` : `${q.year}Q${q.quarter - 1}`;
  }
  for (const d of await Period.find({}, { period: 1 }).lean()) set.add(d.period);
  const list = [...set].sort().reverse();
  return Promise.all(list.map((x) => getPeriod(x)));
}
