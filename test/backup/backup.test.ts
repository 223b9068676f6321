// Online backup and restore, through the HTTP contract: a backup taken while PUTs and many-unit
// uploads keep coming is a point in time (every write acknowledged before it started is in it,
// revisions gapless, every upload batch whole or absent), and an app started on a restored quiet
// backup shows exactly what the original showed.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { TestApp } from '../helpers/app.ts';
import { startTestApp } from '../helpers/app.ts';
import { backupInChild } from '../../server/services/backup.ts';
import { lastBackup } from '../../server/db/engine/datafile.ts';
import { buildWorkbook, createUnits, vals } from '../intake/helpers.ts';
import { httpView, runCli, tmp } from './helpers.ts';

const P = '2026Q3';
const CODES = ['D001', 'D002', 'D003', 'C0571', 'X330102'];

type Rev = { revision: number; values: Record<string, number> };

describe('backup: online backup under concurrent writes, then restore', function () {
  this.timeout(300_000);
  let t: TestApp;
  let admin: string;
  const work = tmp('bk-online-');
  after(async () => {
    await t?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('is a consistent point in time under writes; a restored quiet backup shows exactly what the app showed', async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    await createUnits(t, admin);

    // Writers: PUTs on one unit, and uploads of a workbook for all five units (one batch each).
    const acked = new Map<string, Map<number, Record<string, number>>>(CODES.map((c) => [c, new Map()]));
    const batches: { unit: string; revision: number }[][] = [];
    let stop = false;
    let writes = 0;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const k = w * 100_000 + i;
        if (i % 4 === 3) {
          const values = vals(k % 50);
          const file = await buildWorkbook(CODES.map((code) => ({ code, values })));
          const r = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', file, `w${k}.xlsx`);
          expect(r.status, r.text).to.equal(200);
          const accepted = r.body.accepted as { unit: string; revision: number }[];
          for (const a of accepted) acked.get(a.unit)!.set(a.revision, values as never);
          batches.push(accepted);
        } else {
          const unit = CODES[k % CODES.length];
          const values = vals(k % 50);
          const r = await t.api(admin).put(`/api/v1/returns/${P}/${unit}`, { values });
          expect(r.status, r.text).to.equal(200);
          acked.get(unit)!.set(r.body.revision, values as never);
        }
        writes++;
      }
    };
    const writers = [writer(0), writer(1)];
    while (writes < 12) await new Promise((r) => setTimeout(r, 20));
    const before = new Map(CODES.map((c) => [c, Math.max(0, ...acked.get(c)!.keys())]));
    const writesBefore = writes;

    const busy = path.join(work, 'busy.sqlite3');
    const report = await backupInChild({ dataDir: t.dataDir, out: busy });
    const writesDuring = writes - writesBefore;
    while (writes < writesBefore + writesDuring + 8) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(writers);
    expect(report.documents).to.be.greaterThan(0);
    expect(report.collections.map((c) => c.ns)).to.include('assessment.returns');

    // Quiet now: score, take a second backup and remember what the app shows.
    const score = await t.api(admin).post('/api/v1/jobs/score/run', { period: P });
    expect(score.body.outcome, score.text).to.equal('success');
    const quiet = path.join(work, 'quiet.sqlite3');
    await backupInChild({ dataDir: t.dataDir, out: quiet });
    const shown = await httpView(t.api(admin), P, CODES);
    expect((shown.uploads as unknown[]).length).to.equal(batches.length);
    await t.stop();

    // The busy backup, restored: the state of one moment.
    const restoredBusy = path.join(work, 'restored-busy');
    const rb = await runCli('restore', ['--from', busy, '--data-dir', restoredBusy]);
    expect(rb.code, rb.stderr).to.equal(0);
    expect(rb.stdout).to.include('已恢复').and.include('assessment.returns');
    expect(lastBackup(restoredBusy)!.file, 'the backup restored from is the last good one').to.equal(busy);
    t = await startTestApp({ dataDir: restoredBusy });
    admin = await t.tokenFor('admin');
    const present = new Map<string, Set<number>>();
    for (const c of CODES) {
      const hist = (await t.api(admin).get(`/api/v1/returns/${P}/${c}/revisions`)).body as Rev[];
      const nums = hist.map((h) => h.revision).sort((a, b) => a - b);
      // gapless, and contains every revision acknowledged before the backup started
      expect(nums).to.deep.equal(Array.from({ length: nums.length }, (_, i) => i + 1));
      expect(nums.length).to.be.at.least(before.get(c)!);
      // each one holds what its acknowledged request sent
      for (const h of hist) expect(h.values).to.deep.equal(acked.get(c)!.get(h.revision));
      present.set(c, new Set(nums));
    }
    for (const b of batches) {
      const n = b.filter((a) => present.get(a.unit)!.has(a.revision)).length;
      expect(n, `batch ${JSON.stringify(b)} is whole or absent`).to.be.oneOf([0, b.length]);
    }
    await t.stop();

    // The quiet backup, restored: exactly what the app showed.
    const restoredQuiet = path.join(work, 'restored-quiet');
    const rq = await runCli('restore', ['--from', quiet, '--data-dir', restoredQuiet]);
    expect(rq.code, rq.stderr).to.equal(0);
    t = await startTestApp({ dataDir: restoredQuiet });
    // The same user's token (the users are restored too): log in as a restored admin.
    const again = await httpView(t.api(await t.tokenFor('admin')), P, CODES);
    expect(again).to.deep.equal(shown);
  });
});
