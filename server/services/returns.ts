// Returns (SPEC §3): revisions, the latest revision, review, and the commit protocol that makes a
// many-unit submission visible whole or not at all without multi-document transactions.
//
// Commit protocol
// ---------------
// * A revision is visible when `committed` is true (written outside a batch: a single PUT or web
//   form), or when its batch's status is `committed`. A batch's revisions are written ONCE, with
//   `committed: false`, and never updated: the batch's commit record alone makes them visible, on
//   MongoDB as on the engine (one single-document conditional write; no multi-document atomicity).
//   Revisions of batches committed before 2026-12 carry `committed: true` (the flip this protocol no
//   longer writes); readers accept both.
// * Revision numbers are taken as max+1 with a unique index on (unit, period, revision); a lost race
//   (E11000) retries. A writer never numbers past an invisible revision: if the highest revision of the
//   unit+period belongs to a batch still in flight, the writer waits for that batch to commit or be
//   discarded. So only the highest number can ever be invisible, and a discarded batch's revisions are
//   deleted, which frees their numbers: numbers stay gapless (1, 2, 3…) and in submission order.
// * A batch inserts its revisions in unit-code order (no deadlock between two batches), then ONE
//   conditional write turns the batch `pending` → `committed` (this is the commit record: the batch is
//   now visible whole). Then the audit entries are written and the batch marked `finalized`
//   (roll-forward; idempotent). recoverInterruptedBatches() redoes the roll-forward for batches whose
//   commit record exists and discards the others (whose owner is gone).
// * A batch stuck `pending` (owner process died) blocks its units only until its lease expires or its
//   owner is known dead; then any writer discards it (conditional pending → discarded), deletes its
//   revisions and marks it `finalized` (nothing left to clean up).
// * Writes of one API upload, in order (a kill between any two leaves a state recovery handles):
//   original file (GridFS) → batch `pending` → revisions (committed:false; numbered from the units'
//   current tops, read while the file was parsed) → THE commit record → audit entries (idempotent
//   keys) → `finalized`. The batch is never read back: its rows, fixed at insert, are passed along in
//   memory; the commit record stays conditional on `pending`, so nothing is assumed about what
//   happened meanwhile.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Types } from 'mongoose';
import { clock } from '../clock.ts';
import { AppError, badRequest, conflict, forbidden, notFound, unprocessable } from '../domain/errors.ts';
import { FIELD_KEYS, type ReturnValues, type Role } from '../domain/fields.ts';
import { validateReturnValues } from '../domain/validation.ts';
import { ReturnRevision } from '../models/return-revision.ts';
import { UploadBatch } from '../models/upload-batch.ts';
import { audit, auditMany, isDuplicateKey } from './audit.ts';
import { notify } from './notices.ts';
import { assertOpen, assertQuarter, deadlineOf, markStale, withinIntake } from './periods.ts';
import { getUnit } from './units.ts';
import { pidAlive } from './process-alive.ts';
import { plausibilityWarnings } from './plausibility.ts';
import { previousQuarter } from '../domain/periods.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export type Source = 'web' | 'excel' | 'api';
export type ReturnStatus = 'submitted' | 'approved' | 'rejected';

export interface Submitter {
  username: string;
  role: Role;
  unit?: string;
}

export interface RevisionView {
  unit: string;
  period: string;
  revision: number;
  values: ReturnValues;
  status: ReturnStatus;
  late: boolean;
  submittedAt: string;
  submittedBy: string;
  source: Source;
  batch: string | null;
  file: string | null;
  review: { decision: 'approve' | 'reject'; reason: string | null; by: string; at: string } | null;
  /** Warnings of the upload that made it ({sheet, row, column, field, message}); [] for none. */
  warnings: RevisionWarning[];
}

export interface RevisionWarning {
  sheet: string | null;
  row: number | null;
  column: string | null;
  field: string | null;
  message: string;
}

type RevisionLean = {
  _id: Types.ObjectId;
  unit: string;
  period: string;
  revision: number;
  values: Record<string, unknown>;
  source: string;
  submittedBy: string;
  submittedAt: Date;
  batch?: Types.ObjectId | null;
  committed: boolean;
  file?: Types.ObjectId | null;
  review?: { decision: string; reason?: string | null; by: string; at: Date } | null;
  warnings?: RevisionWarning[] | null;
};

const LEASE_MS = 30_000;
const INSTANCE = randomUUID();
const HOST = hostname();
const activeBatches = new Set<string>();

/** The 11 values as numbers, in field order (one object per row: a plain loop, no entry arrays). */
function cleanValues(v: Record<string, unknown>): ReturnValues {
  const out = {} as Record<string, number>;
  for (let i = 0; i < FIELD_KEYS.length; i++) {
    const k = FIELD_KEYS[i]!;
    out[k] = Number(v[k]);
  }
  return out as ReturnValues;
}

