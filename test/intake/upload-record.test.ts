// The record of a direct API upload (issue 19 item 4): its batch keeps each row's unit and row number,
// not the rows' values and warnings — those are kept once, on the revisions (values in the audit
// entries too), and answered in the response. The record, written whole three times (insert, commit
// record, finalisation), no longer repeats them. Recovery's roll-forward reads the values it audits
// from the revisions (test/intake/recovery.test.ts).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_Q3, PREVIOUS_Q2 } from '../fixtures/build-plausibility-sources.ts';
import type { TestApp } from '../helpers/app.ts';
import { createUnits, startWithAdmin } from './helpers.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'xlsx', name));

describe('the record of a direct upload holds its rows without their warnings', function () {
  this.timeout(60_000);
  let t: TestApp;
  let admin: string;

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
    for (const [u, v] of Object.entries(PREVIOUS_Q2)) expect((await t.api(admin).put(`/api/v1/returns/2026Q2/${u}`, { values: v })).status).to.equal(200);
  });
  after(async () => {
    await t?.stop();
  });

  it('warnings and values: in the response and on the revisions; the batch: units and rows only', async () => {
    const { UploadBatch } = await import('../../server/models/upload-batch.ts');
    const { AuditLog } = await import('../../server/models/audit-log.ts');
    const r = await t.api(admin).postFile('/api/v1/returns/upload?period=2026Q3', 'file', fixture('lo-plausibility-previous.xlsx'), 'q3.xlsx');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.warnings).to.have.length(3);
    const b = await UploadBatch.collection.findOne({ _id: new (await import('mongoose')).Types.ObjectId(r.body.batch as string) });
    expect(b?.status).to.equal('committed');
    expect(b?.finalized).to.equal(true);
    expect(b?.rows.map((x: { unit: string; row: number }) => [x.unit, x.row])).to.deep.equal([['D001', 4], ['D002', 5], ['D003', 6]]);
    for (const row of b!.rows) expect(Object.keys(row), 'unit and row only: values and warnings are on the revisions').to.deep.equal(['unit', 'row']);
    expect((await t.api(admin).get('/api/v1/returns/2026Q3/D002')).body.values).to.deep.equal(FILE_Q3.D002);
    // the revisions keep them (as the reviewers read them)
    const d1 = await t.api(admin).get('/api/v1/returns/2026Q3/D001');
    expect(d1.body.warnings.map((w: { field: string }) => w.field)).to.deep.equal(['systems_total', 'catalogue_shared']);
    expect((await t.api(admin).get('/api/v1/returns/2026Q3/D003')).body.warnings).to.have.length(1);
    // the upload is listed with its units, and each unit's submission is audited with its values
    const list = await t.api(admin).get('/api/v1/returns/uploads?period=2026Q3');
    expect(list.status, list.text).to.equal(200);
    const listed = (list.body.uploads ?? list.body).find((u: { id: string }) => u.id === r.body.batch);
    expect(listed.units).to.deep.equal(['D001', 'D002', 'D003']);
    const audits = await AuditLog.find({ action: 'return.submit', entityId: '2026Q3/D002', 'after.batch': r.body.batch }).lean();
    expect(audits).to.have.length(1);
    expect((audits[0] as { after: { values: unknown } }).after.values).to.deep.equal(FILE_Q3.D002);
  });
});
