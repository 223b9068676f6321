// The calendar migration (issue 11; README "Upgrading"): a database made before periods were records.
// Before, any read of a quarter computed and stored a result set for it, and the nightly job then
// published it with every unit missing and opened cases for all of them. At start-up, idempotently:
// - a period counts as opened when it has returns, or an admin set its deadline or closed it (audit
//   trail), or it is already an opened record; its Period document is completed (openedAt/openedBy
//   `migration`, publishedAt from its final results);
// - every other period's stored results are removed, and, when they had been published, the cases and
//   case notices the accountability job opened for it (they judged units on a quarter nobody was asked to
//   report) and the Period document the publication wrote. Published periods with returns are untouched.
// One audit entry per run that changed anything lists what was opened and what was removed.
import { clock } from '../clock.ts';
import { defaultDeadline, isQuarter } from '../domain/periods.ts';
import { AuditLog } from '../models/audit-log.ts';
import { Case } from '../models/case.ts';
import { Notice } from '../models/notice.ts';
import { DatabaseInfo, Period } from '../models/period.ts';
import { countRows, removeResults, resultSetSummaries } from '../results/store.ts';
import { User } from '../models/user.ts';
import { audit } from './audit.ts';
import { timeZone } from './periods.ts';
import { periodsWithReturns } from './returns.ts';

export const MIGRATION_ACTOR = { username: 'migration', role: 'system' };

export interface CalendarMigration {
  opened: string[];
  removed: { period: string; status: string; rows: number; cases: number; notices: number }[];
}

/** Records when the database was created, once: for an older database, when its first user was created. */
async function recordDatabaseCreation(): Promise<void> {
  if (await DatabaseInfo.exists({ _id: 'database' })) return;
  const firstUser = await User.findOne({}, { createdAt: 1 }).sort({ createdAt: 1 }).lean();
  const createdAt = (firstUser as { createdAt?: Date } | null)?.createdAt ?? clock.now();
  await DatabaseInfo.updateOne({ _id: 'database' }, { $setOnInsert: { _id: 'database', createdAt, calendarMigratedAt: null } }, { upsert: true });
}

export async function migrateCalendar(): Promise<CalendarMigration> {
  await recordDatabaseCreation();
  const withReturns = new Set((await periodsWithReturns()).filter(isQuarter));
  const adminTouched = new Set(
    (await AuditLog.distinct('entityId', { entity: 'period', action: { $in: ['period.deadline', 'period.close', 'period.open'] } })).map(String),
  );
  const records = await Period.find({}, { period: 1, openedAt: 1, publishedAt: 1, deadline: 1 }).lean();
  const sets = await resultSetSummaries();
  const setOf = new Map(sets.map((s) => [s.period, s]));
  const recordOf = new Map(records.map((r) => [r.period, r]));

  const isOpened = (p: string) => withReturns.has(p) || adminTouched.has(p) || !!recordOf.get(p)?.openedAt;
  const out: CalendarMigration = { opened: [], removed: [] };
  const now = clock.now();

  for (const p of new Set([...withReturns, ...adminTouched, ...records.map((r) => r.period)])) {
    if (!isQuarter(p) || !isOpened(p) || recordOf.get(p)?.openedAt) continue;
    const set = setOf.get(p);
    const publishedAt = set?.status === 'final' ? set.publishedAt ?? now : null;
    await Period.updateOne(
      { period: p },
      {
        $set: { openedAt: now, openedBy: MIGRATION_ACTOR.username, ...(publishedAt ? { publishedAt } : {}) },
        $setOnInsert: { period: p, deadline: defaultDeadline(p, timeZone()), closed: false, staleAt: null },
      },
      { upsert: true },
    );
    out.opened.push(p);
  }

  // What will be removed is counted and audited first, so a kill half-way leaves the record (a re-run
  // finds and removes the rest).
  const doomed = sets.filter((s) => !isOpened(s.period));
  for (const s of doomed) {
    const final = s.status === 'final';
    out.removed.push({
      period: s.period,
      status: s.status,
      rows: await countRows(s.period),
      cases: final ? await Case.countDocuments({ period: s.period }) : 0,
      notices: final ? await Notice.countDocuments({ period: s.period, kind: 'case' }) : 0,
    });
  }
  // Period documents of the old version that no rule opens and that hold no results (nothing reads them).
  const strayRecords = records.filter((r) => !r.openedAt && !isOpened(r.period) && !setOf.has(r.period));
  for (const r of strayRecords) out.removed.push({ period: r.period, status: 'record', rows: 0, cases: 0, notices: 0 });
  if (out.opened.length || out.removed.length) {
    await audit(MIGRATION_ACTOR, { action: 'calendar.migrate', entity: 'period', entityId: '*', before: null, after: out });
  }
  for (const s of doomed) {
    await removeResults(s.period);
    if (s.status === 'final') {
      await Case.deleteMany({ period: s.period });
      await Notice.deleteMany({ period: s.period, kind: 'case' });
      await Period.deleteOne({ period: s.period, openedAt: null });
    }
  }
  for (const r of strayRecords) await Period.deleteOne({ period: r.period, openedAt: null });
  await DatabaseInfo.updateOne({ _id: 'database', calendarMigratedAt: null }, { $set: { calendarMigratedAt: now } });
  return out;
}