export function statusOf(doc: Pick<RevisionLean, 'review'>): ReturnStatus {
  if (doc.review?.decision === 'approve') return 'approved';
  if (doc.review?.decision === 'reject') return 'rejected';
  return 'submitted';
}

function toView(doc: RevisionLean, late: boolean): RevisionView {
  return {
    unit: doc.unit,
    period: doc.period,
    revision: doc.revision,
    values: cleanValues(doc.values),
    status: statusOf(doc),
    late,
    submittedAt: doc.submittedAt.toISOString(),
    submittedBy: doc.submittedBy,
    source: doc.source as Source,
    batch: doc.batch ? String(doc.batch) : null,
    file: doc.file ? String(doc.file) : null,
    review: doc.review
      ? { decision: doc.review.decision as 'approve' | 'reject', reason: doc.review.reason ?? null, by: doc.review.by, at: doc.review.at.toISOString() }
      : null,
    warnings: (doc.warnings ?? []).map((w) => ({ sheet: w.sheet ?? null, row: w.row ?? null, column: w.column ?? null, field: w.field ?? null, message: w.message })),
  };
}

// ---- visibility ----

async function committedBatches(ids: (Types.ObjectId | null | undefined)[]): Promise<Set<string>> {
  const uniq = [...new Set(ids.filter((x): x is Types.ObjectId => !!x).map(String))];
  const out = new Set<string>();
  // ≤ DOCS_PER_COMMAND ids a read: a period's revisions may come from tens of thousands of web uploads.
  for (let i = 0; i < uniq.length; i += DOCS_PER_COMMAND) {
    const docs = await UploadBatch.collection.find({ _id: { $in: uniq.slice(i, i + DOCS_PER_COMMAND).map((x) => new Types.ObjectId(x)) }, status: 'committed' }, { projection: { _id: 1 } }).toArray();
    for (const d of docs) out.add(String(d._id));
  }
  return out;
}

/** Visible revisions among `docs` (committed, or of a committed batch). */
async function visibleOnly(docs: RevisionLean[]): Promise<RevisionLean[]> {
  const pending = docs.filter((d) => !d.committed);
  if (!pending.length) return docs;
  const ok = await committedBatches(pending.map((d) => d.batch));
  return docs.filter((d) => d.committed || (d.batch && ok.has(String(d.batch))));
}

/** The periods that hold at least one revision (committed or not). */
export async function periodsWithReturns(): Promise<string[]> {
  return (await ReturnRevision.distinct('period')).map(String);
}

/** All visible revisions of one unit's return, oldest first. */
export async function revisionsOf(period: string, unit: string): Promise<RevisionView[]> {
  // 404 period_not_open for a period never opened (SPEC §2), with or without revisions.
  const deadline = await deadlineOf(period);
  const docs = (await ReturnRevision.find({ unit, period }).sort({ revision: 1 }).lean()) as unknown as RevisionLean[];
  const vis = await visibleOnly(docs);
  if (!vis.length) return [];
  const late = vis[0]!.submittedAt.getTime() > deadline.getTime();
  return vis.map((d) => toView(d, late));
}

export async function latestRevision(period: string, unit: string): Promise<RevisionView | null> {
  const all = await revisionsOf(period, unit);
  return all.length ? all[all.length - 1]! : null;
}

export interface PeriodReturn {
  unit: string;
  latest: RevisionView;
  firstSubmittedAt: string;
  revisions: number;
}

/**
 * The latest visible revision of every unit that has one, for a period (the scoring input: use
 * `latest.values` unless `latest.status` is 'rejected'; `latest.late` is the late flag of SPEC §3).
 */
export async function periodReturns(period: string): Promise<Map<string, PeriodReturn>> {
  return latestReturns(period);
}

/**
 * {@link periodReturns} for some units only (e.g. the rows of an upload preview): one read for all of
 * them instead of one {@link latestRevision} per unit, with the same result per unit.
 */
export async function latestReturns(period: string, units?: readonly string[]): Promise<Map<string, PeriodReturn>> {
  const filter = units ? { period, unit: { $in: [...new Set(units)] } } : { period };
  // Everything a view needs; not the _id and version key (a period holds one document per revision).
  const docs = (await ReturnRevision.find(filter, { _id: 0, __v: 0 }).sort({ unit: 1, revision: 1 }).batchSize(DOCS_PER_COMMAND).lean()) as unknown as RevisionLean[];
  const vis = await visibleOnly(docs);
  const deadline = await deadlineOf(period);
  const out = new Map<string, PeriodReturn>();
  const first = new Map<string, Date>();
  const count = new Map<string, number>();
  const last = new Map<string, RevisionLean>();
  for (const d of vis) {
    if (!first.has(d.unit)) first.set(d.unit, d.submittedAt);
    count.set(d.unit, (count.get(d.unit) ?? 0) + 1);
    last.set(d.unit, d);
  }
  for (const [unit, d] of last) {
    const f = first.get(unit)!;
    out.set(unit, { unit, latest: toView(d, f.getTime() > deadline.getTime()), firstSubmittedAt: f.toISOString(), revisions: count.get(unit)! });
  }
  return out;
}

