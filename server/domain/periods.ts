// Periods (SPEC §2): quarters written YYYYQn, years written YYYY. Pure, no I/O.

export interface Quarter {
  year: number;
  quarter: 1 | 2 | 3 | 4;
}

const QUARTER_RE = /^(\d{4})Q([1-4])$/;
const YEAR_RE = /^\d{4}$/;

export function parseQuarter(period: string): Quarter | null {
  const m = QUARTER_RE.exec(period);
  if (!m) return null;
  return { year: Number(m[1]), quarter: Number(m[2]) as Quarter['quarter'] };
}

export function isQuarter(period: string): boolean {
  return QUARTER_RE.test(period);
}

export function isYear(period: string): boolean {
  return YEAR_RE.test(period);
}

export function formatQuarter(q: Quarter): string {
  return `${q.year}Q${q.quarter}`;
}

export function previousQuarter(period: string): string | null {
  const q = parseQuarter(period);
  if (!q) return null;
  return q.quarter === 1 ? formatQuarter({ year: q.year - 1, quarter: 4 }) : formatQuarter({ year: q.year, quarter: (q.quarter - 1) as Quarter['quarter'] });
}

export function quartersOfYear(year: number): string[] {
  return [1, 2, 3, 4].map((n) => `${year}Q${n}`);
}

/** Offset in milliseconds of `timeZone` from UTC at the instant `utc`. */
export function zoneOffsetMs(utc: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(utc);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(utc.getTime() / 1000) * 1000;
}

/** The instant at which the wall-clock time (y, m 1-based, d, h, mi, s) occurs in `timeZone`. */
export function zonedTime(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
): Date {
  const naive = Date.UTC(year, month - 1, day, hour, minute, second);
  // Two passes settle the offset also next to a DST change.
  let guess = naive - zoneOffsetMs(new Date(naive), timeZone);
  guess = naive - zoneOffsetMs(new Date(guess), timeZone);
  return new Date(guess);
}

/** Default deadline: 23:59:59 on the 15th day of the month after the quarter ends, in `timeZone`. */
export function defaultDeadline(period: string, timeZone: string): Date {
  const q = parseQuarter(period);
  if (!q) throw new Error(`not a quarter: ${period}`);
  const monthAfter = q.quarter * 3 + 1; // 4, 7, 10, 13
  const year = monthAfter > 12 ? q.year + 1 : q.year;
  const month = monthAfter > 12 ? 1 : monthAfter;
  return zonedTime(timeZone, year, month, 15, 23, 59, 59);
}

/** First instant of the quarter in `timeZone` (submission window opens). */
export function quarterStart(period: string, timeZone: string): Date {
  const q = parseQuarter(period);
  if (!q) throw new Error(`not a quarter: ${period}`);
  return zonedTime(timeZone, q.year, (q.quarter - 1) * 3 + 1, 1);
}
