// The only module that reads or writes ResultSet / ResultRow (server/models/result.ts).
//
// Snapshot protocol (no multi-document transactions): a computation's rows are inserted under a fresh
// computeId, then the period's pointer document (result_sets) is flipped to that computeId in one
// conditional write. Readers follow the pointer only, so a computation killed half-way is never seen;
// its stray rows are swept by the next computation. A final set is never flipped by a computation,
// only by an explicit, audited reopen.
import mongoose from 'mongoose';
import { clock } from '../clock.ts';
import { conflict } from '../domain/errors.ts';
import type { UnitCategory } from '../domain/fields.ts';
import type { UnitExplanation, UnitResult } from '../domain/scoring/score.ts';
import { ResultRow, ResultSet, type ResultSetDoc } from '../models/result.ts';
import { audit, type Actor } from '../services/audit.ts';
import { markPublished } from '../services/periods.ts';
import { packExplanations, unpackExplanation } from './explanation-store.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

const { ObjectId } = mongoose.Types;
export type ObjectIdT = InstanceType<typeof ObjectId>;

/** Rows of computations that never became current are removed once older than this. */
const STRAY_AGE_MS = 3600 * 1000;
export const SYSTEM_ACTOR: Actor = { username: 'system', role: 'system' };

/** What a reader needs of a period's pointer document (result_sets). */
export interface ResultSetPointer {
  period: string;
  computeId: ObjectIdT;
  status: 'provisional' | 'final';
  schemeVersion: number;
  computedAt: Date;
  publishedAt?: Date | null;
  deadline: Date;
}

/** One unit's stored result as views read it (SPEC §7's row plus the revision it was computed from). */
export type ResultRowView = UnitResult & { revision: number | null };

const POINTER_PROJECTION = { _id: 0, period: 1, computeId: 1, status: 1, schemeVersion: 1, computedAt: 1, publishedAt: 1, deadline: 1 } as const;

/** The fields of a result row that views read (also what the export benchmark's baseline reads). */
export const ROW_PROJECTION = {
  _id: 0,
  unit: 1,
  name: 1,
  category: 1,
  indicators: 1,
  base: 1,
  deductions: 1,
  total: 1,
  grade: 1,
  rank: 1,
  rankChange: 1,
  flags: 1,
  revision: 1,
} as const;

type StoredRow = Partial<Record<keyof typeof ROW_PROJECTION, unknown>>;