/** What scoring needs of a unit's latest visible revision (see {@link latestReturnFacts}). */
export interface LatestReturnFacts {
  unit: string;
  revision: number;
  /** The stored values (as stored: callers convert with Number). */
  values: Record<string, unknown>;
  /** The latest visible revision was rejected. */
  rejected: boolean;
  /** The latest visible revision was approved. */
  approved: boolean;
  /** The unit's first visible revision came after the deadline. */
  late: boolean;
}

/**
 * The visible revisions of a period read by cursor in (unit, revision) order, one unit at a time: its
 * first and latest visible revision and how many are visible (what {@link latestReturns} derives from
 * the whole period at once). A page of the cursor at a time: the batches of its uncommitted revisions
 * not seen before are looked up in one read (each batch once per call).
 */
async function* visibleByUnit<D extends Pick<RevisionLean, 'unit' | 'committed' | 'batch'>>(
  period: string,
  projection: Record<string, 0 | 1>,
  units?: readonly string[],
): AsyncGenerator<{ first: D; last: D; count: number }> {
  const filter = units ? { period, unit: { $in: [...new Set(units)] } } : { period };
  const cursor = ReturnRevision.collection.find<D>(filter, { projection, sort: { unit: 1, revision: 1 }, batchSize: DOCS_PER_COMMAND });
  const batchOk = new Map<string, boolean>();
  let unit: string | null = null;
  let first: D | null = null;
  let last: D | null = null;
  let count = 0;
  let page: D[] = [];
  async function* drain(): AsyncGenerator<{ first: D; last: D; count: number }> {
    const unknown = page.filter((d) => !d.committed && d.batch && !batchOk.has(String(d.batch))).map((d) => d.batch);
    if (unknown.length) {
      const ok = await committedBatches(unknown);
      for (const id of unknown) batchOk.set(String(id), ok.has(String(id)));
    }
    for (const d of page) {
      if (d.unit !== unit) {
        if (last) yield { first: first!, last, count };
        unit = d.unit;
        first = last = null;
        count = 0;
      }
      if (!d.committed && !(d.batch && batchOk.get(String(d.batch)))) continue;
      first ??= d;
      last = d;
      count++;
    }
    page = [];
  }
  try {
    for await (const d of cursor) {
      page.push(d);
      if (page.length >= DOCS_PER_COMMAND) yield* drain();
    }
    yield* drain();
    if (last) yield { first: first!, last, count };
  } finally {
    await cursor.close();
  }
}

/**
 * The scoring facts of {@link periodReturns} (the same latest visible revision and late flag per unit),
 * read by cursor in unit order and yielded one unit at a time: a period of any size is never held in
 * memory (the score job's input at national scale). Only the fields scoring needs are read.
 */
export async function* latestReturnFacts(period: string): AsyncGenerator<LatestReturnFacts> {
  const deadline = (await deadlineOf(period)).getTime();
  type Doc = Pick<RevisionLean, 'unit' | 'revision' | 'values' | 'submittedAt' | 'committed' | 'batch'> & { review?: { decision?: string } | null };
  const projection = { _id: 0, unit: 1, revision: 1, values: 1, submittedAt: 1, committed: 1, batch: 1, 'review.decision': 1 } as const;
  for await (const { first, last } of visibleByUnit<Doc>(period, projection)) {
    yield { unit: last.unit, revision: last.revision, values: last.values, rejected: last.review?.decision === 'reject', approved: last.review?.decision === 'approve', late: first.submittedAt.getTime() > deadline };
  }
}

/**
 * {@link periodReturns}, one unit at a time in unit-code order, read by cursor (the period workbook's
 * returns sheet at national scale): for every unit the same PeriodReturn as periodReturns gives.
 */
export async function* streamPeriodReturns(period: string): AsyncGenerator<PeriodReturn> {
  const deadline = (await deadlineOf(period)).getTime();
  for await (const { first, last, count } of visibleByUnit<RevisionLean>(period, { _id: 0, __v: 0 })) {
    yield { unit: last.unit, latest: toView(last, first.submittedAt.getTime() > deadline), firstSubmittedAt: first.submittedAt.toISOString(), revisions: count };
  }
}

/**
 * Each unit's usable values of a period: its latest visible revision's values unless that revision was
 * rejected (SPEC §3) — what `latestReturns(…).get(u).latest.values` gives when its status is not
 * 'rejected', read with the few fields that decides (the plausibility check's history). All units of
 * the period, or only `units`.
 */
