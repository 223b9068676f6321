// Reminders (SPEC §5): daily during a submission window — from the end of the quarter to its
// deadline — an in-app notice to every active unit with no return yet. One notice per unit, period
// and local day (idempotency key), so re-running the job the same day adds nothing.
import { clock } from '../clock.ts';
import { quarterStart } from '../domain/periods.ts';
import { Unit } from '../models/unit.ts';
import { notify } from './notices.ts';
import { getPeriod, listPeriods, timeZone } from './periods.ts';
import { periodReturns } from './returns.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

function nextQuarter(period: string): string {
  const y = Number(period.slice(0, 4));
  const q = Number(period.slice(5));
  return q === 4 ? `${y + 1}Q1` : `${y}Q${q + 1}`;
}

function localDay(at: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timeZone(), year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** Periods whose submission window is open now: the quarter has ended, the deadline not passed, not closed. */
function formatLocal(at: Date): string {
  return new Intl.DateTimeFormat('zh-CN', { timeZone: timeZone(), dateStyle: 'long', timeStyle: 'medium', hourCycle: 'h23' }).format(at);
}

export async function periodsInWindow(now = clock.now()): Promise<string[]> {
  const out: string[] = [];
  for (const view of (await listPeriods()).reverse()) {
    const ended = quarterStart(nextQuarter(view.period), timeZone()).getTime() <= now.getTime();
    if (ended && view.status === 'open' && !view.closed && now.getTime() <= new Date(view.deadline).getTime()) out.push(view.period);
  }
  return out;
}

export async function runRemindJob(opts: { period?: string } = {}): Promise<{ periods: number; units: number; notices: number }> {
  const now = clock.now();
  const periods = opts.period ? [opts.period] : await periodsInWindow(now);
  const day = localDay(now);
  let units = 0;
  let notices = 0;
  const active = await Unit.find({ active: { $ne: false } }, { code: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  for (const period of periods) {
    const view = await getPeriod(period);
    const reported = new Set<string>((await periodReturns(period)).keys());
    for (const u of active) {
      if (reported.has(u.code)) continue;
      units++;
      const created = await notify({
        unit: u.code,
        kind: 'reminder',
        period,
        title: `请尽快报送 ${period} 期数据共享考核报表`,
        body: `${period} 期报表尚未报送，截止时间为 ${formatLocal(new Date(view.deadline))}。逾期报送将扣分，截止后仍未报送按缺报处理。`,
        createdBy: 'system',
        key: `remind:${period}:${u.code}:${day}`,
      });
      if (created) notices++;
    }
  }
  return { periods: periods.length, units, notices };
}
