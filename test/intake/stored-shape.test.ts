// The upload pipeline writes its batch and audit documents through the driver (issue 6: mongoose's
// per-row hydration cost more than the write). What it stores must stay exactly what the models
// stored before: same keys in the same order, same BSON types (int32 / double / date / objectId /
// null), same defaults, `__v: 0`, nothing the schema does not declare. Each check below writes the
// reference document through the mongoose model (the way the pipeline used to) and compares the two
// as typed, ordered trees — read with promoteValues: false, so an int32 and a double differ.
import { expect } from 'chai';
import type { Types } from 'mongoose';
import type { TestApp } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from './helpers.ts';

type Tree = unknown;

/** A document as a typed tree: objects become [key, value] lists (order matters), BSON values [type, text]. */
function typed(v: unknown): Tree {
  if (v === null) return ['null'];
  if (v === undefined) return ['undefined'];
  if (v instanceof Date) return ['date', v.toISOString()];
  if (Array.isArray(v)) return ['array', v.map(typed)];
  if (typeof v === 'object') {
    const b = (v as { _bsontype?: string })._bsontype;
    if (b) return [b, String(b === 'ObjectId' ? (v as Types.ObjectId).toHexString() : (v as { valueOf(): unknown }).valueOf())];
    return ['object', Object.entries(v as object).map(([k, x]) => [k, typed(x)])];
  }
  return [typeof v, v];
}

/** Same, with object keys sorted (for documents whose key order is not the schema's, see below). */
function typedSorted(v: unknown): Tree {
  const t = typed(v) as [string, unknown];
  const sort = (x: Tree): Tree => {
    const [k, val] = x as [string, unknown];
    if (k === 'object') return ['object', (val as [string, Tree][]).map(([a, b]) => [a, sort(b)] as const).sort((p, q) => (p[0] < q[0] ? -1 : 1))];
    if (k === 'array') return ['array', (val as Tree[]).map(sort)];
    return x;
  };
  return sort(t);
}