export async function latestUsableValues(period: string, units?: readonly string[]): Promise<Map<string, ReturnValues>> {
  type Doc = Pick<RevisionLean, 'unit' | 'values' | 'committed' | 'batch'> & { review?: { decision?: string } | null };
  const projection = { _id: 0, unit: 1, values: 1, committed: 1, batch: 1, 'review.decision': 1 } as const;
  const out = new Map<string, ReturnValues>();
  for await (const { last } of visibleByUnit<Doc>(period, projection, units)) {
    if (last.review?.decision !== 'reject') out.set(last.unit, cleanValues(last.values));
  }
  return out;
}

/**
 * {@link latestUsableValues} of a whole period and, from the same read, each unit's
 * {@link latestReturnFacts} handed to `onFacts` (总览 counts the collecting period's progress while it
 * reads its values).
 */
export async function usableValuesWithFacts(period: string, onFacts: (f: LatestReturnFacts) => void): Promise<Map<string, ReturnValues>> {
  const out = new Map<string, ReturnValues>();
  for await (const f of latestReturnFacts(period)) {
    onFacts(f);
    if (!f.rejected) out.set(f.unit, cleanValues(f.values));
  }
  return out;
}

// ---- numbering and batches ----

/** A unit's highest revision of a period, visible or not: where the next number comes from. */
export interface TopRevision {
  unit: string;
  revision: number;
  committed: boolean;
  batch?: Types.ObjectId | null;
}

/**
 * The units' current tops in one period (all units of the period, or only `units`, ≤ DOCS_PER_COMMAND a
 * read). An upload reads them while its file is parsed: a top that changed meanwhile only costs the
 * unit the one-by-one path (the unique index refuses a taken number).
 */