function rowView(r: StoredRow): ResultRowView {
  return {
    unit: r.unit as string,
    name: r.name as string,
    category: r.category as UnitCategory,
    indicators: r.indicators as UnitResult['indicators'],
    base: (r.base as number | null) ?? null,
    deductions: (r.deductions as number | null) ?? null,
    total: (r.total as number | null) ?? null,
    grade: (r.grade as UnitResult['grade']) ?? null,
    rank: (r.rank as number | null) ?? null,
    rankChange: (r.rankChange as number | null) ?? null,
    flags: (r.flags as UnitResult['flags']) ?? [],
    revision: (r.revision as number | null) ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Pointers

// Pointer reads happen on every results request: plain driver reads, projected (the same documents
// as the model's lean reads, without mongoose's query machinery).
export async function readPointer(period: string): Promise<ResultSetPointer | null> {
  return ResultSet.collection.findOne<ResultSetPointer>({ period }, { projection: POINTER_PROJECTION });
}

/** Every period's pointer, in one read (pages list the periods and show one of them). */
export async function readPointers(): Promise<ResultSetPointer[]> {
  return ResultSet.collection.find<ResultSetPointer>({}, { projection: POINTER_PROJECTION }).toArray();
}

/** The pointer document as stored (status, reopens …), or null. */
export async function resultSetOf(period: string): Promise<ResultSetDoc | null> {
  return ResultSet.findOne({ period }).lean<ResultSetDoc>();
}

export async function hasPublished(): Promise<boolean> {
  return (await ResultSet.exists({ status: 'final' })) !== null;
}

/** Published periods, oldest first (the latest `limit` when given). */
export async function finalPeriods(opts: { limit?: number } = {}): Promise<string[]> {
  const q = ResultSet.find({ status: 'final' }, { period: 1 }).sort({ period: -1 });
  if (opts.limit) q.limit(opts.limit);
  return (await q.lean()).map((s) => s.period).reverse();
}

/** Result sets of all periods, newest first (admin jobs page). */
export async function listResultSets(now: Date) {
  const sets = await ResultSet.find({}, { period: 1, status: 1, schemeVersion: 1, computedAt: 1, publishedAt: 1, publishedBy: 1, rowCount: 1, reopens: 1, deadline: 1 })
    .sort({ period: -1 })
    .lean();
  return sets.map((s) => ({
    period: s.period,
    status: s.status,
    final: s.status === 'final',
    schemeVersion: s.schemeVersion,
    computedAt: s.computedAt,
    publishedAt: s.publishedAt ?? null,
    publishedBy: s.publishedBy ?? null,
    rowCount: s.rowCount,
    deadline: s.deadline,
    canPublish: s.status !== 'final' && now.getTime() > s.deadline.getTime(),
    reopens: (s.reopens ?? []).map((r) => ({ at: r.at, by: r.by, reason: r.reason })),
  }));
}

// ---------------------------------------------------------------------------------------------
// Rows

/** The rows of one computation, in result order. */
export async function readRows(period: string, computeId: ObjectIdT): Promise<ResultRowView[]> {
  const docs = await ResultRow.find({ period, computeId }, ROW_PROJECTION).sort({ order: 1 }).batchSize(DOCS_PER_COMMAND).lean<StoredRow[]>();
  return docs.map(rowView);
}

/**
 * The rows of one computation in result order, read by cursor (≤ 1 000 documents a batch) and yielded
 * one at a time: a period of any size is never held whole (the period workbook). Should the computation
 * be replaced and swept while the rows are being read, the stream ends with 409 results_changed rather
 * than short.
 */
export async function* streamRows(period: string, computeId: ObjectIdT): AsyncGenerator<ResultRowView> {
  const set = await ResultSet.collection.findOne<{ rowCount?: number }>({ period, computeId }, { projection: { _id: 0, rowCount: 1 } });
  const cursor = ResultRow.collection.find<StoredRow>({ period, computeId }, { projection: ROW_PROJECTION, sort: { order: 1 }, batchSize: 1000 });
  let n = 0;
  try {
    for await (const r of cursor) {
      n++;
      yield rowView(r);
    }
  } finally {
    await cursor.close();
  }
  if (!set || (typeof set.rowCount === 'number' && n !== set.rowCount)) throw conflict('results_changed', `${period} 期考核结果在读取期间已重新计算，请重试`);
}

/** What accountability reads of a result row (SPEC §4's rules look at nothing else). */
export interface RowOutcome {
  unit: string;
  category: UnitCategory;
  grade: UnitResult['grade'];
  rank: number | null;
  flags: UnitResult['flags'];
}

/** The outcomes of one computation's rows in result order, by cursor (≤ 1 000 documents a batch), one at a time. */
export async function* streamOutcomes(period: string, computeId: ObjectIdT): AsyncGenerator<RowOutcome> {
  const cursor = ResultRow.collection.find<StoredRow>(
    { period, computeId },
    { projection: { _id: 0, unit: 1, category: 1, grade: 1, rank: 1, flags: 1 }, sort: { order: 1 }, batchSize: 1000 },
  );
  try {
    for await (const r of cursor) {
      yield { unit: r.unit as string, category: r.category as UnitCategory, grade: (r.grade as UnitResult['grade']) ?? null, rank: (r.rank as number | null) ?? null, flags: (r.flags as UnitResult['flags']) ?? [] };
    }
  } finally {
    await cursor.close();
  }
}

/** Current rows of several periods (annual results, A3, trends), keyed by period; final sets only if asked. */
export async function rowsOfPeriods(periods: readonly string[], opts: { finalOnly?: boolean } = {}) {
  const sets = await ResultSet.find({ period: { $in: [...periods] } }).lean();
  const out = new Map<string, { status: 'provisional' | 'final'; rows: ResultRowView[] }>();
  for (const s of sets) {
    if (opts.finalOnly && s.status !== 'final') continue;
    out.set(s.period, { status: s.status as 'provisional' | 'final', rows: await readRows(s.period, s.computeId as ObjectIdT) });
  }
  return out;
}

/** The previous quarter's placement per unit (for rank change), from its current snapshot. */
export async function placements(period: string): Promise<{ unit: string; category: UnitCategory; rank: number | null }[]> {
  const set = await readPointer(period);
  if (!set) return [];
  const rows = await ResultRow.find({ period, computeId: set.computeId }, { _id: 0, unit: 1, category: 1, rank: 1 }).sort({ order: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  return rows.map((r) => ({ unit: r.unit, category: r.category as UnitCategory, rank: r.rank ?? null }));
}

/** One unit's stored explanation and row facts in the given computation (null: no such row). */
export async function explanationRow(period: string, computeId: ObjectIdT, unit: string): Promise<{ explanation: UnitExplanation | null; revision: number | null; name: string; category: string } | null> {
  const row = await ResultRow.findOne({ period, computeId, unit }, { _id: 0, explain: 1, revision: 1, name: 1, category: 1 }).lean();
  if (!row) return null;
  return { explanation: unpackExplanation(row.explain), revision: row.revision ?? null, name: row.name, category: row.category };
}

// ---------------------------------------------------------------------------------------------
// Writing a computation

export interface SnapshotWrite {
  written: boolean;
  /** Why not written: the period is final (frozen). */
  frozen?: boolean;
  computeId: ObjectIdT;
  rows: number;
}

/** Some consecutive rows of a computation, in result order, with their explanations (same order). */
export interface RowBatch {
  results: readonly UnitResult[];
  explanations: readonly (UnitExplanation | null)[];
}

export interface ComputationToStore {
  period: string;
  schemeVersion: number;
  deadline: Date;
  /** The rows in result order, a batch at a time: each is stored, then dropped, before the next is asked for. */
  batches: Iterable<RowBatch> | AsyncIterable<RowBatch>;
  /** Revision number used per unit (null: no usable return). */
  revisions: { get(unit: string): number | null | undefined };
}

/** Inserts the batches' rows (≤ DOCS_PER_COMMAND documents a command); the number of rows written. */
async function insertRows(c: ComputationToStore, computeId: ObjectIdT): Promise<number> {
  let order = 0;
  for await (const batch of c.batches) {
    for (let i = 0; i < batch.results.length; i += DOCS_PER_COMMAND) {
      const results = batch.results.slice(i, i + DOCS_PER_COMMAND);
      const explains = packExplanations(batch.explanations.slice(i, i + DOCS_PER_COMMAND));
      const docs = results.map((r, j) => ({
        period: c.period,
        computeId,
        unit: r.unit,
        name: r.name,
        category: r.category,
        revision: c.revisions.get(r.unit) ?? null,
        indicators: r.indicators,
        base: r.base,
        deductions: r.deductions,
        total: r.total,
        grade: r.grade,
        rank: r.rank,
        rankChange: r.rankChange,
        flags: r.flags,
        order: order++,
        explain: explains[j] ?? null,
      }));
      await ResultRow.insertMany(docs, { ordered: false, lean: true });
    }
  }
  return order;
}

/** Removes rows of computations that are not current: the replaced one, and strays of killed runs. */
async function sweep(period: string, keep: ObjectIdT, replaced: ObjectIdT | null): Promise<void> {
  if (replaced && !replaced.equals(keep)) await ResultRow.deleteMany({ period, computeId: replaced });
  const strayBefore = ObjectId.createFromTime(Math.floor((Date.now() - STRAY_AGE_MS) / 1000));
  await ResultRow.deleteMany({ period, computeId: { $ne: keep, $lt: strayBefore } });
}

/**
 * Stores a computation and makes it the period's current snapshot. `final`: publish in the same flip.
 * Never touches a final snapshot (returns {written: false, frozen: true}).
 */
export async function storeComputation(c: ComputationToStore, opts: { final?: boolean; by?: string } = {}): Promise<SnapshotWrite> {
  const { period } = c;
  const computeId = new ObjectId();
  const existing = await ResultSet.findOne({ period }).lean();
  if (existing?.status === 'final') return { written: false, frozen: true, computeId, rows: 0 };

  let rowCount: number;
  try {
    rowCount = await insertRows(c, computeId);
  } catch (err) {
    // Nothing points at these rows yet: remove what was written (the sweep would, an hour later).
    await ResultRow.deleteMany({ period, computeId }).catch(() => undefined);
    throw err;
  }
  const now = clock.now();
  const set: Record<string, unknown> = {
    computeId,
    schemeVersion: c.schemeVersion,
    computedAt: now,
    deadline: c.deadline,
    rowCount,
    status: opts.final ? 'final' : 'provisional',
  };
  if (opts.final) {
    set.publishedAt = now;
    set.publishedBy = opts.by ?? SYSTEM_ACTOR.username;
  }
  let replaced: ObjectIdT | null = null;
  let ok = false;
  if (existing) {
    // Flip only from the state we read: a concurrent publish or a newer computation wins.
    const prev = await ResultSet.findOneAndUpdate({ period, status: 'provisional', computeId: existing.computeId }, { $set: set }, { returnDocument: 'before' }).lean();
    ok = prev !== null;
    replaced = existing.computeId as ObjectIdT;
  } else {
    try {
      await ResultSet.create({ period, ...set });
      ok = true;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  if (!ok) {
    await ResultRow.deleteMany({ period, computeId });
    const after = await ResultSet.findOne({ period }, { status: 1 }).lean();
    return { written: false, frozen: after?.status === 'final', computeId, rows: 0 };
  }
  await sweep(period, computeId, replaced);
  return { written: true, computeId, rows: rowCount };
}

/**
 * The publication's records besides the final snapshot: the period's `publishedAt` and one audit entry
 * per published snapshot (keyed by computeId, so a second write is ignored). Idempotent: the publication
 * writes them, and the accountability job completes them for a period whose publication was cut short
 * after its snapshot became final (a kill there would otherwise leave them missing for good).
 */
export async function recordPublication(period: string, actor?: Actor, before: { status: string; computeId: string } | null = null): Promise<void> {
  const set = await ResultSet.findOne({ period }).lean();
  if (!set || set.status !== 'final') return;
  const at = set.publishedAt ?? clock.now();
  await markPublished(period, at);
  await audit(actor ?? { username: set.publishedBy ?? SYSTEM_ACTOR.username, role: null }, {
    action: 'results.publish',
    entity: 'results',
    entityId: period,
    before,
    after: { status: 'final', computeId: String(set.computeId), schemeVersion: set.schemeVersion, rows: set.rowCount },
    key: `results.publish:${period}:${String(set.computeId)}`,
    at,
  });
}

/** Flips a final set back to provisional (reopen), from the state read; null when it changed meanwhile. */
export async function unfreeze(period: string, computeId: ObjectIdT, reopen: { at: Date; by: string; reason: string }) {
  return ResultSet.findOneAndUpdate(
    { period, status: 'final', computeId },
    {
      $set: { status: 'provisional', publishedAt: null, publishedBy: null, reopened: true },
      $push: { reopens: { ...reopen, previousComputeId: computeId } },
    },
    { returnDocument: 'after' },
  ).lean();
}

// ---------------------------------------------------------------------------------------------
// The calendar migration (services/calendar-migration.ts)

export async function resultSetSummaries(): Promise<{ period: string; status: string; publishedAt: Date | null }[]> {
  return (await ResultSet.find({}, { period: 1, status: 1, publishedAt: 1 }).lean()).map((s) => ({ period: s.period, status: s.status, publishedAt: s.publishedAt ?? null }));
}

export async function countRows(period: string): Promise<number> {
  return ResultRow.countDocuments({ period });
}

/** Removes every stored result of a period (pointer first, so no reader sees a half-removed set). */
export async function removeResults(period: string): Promise<void> {
  await ResultSet.deleteOne({ period });
  await ResultRow.deleteMany({ period });
}
