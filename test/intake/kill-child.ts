// Child process for the kill-during-commit test: the real app on the embedded engine on DATA_DIR,
// started the way server/main.ts does it (connect → indexes → recoverInterruptedBatches → app → listen).
// Prints one line "READY <port> <json stats>" once it listens; the parent SIGKILLs it at random moments.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { connectDb, ensureIndexes } from '../../server/db/connect.ts';
import { openPeriod } from '../../server/services/periods.ts';
import { setLogLevel } from '../../server/log.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { UploadBatch } from '../../server/models/upload-batch.ts';
import { recoverInterruptedBatches } from '../../server/services/returns.ts';
import { upsertUnit } from '../../server/services/units.ts';
import { ensureFirstAdmin } from '../../server/services/users.ts';

const dataDir = process.argv[2];
const unitCount = Number(process.argv[3] ?? 12);
if (!dataDir) throw new Error('usage: kill-child.ts <dataDir> [units]');

const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai', ADMIN_PASSWORD: 'kill-test-password' });
setLogLevel(config.logLevel);
await connectDb({ dataDir, dbName: config.dbName });
await ensureIndexes();
/** Revisions no reader shows: not committed on their own, and their batch not committed. */
async function invisibleRevisions(): Promise<number> {
  const live = (await UploadBatch.find({ status: 'committed' }, { _id: 1 }).lean()).map((b) => b._id);
  return ReturnRevision.countDocuments({ committed: false, batch: { $nin: live } });
}
const before = {
  pending: await UploadBatch.countDocuments({ status: 'pending' }),
  unfinalized: await UploadBatch.countDocuments({ status: 'committed', finalized: { $ne: true } }),
  invisible: await invisibleRevisions(),
};
const recovery = await recoverInterruptedBatches();
const after = {
  pending: await UploadBatch.countDocuments({ status: 'pending' }),
  unfinalized: await UploadBatch.countDocuments({ status: 'committed', finalized: { $ne: true } }),
  invisible: await invisibleRevisions(),
};
const app = await createApp({ config });
await ensureFirstAdmin(config.adminPassword);
for (let i = 1; i <= unitCount; i++) {
  const code = `K${String(i).padStart(3, '0')}`;
  await upsertUnit({ username: 'setup' }, code, { name: `测试单位${i}`, category: 'department' });
}
await openPeriod({ username: 'setup' }, '2026Q4');
const server = http.createServer(app);
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(`READY ${port} ${JSON.stringify({ before, recovery, after })}\n`);
});