export async function currentTops(period: string, units?: readonly string[]): Promise<Map<string, TopRevision>> {
  const tops = new Map<string, TopRevision>();
  // Only each unit's highest revision comes back, whatever the number of revisions per unit (a
  // province re-uploaded five times on deadline day holds five revisions a unit): the database picks
  // it ($sort + $group, `$first` of each field), ≤ DOCS_PER_COMMAND results a reply.
  const read = async (match: Record<string, unknown>) => {
    const pipeline = [
      { $match: match },
      { $project: { _id: 0, unit: 1, revision: 1, committed: 1, batch: 1 } },
      { $sort: { unit: 1, revision: -1 } },
      { $group: { _id: '$unit', revision: { $first: '$revision' }, committed: { $first: '$committed' }, batch: { $first: '$batch' } } },
    ];
    const cursor = ReturnRevision.collection.aggregate<{ _id: string; revision: number; committed: boolean | null; batch: Types.ObjectId | null }>(pipeline, { batchSize: DOCS_PER_COMMAND });
    for await (const d of cursor) tops.set(d._id, { unit: d._id, revision: d.revision, committed: d.committed === true, batch: d.batch ?? null });
  };
  if (!units) await read({ period });
  else for (let i = 0; i < units.length; i += DOCS_PER_COMMAND) await read({ period, unit: { $in: units.slice(i, i + DOCS_PER_COMMAND) } });
  return tops;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type BatchOwner = { host?: string | null; pid?: number | null; instance?: string | null };

/** Whether a pending batch's committing process is certainly gone or its lease ran out. */
function ownerGone(b: { owner?: BatchOwner | null; leaseAt?: Date | null; _id: unknown }): boolean {
  if (activeBatches.has(String(b._id))) return false;
  const o = b.owner ?? {};
  if (o.host === HOST && typeof o.pid === 'number') {
    if (o.pid === process.pid) return o.instance !== INSTANCE; // ours from an earlier life of this pid
    if (!pidAlive(o.pid)) return true;
  }
  // Lease on wall time (a technical timeout, deliberately not the business clock).
  return !b.leaseAt || Date.now() - b.leaseAt.getTime() > LEASE_MS;
}

/**
 * Marks a pending batch discarded (if still pending), deletes its revisions and marks it `finalized`
 * (clean-up done: recovery looks only at discarded batches not finalized).
 */
async function discardBatch(id: Types.ObjectId | string, reason: string): Promise<void> {
  await UploadBatch.updateOne({ _id: id, status: { $in: ['pending', 'staged'] } }, { $set: { status: 'discarded', discardedReason: reason } });
  await cleanUpDiscarded(id);
}

async function cleanUpDiscarded(id: Types.ObjectId | string): Promise<void> {
  const b = await UploadBatch.findById(id, { status: 1 }).lean();
  if (!b || b.status !== 'discarded') return;
  await ReturnRevision.deleteMany({ batch: id, committed: false });
  await UploadBatch.updateOne({ _id: id, status: 'discarded' }, { $set: { finalized: true } });
}

/**
 * Inserts one revision with the next number for (unit, period). Waits while the highest existing
 * revision is invisible (its batch in flight); removes revisions of dead / discarded batches.
 */
async function appendRevision(doc: Omit<RevisionLean, '_id' | 'revision' | 'submittedAt'>): Promise<{ revision: number; submittedAt: Date }> {
  const { unit, period } = doc;
  for (let attempt = 0; ; attempt++) {
    const top = (await ReturnRevision.findOne({ unit, period }, { revision: 1, committed: 1, batch: 1 }).sort({ revision: -1 }).lean()) as unknown as RevisionLean | null;
    if (top && !top.committed) {
      const b = top.batch ? await UploadBatch.findById(top.batch, { status: 1, owner: 1, leaseAt: 1 }).lean() : null;
      if (b && String(b._id) === String(doc.batch)) throw new Error('batch holds two rows for one unit');
      if (!b || b.status === 'discarded' || b.status === 'staged') {
        await ReturnRevision.deleteOne({ _id: top._id, committed: false });
        continue;
      }
      if (b.status === 'pending') {
        if (ownerGone(b as never)) await discardBatch(b._id, '提交进程已中断');
        else await sleep(5 + Math.floor(Math.random() * Math.min(50, 10 + attempt)));
        continue;
      }
      // committed batch not yet rolled forward: visible, go on numbering after it.
    }
    const revision = (top?.revision ?? 0) + 1;
    const submittedAt = clock.now();
    try {
      await ReturnRevision.create([{ ...doc, revision, submittedAt, review: null } as never]);
      return { revision, submittedAt };
    } catch (err) {
      if (isDuplicateKey(err)) {
        if (attempt > 5000) throw new AppError(503, 'busy', '提交过于频繁，请稍后重试');
        continue;
      }
      throw err;
    }
  }
}

export interface BatchRow {
  unit: string;
  values: ReturnValues;
  row?: number | null;
}

/**
 * Fast path for a many-unit batch: one read of the current tops (or those read while the file was
 * parsed: `prefetched`), one unordered insert. Units whose top
 * revision is invisible (another batch in flight) or whose number was taken meanwhile (E11000) are left
 * for the one-by-one path. Returns unit → revision for the rows inserted.
 */
async function fastInsert(
  period: string,
  rows: { unit: string; values: ReturnValues; warnings?: RevisionWarning[] | null }[],
  base: Omit<RevisionLean, '_id' | 'revision' | 'submittedAt' | 'unit' | 'period' | 'values'>,
  prefetched?: Promise<Map<string, TopRevision>>,
): Promise<Map<string, number>> {
  const done = new Map<string, number>();
  if (rows.length < 2) return done;
  const tops = (await prefetched) ?? (await currentTops(period, rows.map((r) => r.unit)));
  const inFlightOrBatched = rows.map((r) => tops.get(r.unit)).filter((d) => d && !d.committed);
  const visibleBatches = await committedBatches(inFlightOrBatched.map((d) => d!.batch));
  const submittedAt = clock.now();
  // Only the longest prefix (rows come in unit-code order) whose tops are all visible: every batch must
  // take its units in code order, or two batches racing for the same units wait for each other forever
  // (found by test/load/load.test.ts).
  const prefix: typeof rows = [];
  for (const r of rows) {
    const top = tops.get(r.unit);
    if (!(!top || top.committed || (top.batch && visibleBatches.has(String(top.batch))))) break;
    prefix.push(r);
  }
  // Same keys in the same order as `{ ...base, unit, … }` always gave (the stored shape is unchanged).
  const { source, submittedBy, batch, committed, file } = base;
  const docs = prefix.map((r) => ({ source, submittedBy, batch, committed, file, unit: r.unit, period, values: r.values, revision: (tops.get(r.unit)?.revision ?? 0) + 1, submittedAt, review: null, ...(r.warnings?.length ? { warnings: r.warnings } : {}) }));
  if (!docs.length) return done;
  // ≤ DOCS_PER_COMMAND documents a command, in code order; after a chunk with a lost race the later chunks
  // are not inserted (they follow the first lost race: their units are numbered one by one below).
  let failed = new Set<number>();
  for (let i = 0; i < docs.length && !failed.size; i += DOCS_PER_COMMAND) {
    try {
      await ReturnRevision.collection.insertMany(docs.slice(i, i + DOCS_PER_COMMAND) as never[], { ordered: false });
    } catch (err) {
      const writeErrors = (err as { writeErrors?: { index?: number; err?: { index?: number } }[] }).writeErrors;
      if (!isDuplicateKey(err) || !Array.isArray(writeErrors)) throw err;
      failed = new Set(writeErrors.map((w) => i + ((w.index ?? w.err?.index) as number)));
    }
  }
  // Keep only what precedes the first lost race; give back the rest (same ordering rule as above).
  const firstFailed = failed.size ? Math.min(...failed) : docs.length;
  const giveBack = docs.slice(firstFailed + 1).filter((_, j) => !failed.has(firstFailed + 1 + j)).map((d) => d.unit);
  if (giveBack.length) await ReturnRevision.deleteMany({ period, batch: base.batch, committed: false, unit: { $in: giveBack } });
  docs.slice(0, firstFailed).forEach((d) => done.set(d.unit, d.revision));
  return done;
}

/** What a commit needs to know of its batch; all of it is fixed when the batch is inserted. */
export interface BatchToCommit {
  period: string;
  source: string;
  createdBy: string;
  file?: Types.ObjectId | null;
  rows: readonly { unit: string; values: Readonly<Record<string, unknown>>; warnings?: readonly RevisionWarning[] | null }[];
}

/**
 * Commits a batch already stored with status 'pending' (or takes a staged one): inserts its revisions
 * invisibly, then flips the batch to committed in one write. Returns [{unit, revision}] in row order.
 *
 * `known`: the batch as the caller just wrote (or read and then moved to 'pending' by a conditional
 * write). Its period, source, author, file and rows never change after insert, so the commit uses
 * them instead of reading the batch back. Without it, the batch is read and must be pending. Either
 * way nothing is taken for granted that the protocol needs: the commit record is conditional on the
 * batch still being pending, whatever happened meanwhile. `opts.tops`: the units' tops read earlier
 * (see {@link currentTops}).
 */
export async function commitBatch(batchId: Types.ObjectId, known?: BatchToCommit, opts: { tops?: Promise<Map<string, TopRevision>> } = {}): Promise<{ unit: string; revision: number }[]> {
  const key = String(batchId);
  activeBatches.add(key);
  let committed = false;
  try {
    let batch: BatchToCommit;
    if (known) batch = known;
    else {
      const b = await UploadBatch.findById(batchId).lean();
      if (!b || b.status !== 'pending') throw conflict('batch_not_pending', '该批次已提交或已作废');
      batch = b as unknown as BatchToCommit;
    }
    const rows = batch.rows.map((r) => ({ unit: r.unit, values: cleanValues(r.values as never), ...(r.warnings?.length ? { warnings: [...r.warnings] } : {}) }));
    const sorted = [...rows].sort((a, b) => (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : 0));
    const base = { source: batch.source, submittedBy: batch.createdBy, batch: batchId, committed: false, file: batch.file ?? null };
    const numbers = await fastInsert(batch.period, sorted, base, opts.tops);
    let renewed = Date.now();
    for (const r of sorted) {
      if (numbers.has(r.unit)) continue;
      const { revision } = await appendRevision({ unit: r.unit, period: batch.period, values: r.values, ...base, ...(r.warnings ? { warnings: r.warnings } : {}) });
      numbers.set(r.unit, revision);
      if (Date.now() - renewed > LEASE_MS / 6) {
        renewed = Date.now();
        await UploadBatch.updateOne({ _id: batchId, status: 'pending' }, { $set: { leaseAt: new Date(renewed) } });
      }
    }
    const accepted = rows.map((r) => ({ unit: r.unit, revision: numbers.get(r.unit)! }));
    // The period may have been published or closed while the rows were written: then nothing is
    // committed. Inside the intake fence, so that a publication either sees the commit or refuses it.
    const committedAt = clock.now();
    // THE commit record: one atomic, conditional write. Through the driver: `accepted` is n plain
    // {unit, revision} pairs, stored exactly as the schema's casting would store them.
    const res = await withinIntake(batch.period, 'open', () =>
      UploadBatch.collection.updateOne({ _id: batchId, status: 'pending' }, { $set: { status: 'committed', committedAt, accepted } }),
    );
    if (res.modifiedCount !== 1) throw new AppError(503, 'batch_aborted', '提交耗时过长已被中止，未保存任何数据，请重新提交');
    committed = true;
    const valuesOf = new Map(rows.map((r) => [r.unit, r.values]));
    await finalizeBatch(batchId, { period: batch.period, source: batch.source, createdBy: batch.createdBy, committedAt, accepted, valuesOf });
    await markStale([batch.period]);
    return accepted;
  } catch (err) {
    if (!committed) await discardBatch(batchId, err instanceof AppError ? err.message : '提交失败').catch(() => {});
    throw err;
  } finally {
    activeBatches.delete(key);
  }
}

/** A committed batch as its roll-forward needs it. */
interface CommittedBatch {
  period: string;
  source: string;
  createdBy: string;
  committedAt: Date | null;
  accepted: { unit: string; revision: number }[];
  valuesOf: Map<string, ReturnValues>;
}

/** Each unit's values in a committed batch, from its revisions (a direct commit's record holds none). */
async function batchValues(batchId: Types.ObjectId): Promise<Map<string, ReturnValues>> {
  const out = new Map<string, ReturnValues>();
  const cursor = ReturnRevision.collection.find<{ unit: string; values: Record<string, unknown> }>({ batch: batchId }, { projection: { _id: 0, unit: 1, values: 1 }, batchSize: DOCS_PER_COMMAND });
  for await (const d of cursor) out.set(d.unit, cleanValues(d.values));
  return out;
}

/**
 * Roll-forward of a committed batch: writes its audit entries, then marks it finalized. Idempotent.
 * `known`: the batch as its committing writer just recorded it (skips reading it back); recovery
 * passes nothing and reads the batch, which must be committed and not yet finalized.
 */
async function finalizeBatch(batchId: Types.ObjectId, known?: CommittedBatch): Promise<void> {
  let b: CommittedBatch;
  if (known) b = known;
  else {
    const d = await UploadBatch.findById(batchId).lean();
    if (!d || d.status !== 'committed' || d.finalized) return;
    b = {
      period: d.period,
      source: d.source,
      createdBy: d.createdBy,
      committedAt: d.committedAt ?? null,
      accepted: d.accepted.map((a) => ({ unit: a.unit!, revision: a.revision! })),
      valuesOf: await batchValues(batchId),
    };
  }
  // ≤ DOCS_PER_COMMAND entries a command: idempotent, so a roll-forward cut short is simply done again by
  // recovery. (The revisions need no write: the commit record made them visible.)
  const batch = String(batchId);
  for (let i = 0; i < b.accepted.length; i += DOCS_PER_COMMAND) {
    await auditMany(
      { username: b.createdBy },
      b.accepted.slice(i, i + DOCS_PER_COMMAND).map((a) => ({
        action: 'return.submit',
        entity: 'return',
        entityId: `${b.period}/${a.unit}`,
        before: null,
        after: { revision: a.revision, values: b.valuesOf.get(a.unit) ?? null, source: b.source, batch },
        key: `batch:${batch}:${a.unit}`,
        at: b.committedAt ?? undefined,
      })),
    );
  }
  await UploadBatch.updateOne({ _id: batchId }, { $set: { finalized: true } });
}

export function newOwner() {
  return { host: HOST, pid: process.pid, instance: INSTANCE };
}

/**
 * Start-up recovery: rolls forward every batch whose commit record was written, and discards pending
 * batches whose committing process is gone (this process's earlier life, a dead pid on this host, or an
 * expired lease). Safe to call at any time and more than once. Call from main.ts before listening.
 */
export async function recoverInterruptedBatches(): Promise<{ rolledForward: number; discarded: number }> {
  let rolledForward = 0;
  let discarded = 0;
  for (const b of await UploadBatch.find({ status: 'committed', finalized: { $ne: true } }, { _id: 1 }).lean()) {
    await finalizeBatch(b._id);
    rolledForward++;
  }
  for (const b of await UploadBatch.find({ status: 'pending' }).lean()) {
    if (ownerGone(b as never)) {
      await discardBatch(b._id, '提交进程已中断（启动时清理）');
      discarded++;
    }
  }
  // Previews never confirmed: discard after a day (their rows never became revisions).
  await UploadBatch.updateMany(
    { status: 'staged', createdAt: { $lt: new Date(clock.now().getTime() - 24 * 3600 * 1000) } },
    { $set: { status: 'discarded', discardedReason: '预览已过期', finalized: true } },
  );
  // Discarded batches whose clean-up was cut short (or that were discarded before it existed): their
  // revisions are invisible; delete them. (A batch is stored before its revisions, so every revision's
  // batch exists.)
  for (const b of await UploadBatch.find({ status: 'discarded', finalized: { $ne: true } }, { _id: 1 }).lean()) await cleanUpDiscarded(b._id);
  return { rolledForward, discarded };
}

// ---- use cases ----

/** Who may submit for a unit: admins for any unit, reporters for their own; reviewer and office may not. */
export function assertCanSubmit(p: Submitter, unit: string): void {
  if (p.role === 'admin') return;
  if (p.role === 'reporter') {
    if (p.unit === unit) return;
    throw forbidden(`只能填报本单位（${p.unit ?? '未绑定单位'}）的数据，不能填报单位「${unit}」`);
  }
  throw forbidden('当前角色不能填报数据');
}

export function assertCanRead(p: Submitter, unit: string): void {
  if (p.role === 'reporter' && p.unit !== unit) throw forbidden('只能查看本单位的填报数据');
}

export async function requireActiveUnit(code: string) {
  const u = await getUnit(code);
  if (!u) throw notFound('unit_not_found', `单位「${code}」不存在`);
  if (!u.active) throw conflict('unit_inactive', `单位「${code}」已停用，不能填报`);
  return u;
}

/** PUT /returns/:period/:unit and the web form: validates, then appends a revision. */
export async function submitValues(p: Submitter, period: string, unit: string, input: unknown, source: Source): Promise<RevisionView> {
  assertQuarter(period);
  assertCanSubmit(p, unit);
  await requireActiveUnit(unit);
  await assertOpen(period);
  const v = validateReturnValues(input, { allowUnknown: source === 'web' });
  if (!v.ok) {
    throw unprocessable('invalid_values', v.errors.map((e) => e.message).join('；'), { errors: v.errors });
  }
  // Plausibility against the unit's history: warnings kept on the revision, never a refusal.
  const warnings = (await plausibilityWarnings(period, [{ unit, values: v.values }])).get(unit) ?? [];
  const { revision, submittedAt } = await withinIntake(period, 'open', () =>
    appendRevision({ unit, period, values: v.values, source, submittedBy: p.username, batch: null, committed: true, file: null, ...(warnings.length ? { warnings } : {}) }),
  );
  await audit(
    { username: p.username, role: p.role },
    { action: 'return.submit', entity: 'return', entityId: `${period}/${unit}`, after: { revision, values: v.values, source }, at: submittedAt },
  );
  await markStale([period]);
  const latest = (await revisionsOf(period, unit)).find((r) => r.revision === revision);
  if (!latest) throw new AppError(500, 'internal', '保存后未能读取该版本');
  return latest;
}

export async function reviewReturn(
  p: Submitter,
  period: string,
  unit: string,
  body: { decision?: unknown; reason?: unknown; revision?: unknown },
): Promise<RevisionView> {
  assertQuarter(period);
  if (p.role !== 'reviewer' && p.role !== 'admin') throw forbidden('只有审核人员可以审核填报数据');
  const decision = body.decision;
  if (decision !== 'approve' && decision !== 'reject') throw badRequest('invalid_decision', '审核结论应为 approve（通过）或 reject（退回）');
  const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
  if (decision === 'reject' && !reason) throw unprocessable('reason_required', '退回时必须填写退回原因', { errors: [{ field: 'reason', message: '退回时必须填写退回原因' }] });
  if (reason.length > 1000) throw unprocessable('reason_too_long', '退回原因不能超过 1000 字');
  const { latest, review } = await withinIntake(period, 'unpublished', async () => {
    const latest = await latestRevision(period, unit);
    if (!latest) throw notFound('return_not_found', `单位「${unit}」${period} 期尚未填报`);
    if (body.revision !== undefined && body.revision !== null && body.revision !== '' && Number(body.revision) !== latest.revision) {
      throw conflict('stale_revision', `该单位已提交新的版本（第 ${latest.revision} 版），请刷新后再审核`);
    }
    const review = { decision, reason: reason || null, by: p.username, at: clock.now() };
    const res = await ReturnRevision.updateOne({ unit, period, revision: latest.revision }, { $set: { review } });
    if (res.matchedCount !== 1) throw new AppError(500, 'internal', '审核保存失败');
    return { latest, review };
  });
  await audit(
    { username: p.username, role: p.role },
    { action: 'return.review', entity: 'return', entityId: `${period}/${unit}`, before: { revision: latest.revision, review: latest.review }, after: { revision: latest.revision, review } },
  );
  await markStale([period]);
  await notify({
    unit,
    kind: decision === 'reject' ? 'return.rejected' : 'return.approved',
    period,
    title: decision === 'reject' ? `${period} 期填报数据（第 ${latest.revision} 版）被退回` : `${period} 期填报数据（第 ${latest.revision} 版）已审核通过`,
    body: decision === 'reject' ? `退回原因：${reason}。请修改后重新提交。` : '',
    createdBy: p.username,
  });
  return (await latestRevision(period, unit))!;
}


// ---- prefill (the web form's 按上期数据预填) ----

export interface PrefillSource {
  period: string;
  revision: number;
  status: ReturnStatus;
  values: ReturnValues;
}

/**
 * The previous quarter's latest usable revision of a unit — the newest visible revision that was not
 * rejected — to pre-fill the web form with; null when there is none (no previous quarter opened, no
 * return, or only rejected revisions). A read: writes nothing.
 */
export async function previousQuarterValues(period: string, unit: string): Promise<PrefillSource | null> {
  const prev = previousQuarter(assertQuarter(period));
  if (!prev) return null;
  const docs = (await ReturnRevision.find({ unit, period: prev }).sort({ revision: 1 }).lean()) as unknown as RevisionLean[];
  const usable = (await visibleOnly(docs)).filter((d) => statusOf(d) !== 'rejected');
  const d = usable[usable.length - 1];
  return d ? { period: prev, revision: d.revision, status: statusOf(d), values: cleanValues(d.values) } : null;
}
