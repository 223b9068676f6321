// Start-up steps on the database that every process serving the app runs, in this order, after the
// indexes (server/main.ts; the test harness runs the same): finish upload batches a previous process left
// half-committed, then the calendar migration of databases made before periods were records, then the
// default scheme (v1) and plausibility rules (v1) when none are stored — so that no read ever has to write them.
import { log } from './log.ts';
import { migrateCalendar } from './services/calendar-migration.ts';
import { recoverInterruptedBatches } from './services/returns.ts';
import { ensureDefaultScheme } from './services/scheme.ts';
import { ensureDefaultRules } from './services/plausibility.ts';

export async function prepareDatabase(): Promise<void> {
  const recovered = await recoverInterruptedBatches();
  if (recovered.rolledForward || recovered.discarded) log.info(recovered, 'interrupted upload batches recovered');
  const migrated = await migrateCalendar();
  if (migrated.opened.length || migrated.removed.length) log.info(migrated, 'calendar migration: periods opened / never-opened results removed');
  await ensureDefaultScheme();
  await ensureDefaultRules();
}