describe('stored shape of upload batches, batch revisions and their audit entries', () => {
  let t: TestApp;
  let admin: string;
  let reporter: string;
  let m: {
    UploadBatch: typeof import('../../server/models/upload-batch.ts').UploadBatch;
    ReturnRevision: typeof import('../../server/models/return-revision.ts').ReturnRevision;
    AuditLog: typeof import('../../server/models/audit-log.ts').AuditLog;
    returns: typeof import('../../server/services/returns.ts');
    uploads: typeof import('../../server/services/uploads.ts');
    mongoose: typeof import('mongoose').default;
  };
  const P = '2026Q4';

  before(async () => {
    ({ t, admin } = await startWithAdmin());
    reporter = await t.tokenFor('reporter', 'D002');
    await createUnits(t, admin);
    m = {
      UploadBatch: (await import('../../server/models/upload-batch.ts')).UploadBatch,
      ReturnRevision: (await import('../../server/models/return-revision.ts')).ReturnRevision,
      AuditLog: (await import('../../server/models/audit-log.ts')).AuditLog,
      returns: await import('../../server/services/returns.ts'),
      uploads: await import('../../server/services/uploads.ts'),
      mongoose: (await import('mongoose')).default,
    };
  });
  after(async () => {
    await t?.stop();
  });

  const raw = (coll: string) => m.mongoose.connection.db!.collection(coll);
  const readTyped = (coll: string, filter: object) => raw(coll).findOne(filter, { promoteValues: false, promoteLongs: false, promoteBuffers: false });
  const readPlain = (coll: string, filter: object) => raw(coll).findOne(filter);

  /** The batch the model would have stored for the same input, moved through the same states by the model. */
  async function referenceBatch(plain: Record<string, any>, states: 'staged' | 'committed'): Promise<Types.ObjectId> {
    const { UploadBatch, returns } = m;
    const [ref] = (await UploadBatch.create([
      {
        period: plain.period,
        createdBy: plain.createdBy,
        createdByUnit: plain.createdByUnit,
        createdAt: plain.createdAt,
        rows: plain.rows,
        file: plain.file,
        fileName: plain.fileName,
        fileSize: plain.fileSize,
        status: states === 'staged' ? 'staged' : 'pending',
        source: plain.source,
        ...(states === 'staged' ? {} : { owner: returns.newOwner(), leaseAt: plain.leaseAt }),
      },
    ] as never[])) as unknown as { _id: Types.ObjectId }[];
    if (states === 'committed') {
      const c = await UploadBatch.updateOne({ _id: ref!._id, status: 'pending' }, { $set: { status: 'committed', committedAt: plain.committedAt, accepted: plain.accepted } });
      expect(c.modifiedCount).to.equal(1);
      await UploadBatch.updateOne({ _id: ref!._id }, { $set: { finalized: true } });
    }
    return ref!._id;
  }

  async function expectSameBatch(id: Types.ObjectId, ref: Types.ObjectId) {
    const got = (await readTyped('upload_batches', { _id: id }))!;
    const want = (await readTyped('upload_batches', { _id: ref }))!;
    expect(String(want._id)).to.not.equal(String(got._id));
    got._id = want._id;
    expect(typed(got)).to.deep.equal(typed(want));
  }

  it('an API upload: batch (pending → committed → finalized), its revisions and audit entries', async () => {
    const rows = [
      { code: 'D001', name: '省发展和改革委员会', values: vals(1) },
      { code: 'D003', values: vals(2) },
      { code: 'C0571', values: vals(3, { systems_total: 0, systems_extranet: 0, systems_cloud: 0 }) },
    ];
    const buf = await buildWorkbook(rows);
    const r = await t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', buf, '形状.xlsx');
    expect(r.status, r.text).to.equal(200);
    const id = new m.mongoose.Types.ObjectId(r.body.batch as string);
    const plain = (await readPlain('upload_batches', { _id: id }))!;

    // Content: the file's rows in file order, the commit's numbers.
    expect(plain.status).to.equal('committed');
    expect(plain.finalized).to.equal(true);
    // Unit and row number only: the values are on the revisions (and in the audit entries).
    expect(plain.rows).to.deep.equal(rows.map((x, i) => ({ unit: x.code, row: i + 3 })));
    expect(plain.accepted).to.deep.equal(rows.map((x) => ({ unit: x.code, revision: 1 })));
    expect(plain.owner).to.deep.equal({ host: (await import('node:os')).hostname(), pid: process.pid });
    expect(plain.fileSize).to.equal(buf.length);

    // Shape: what the model stores for the same input.
    await expectSameBatch(id, await referenceBatch(plain, 'committed'));

    // Revisions of the batch: the schema's fields and types (the model would add __v, and it orders
    // the keys by the schema; batch revisions have always been inserted through the driver in the
    // order below, without __v).
    const rev = (await readTyped('returns', { batch: id, unit: 'D003' }))!;
    expect(Object.keys(rev)).to.deep.equal(['_id', 'source', 'submittedBy', 'batch', 'committed', 'file', 'unit', 'period', 'values', 'revision', 'submittedAt', 'review']);
    const revPlain = (await readPlain('returns', { batch: id, unit: 'D003' }))!;
    const [refRev] = (await m.ReturnRevision.create([{ ...revPlain, _id: undefined, period: '1999Q1' }] as never[])) as unknown as { _id: Types.ObjectId }[];
    const want = (await readTyped('returns', { _id: refRev!._id }))!;
    delete want.__v;
    want._id = rev._id;
    want.period = rev.period;
    expect(typedSorted(rev)).to.deep.equal(typedSorted(want));
    expect(revPlain.values).to.deep.equal(vals(2));
    expect(revPlain.file && String(revPlain.file)).to.equal(String(plain.file));

    // Audit entries: one per unit, what AuditLog.insertMany stores.
    const key = `batch:${String(id)}:C0571`;
    const entry = (await readTyped('audit_log', { key }))!;
    const entryPlain = (await readPlain('audit_log', { key }))!;
    expect(entryPlain).to.deep.include({ actor: plain.createdBy, actorRole: null, action: 'return.submit', entity: 'return', entityId: `${P}/C0571`, before: null });
    expect(entryPlain.at.getTime()).to.equal(plain.committedAt.getTime());
    expect(entryPlain.after).to.deep.equal({ revision: 1, values: rows[2]!.values, source: 'excel', batch: String(id) });
    expect(await m.AuditLog.countDocuments({ key: new RegExp(`^batch:${String(id)}:`) })).to.equal(3);
    const [refEntry] = await m.AuditLog.insertMany([{ ...entryPlain, _id: undefined, key: `${key}#reference` }], { ordered: false });
    const wantEntry = (await readTyped('audit_log', { _id: refEntry!._id }))!;
    wantEntry._id = entry._id;
    wantEntry.key = entry.key;
    expect(typed(entry)).to.deep.equal(typed(wantEntry));
  });

  it('a staged web upload by a reporter: the batch as the model stores it (no owner, no lease)', async () => {
    const buf = await buildWorkbook([{ code: 'D002', name: '省教育厅', values: vals(7) }]);
    const user = { username: 'stager', role: 'reporter' as const, unit: 'D002' };
    const s = await m.uploads.stageUpload(user, P, buf, 'staged.xlsx');
    const id = new m.mongoose.Types.ObjectId(s.batch);
    const plain = (await readPlain('upload_batches', { _id: id }))!;
    expect(plain).to.deep.include({ status: 'staged', createdBy: 'stager', createdByUnit: 'D002', leaseAt: null, committedAt: null, finalized: false });
    expect(plain.owner).to.deep.equal({ host: null, pid: null });
    expect(plain.rows).to.deep.equal([{ unit: 'D002', row: 3, values: vals(7) }]);
    await expectSameBatch(id, await referenceBatch(plain, 'staged'));

    // Confirmed: committed from the rows read at confirmation, same result as the API path.
    const c = await m.uploads.confirmUpload(user, s.batch);
    expect(c.accepted).to.deep.equal([{ unit: 'D002', revision: 1 }]);
    const after = (await readPlain('upload_batches', { _id: id }))!;
    expect(after).to.deep.include({ status: 'committed', finalized: true });
    expect(after.accepted).to.deep.equal([{ unit: 'D002', revision: 1 }]);
    expect(after.owner).to.deep.equal({ host: (await import('node:os')).hostname(), pid: process.pid });
    const latest = await m.returns.latestRevision(P, 'D002');
    expect(latest).to.deep.include({ revision: 1, source: 'excel', submittedBy: 'stager', batch: s.batch });
    expect(latest!.values).to.deep.equal(vals(7));
    expect(await m.AuditLog.countDocuments({ key: `batch:${s.batch}:D002` })).to.equal(1);
    // And the reporter sees it through the API.
    expect((await t.api(reporter).get(`/api/v1/returns/${P}/D002`)).body.revision).to.equal(1);
  });

  it('auditMany without keys: what AuditLog.insertMany stores; with a key already there: skipped, no error', async () => {
    const { auditMany } = await import('../../server/services/audit.ts');
    const at = new Date('2026-12-01T01:02:03.456Z');
    const entry = { action: 'shape.check', entity: 'shape', entityId: 'no-key', before: { a: 1, d: at }, after: { list: [1, 2.5, 'x'], none: null }, at };
    await auditMany({ username: 'shaper', role: 'admin' }, [entry]);
    const plain = (await readPlain('audit_log', { entityId: 'no-key' }))!;
    expect(plain).to.not.have.property('key');
    expect(plain.before).to.deep.equal({ a: 1, d: at.toISOString() });
    const [ref] = await m.AuditLog.insertMany([{ at, actor: 'shaper', actorRole: 'admin', action: 'shape.check', entity: 'shape', entityId: 'no-key-ref', before: plain.before, after: plain.after }], { ordered: false });
    const got = (await readTyped('audit_log', { _id: plain._id }))!;
    const want = (await readTyped('audit_log', { _id: ref!._id }))!;
    want._id = got._id;
    want.entityId = got.entityId;
    expect(typed(got)).to.deep.equal(typed(want));
    // Idempotent re-run: a key that exists is skipped, the others are written.
    await auditMany({ username: 'shaper' }, [{ ...entry, entityId: 'k1', key: 'shape:k1' }]);
    await auditMany({ username: 'shaper' }, [{ ...entry, entityId: 'k1', key: 'shape:k1' }, { ...entry, entityId: 'k2', key: 'shape:k2' }]);
    expect(await m.AuditLog.countDocuments({ key: { $in: ['shape:k1', 'shape:k2'] } })).to.equal(2);
  });

  it('uploadBatchDocument refuses what the schema refuses (and any value not already a number)', async () => {
    const { uploadBatchDocument } = await import('../../server/models/upload-batch.ts');
    const ok = { period: P, status: 'pending' as const, source: 'excel' as const, createdBy: 'u', createdAt: new Date(), rows: [{ unit: 'D001', row: 3, values: vals(1) }] };
    expect(uploadBatchDocument(ok).rows[0]!.values).to.deep.equal(vals(1));
    // Values are copied in the schema's field order, whatever the input's order.
    const reversed = Object.fromEntries(Object.entries(vals(1)).reverse());
    expect(Object.keys(uploadBatchDocument({ ...ok, rows: [{ unit: 'D001', values: reversed }] }).rows[0]!.values!)).to.deep.equal(Object.keys(vals(1)));
    // A row without values (a direct commit's record): unit and row only, as the model stores it.
    expect(uploadBatchDocument({ ...ok, rows: [{ unit: 'D001', row: 3 }] }).rows).to.deep.equal([{ unit: 'D001', row: 3 }]);
    const bad = (rows: unknown, over: object = {}) => () => uploadBatchDocument({ ...ok, ...over, rows } as never);
    expect(bad([{ unit: 'D001', values: vals(1, { systems_total: -1 }) }])).to.throw(/systems_total/);
    expect(bad([{ unit: 'D001', values: vals(1, { duties_total: '5' }) }])).to.throw(/duties_total/);
    expect(bad([{ unit: 'D001', values: vals(1, { duties_total: Number.NaN }) }])).to.throw(/duties_total/);
    const missing: Record<string, number> = { ...vals(1) };
    delete missing.catalogue_items;
    expect(bad([{ unit: 'D001', values: missing }])).to.throw(/catalogue_items/);
    expect(bad([{ unit: '', values: vals(1) }])).to.throw(/unit/);
    expect(bad(ok.rows, { status: 'committed' })).to.throw(/status/);
    expect(bad(ok.rows, { source: 'fax' })).to.throw(/source/);
    expect(bad(ok.rows, { createdBy: '' })).to.throw(/createdBy/);
    // None of these would pass the model either.
    for (const values of [vals(1, { systems_total: -1 }), missing]) {
      const err = await new m.UploadBatch({ ...ok, rows: [{ unit: 'D001', values }] }).validate().then(() => null, (e: Error) => e);
      expect(err, JSON.stringify(values)).to.be.instanceOf(Error);
    }
  });
});
