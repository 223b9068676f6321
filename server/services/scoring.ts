// Scoring use cases (SPEC §4, §5, §7): gather a period's inputs, call the pure core, store the result
// snapshot, publish (freeze) and reopen it.
//
// Snapshot protocol (no multi-document transactions): rows are inserted under a fresh computeId, then
// the period's pointer document (result_sets) is flipped to that computeId in one conditional write.
// Readers follow the pointer only, so a computation killed half-way is never seen; its stray rows are
// swept by the next computation. A final set is never flipped by a computation.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import mongoose from 'mongoose';
import { clock } from '../clock.ts';
import { badRequest, conflict, notFound } from '../domain/errors.ts';
import type { ReturnValues, UnitCategory } from '../domain/fields.ts';
import { FIELD_KEYS } from '../domain/fields.ts';
import { previousQuarter, quarterStart } from '../domain/periods.ts';
import { scorePeriod, type PeriodScoring, type UnitExplanation, type UnitInput, type UnitResult } from '../domain/scoring/score.ts';
import type { AssessmentScheme } from '../domain/scoring/scheme.ts';
import { ResultRow, ResultSet } from '../models/result.ts';
import { Unit } from '../models/unit.ts';
import { audit, type Actor } from './audit.ts';
import { BoundedCache } from './bounded-cache.ts';
import { packExplanations, unpackExplanation } from './explanation-store.ts';
import { assertQuarter, clearStale, findPeriod, getPeriod, latestPeriod, listPeriods, markPublished, markUnpublished, openDueQuarters, openPeriod, periodNotOpen, setDeadline, timeZone, type PeriodView, type StaleMarker } from './periods.ts';
import { periodReturns, periodsWithReturns } from './returns.ts';
import { currentScheme, schemeVersion, validateDraft } from './scheme.ts';
import { diffResults, type WhatIf } from '../domain/scoring/whatif.ts';

const { ObjectId } = mongoose.Types;
type ObjectIdT = InstanceType<typeof ObjectId>;

export const SYSTEM_ACTOR: Actor = { username: 'system', role: 'system' };
/** Grace after the deadline before the nightly job publishes a period (SPEC §5). */
export const PUBLISH_GRACE_MS = 7 * 24 * 3600 * 1000;
/** Rows of computations that never became current are removed once older than this. */
const STRAY_AGE_MS = 3600 * 1000;
const INSERT_BATCH = 1000;

export interface PeriodInputs {
  period: string;
  deadline: Date;
  deadlinePassed: boolean;
  units: UnitInput[];
  /** Revision number used per unit (null: no usable return). */
  revisions: Map<string, number | null>;
  previous: { unit: string; category: UnitCategory; rank: number | null }[];
}

/** Everything the pure core needs for one period, read from the database at clock.now(). */
export async function loadInputs(period: string): Promise<PeriodInputs> {
  assertQuarter(period);
  const now = clock.now();
  const deadline = new Date((await getPeriod(period)).deadline);
  const deadlinePassed = now.getTime() > deadline.getTime();

  // The latest visible revision per unit, with the late flag (first visible revision after the deadline).
  const returns = await periodReturns(period);

  const units: UnitInput[] = [];
  const revisions = new Map<string, number | null>();
  for (const u of await Unit.find({}, { code: 1, name: 1, category: 1, active: 1 }).lean()) {
    const r = returns.get(u.code)?.latest;
    const rejected = r?.status === 'rejected';
    const values = r ? (Object.fromEntries(FIELD_KEYS.map((k) => [k, Number((r.values as Record<string, unknown>)[k])])) as ReturnValues) : null;
    units.push({
      unit: u.code,
      name: u.name,
      category: u.category as UnitCategory,
      active: u.active !== false,
      values,
      rejected,
      late: r?.late ?? false,
    });
    revisions.set(u.code, r && !rejected ? r.revision : null);
  }

  const prevPeriod = previousQuarter(period)!;
  const previous = await currentRows(prevPeriod, { unit: 1, category: 1, rank: 1 });
  return {
    period,
    deadline,
    deadlinePassed,
    units,
    revisions,
    previous: previous.map((r) => ({ unit: r.unit, category: r.category as UnitCategory, rank: r.rank ?? null })),
  };
}

export function scoreInputs(scheme: AssessmentScheme, inputs: PeriodInputs): PeriodScoring {
  return scorePeriod(scheme, inputs.units, { deadlinePassed: inputs.deadlinePassed, previous: inputs.previous });
}

/** Rows of the period's current snapshot (empty when none), in result order. */
async function currentRows(period: string, projection: Record<string, 0 | 1>) {
  const set = await ResultSet.findOne({ period }, { computeId: 1 }).lean();
  if (!set) return [];
  const rows = await ResultRow.find({ period, computeId: set.computeId }, projection).sort({ order: 1 }).lean();
  return rows as unknown as { unit: string; category: string; rank?: number | null }[];
}

export interface SnapshotWrite {
  written: boolean;
  /** Why not written: the period is final (frozen). */
  frozen?: boolean;
  computeId: ObjectIdT;
  rows: number;
}

async function insertRows(period: string, computeId: ObjectIdT, scoring: PeriodScoring, inputs: PeriodInputs): Promise<void> {
  const explains = packExplanations(scoring.explanations);
  const docs = scoring.results.map((r, i) => ({
    period,
    computeId,
    unit: r.unit,
    name: r.name,
    category: r.category,
    revision: inputs.revisions.get(r.unit) ?? null,
    indicators: r.indicators,
    base: r.base,
    deductions: r.deductions,
    total: r.total,
    grade: r.grade,
    rank: r.rank,
    rankChange: r.rankChange,
    flags: r.flags,
    order: i,
    explain: explains[i] ?? null,
  }));
  for (let i = 0; i < docs.length; i += INSERT_BATCH) {
    await ResultRow.insertMany(docs.slice(i, i + INSERT_BATCH), { ordered: false, lean: true });
  }
}

/** Removes rows of computations that are not current: the replaced one, and strays of killed runs. */
async function sweep(period: string, keep: ObjectIdT, replaced: ObjectIdT | null): Promise<void> {
  if (replaced && !replaced.equals(keep)) await ResultRow.deleteMany({ period, computeId: replaced });
  const strayBefore = ObjectId.createFromTime(Math.floor((Date.now() - STRAY_AGE_MS) / 1000));
  await ResultRow.deleteMany({ period, computeId: { $ne: keep, $lt: strayBefore } });
}

/**
 * Computes the period with the current scheme and stores it. `final`: publish in the same flip.
 * Never touches a final snapshot (returns {written: false, frozen: true}).
 */
export async function computeAndStore(period: string, opts: { final?: boolean; by?: string } = {}): Promise<SnapshotWrite> {
  const scheme = (await currentScheme()).scheme;
  const inputs = await loadInputs(period);
  const scoring = scoreInputs(scheme, inputs);
  const computeId = new ObjectId();
  const existing = await ResultSet.findOne({ period }).lean();
  if (existing?.status === 'final') return { written: false, frozen: true, computeId, rows: 0 };

  await insertRows(period, computeId, scoring, inputs);
  const now = clock.now();
  const set: Record<string, unknown> = {
    computeId,
    schemeVersion: scheme.version,
    computedAt: now,
    deadline: inputs.deadline,
    rowCount: scoring.results.length,
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
    const prev = await ResultSet.findOneAndUpdate(
      { period, status: 'provisional', computeId: existing.computeId },
      { $set: set },
      { returnDocument: 'before' },
    ).lean();
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
    const now2 = await ResultSet.findOne({ period }, { status: 1 }).lean();
    return { written: false, frozen: now2?.status === 'final', computeId, rows: 0 };
  }
  await sweep(period, computeId, replaced);
  return { written: true, computeId, rows: scoring.results.length };
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ResultsView {
  period: string;
  status: 'provisional' | 'final';
  schemeVersion: number;
  computedAt: string;
  publishedAt: string | null;
  deadline: string;
  results: (UnitResult & { revision: number | null })[];
}

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

function rowView(r: Record<string, unknown>): UnitResult & { revision: number | null } {
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

/**
 * The snapshot pointer of an opened period. Reading never computes: a period never opened answers 404
 * period_not_open; an opened one has its first snapshot from the moment it was opened (services/periods.ts
 * openPeriod and the routes that open), so a missing one is a computation that failed or is still running.
 */
async function readSet(period: string): Promise<ResultSetPointer> {
  assertQuarter(period);
  const set = await readPointer(period);
  if (set) return set;
  const opened = await findPeriod(period);
  if (!opened) throw periodNotOpen(period, await latestPeriod());
  throw notFound('results_not_found', `${period} 期考核结果正在计算，请稍后刷新`);
}

// A snapshot's rows never change once written (a recomputation or publication writes rows under a
// new computeId and flips the period's pointer), so the rows of recent snapshots are kept in memory:
// reading and decoding every row on each ranking request dominated its cost (BENCH.md). Frozen so
// no caller can alter what the next caller sees. The promise is cached, so concurrent first requests
// for a new snapshot share one read (at 50k units, ten parallel reads of every row would not fit).
const SNAPSHOT_CACHE_SIZE = 8;
type RowView = ReturnType<typeof rowView>;
const snapshotCache = new Map<string, Promise<readonly RowView[]>>();

function snapshotRows(period: string, computeId: string): Promise<readonly RowView[]> {
  const key = `${period}/${computeId}`;
  const hit = snapshotCache.get(key);
  if (hit) {
    snapshotCache.delete(key);
    snapshotCache.set(key, hit);
    return hit;
  }
  const rows = (async () => {
    const docs = await ResultRow.find({ period, computeId }, ROW_PROJECTION).sort({ order: 1 }).lean();
    return Object.freeze(docs.map((r) => deepFreeze(rowView(r as Record<string, unknown>))));
  })();
  snapshotCache.set(key, rows);
  rows.catch(() => {
    if (snapshotCache.get(key) === rows) snapshotCache.delete(key);
  });
  if (snapshotCache.size > SNAPSHOT_CACHE_SIZE) snapshotCache.delete(snapshotCache.keys().next().value!);
  return rows;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function viewOf(period: string, set: ResultSetPointer, rows: readonly RowView[]): ResultsView {
  return {
    period,
    status: set.status as 'provisional' | 'final',
    schemeVersion: set.schemeVersion,
    computedAt: set.computedAt.toISOString(),
    publishedAt: set.publishedAt ? set.publishedAt.toISOString() : null,
    deadline: set.deadline.toISOString(),
    results: rows as ResultsView['results'],
  };
}

/** What a reader needs of a period's pointer document (result_sets). */
export interface ResultSetPointer {
  period: string;
  computeId: ObjectIdT;
  status: string;
  schemeVersion: number;
  computedAt: Date;
  publishedAt?: Date | null;
  deadline: Date;
}

const POINTER_PROJECTION = { _id: 0, period: 1, computeId: 1, status: 1, schemeVersion: 1, computedAt: 1, publishedAt: 1, deadline: 1 } as const;

// Pointer reads happen on every results request: plain driver reads, projected (the same documents
// as the model's lean reads, without mongoose's query machinery).
/** Every period's pointer, in one read (pages list the periods and show one of them). */
export async function resultSetPointers(): Promise<ResultSetPointer[]> {
  return (await ResultSet.collection.find({}, { projection: POINTER_PROJECTION }).toArray()) as unknown as ResultSetPointer[];
}

async function readPointer(period: string): Promise<ResultSetPointer | null> {
  return (await ResultSet.collection.findOne({ period }, { projection: POINTER_PROJECTION })) as unknown as ResultSetPointer | null;
}

/**
 * The period's results as in SPEC §7. `onlyUnit`: keep that unit's row only (reporters before
 * publication). Never computes (see readSet). `set`: the period's
 * pointer when the caller has just read it (resultSetPointers), so it is not read again.
 */
export async function getResults(period: string, opts: { onlyUnit?: string; set?: ResultSetPointer } = {}): Promise<ResultsView> {
  const { view } = await resultsOf(period, opts);
  return { ...view, results: view.results.slice() };
}

/**
 * getResults and the computeId of the snapshot it shows (for caches of what is derived from it).
 * The view's `results` is the snapshot's cached array itself (frozen, rows deep-frozen): read it,
 * copy it to change it.
 */
export async function resultsOf(period: string, opts: { onlyUnit?: string; set?: ResultSetPointer } = {}): Promise<{ view: ResultsView; computeId: string }> {
  const set = opts.set && opts.set.period === period ? opts.set : await readSet(period);
  const computeId = String(set.computeId);
  const all = await snapshotRows(period, computeId);
  return { view: viewOf(period, set, opts.onlyUnit === undefined ? all : all.filter((r) => r.unit === opts.onlyUnit)), computeId };
}

/** `GET /results/:period` serialised: the JSON of getResults' view, and a strong ETag of these bytes. */
export interface ResultsBody {
  body: Buffer;
  etag: string;
  /**
   * The same JSON gzip-compressed, with its own strong ETag (another representation). Compressed once
   * per cached body, on first demand; absent for small bodies.
   */
  gzipped?: () => Promise<{ body: Buffer; etag: string }>;
}

// The serialised bodies of recent whole-period views. A body is a pure function of the period's
// pointer document (computeId, status, schemeVersion, computedAt, publishedAt, deadline — all in the
// key) and of the rows of that computeId (immutable), so a request only reads the pointer, and any
// recomputation, publication or reopen (a new computeId, or a new status / publishedAt on the same
// one) gives a new key: the next request builds the new body. Bounded by entries and bytes (at 50k
// units a body is ≈ 25 MB; its gzip, made on first demand, adds about a tenth and is counted with it);
// concurrent requests share one build and one buffer.
const resultBodies = new BoundedCache<ResultsBody>({ maxEntries: 8, maxBytes: 96 * 1024 * 1024 }, (b) => b.body.length);

const etagOf = (bytes: Buffer) => `"${crypto.createHash('sha256').update(bytes).digest('base64url')}"`;
const GZIP_MIN_BYTES = 1024;
const gzipAsync = promisify(zlib.gzip);

function serialise(view: ResultsView): ResultsBody {
  const body = Buffer.from(JSON.stringify(view));
  return { body, etag: etagOf(body) };
}

/** serialise, plus a memoised gzip of the bytes (in the thread pool, never blocking requests). */
function serialiseCompressible(view: ResultsView): ResultsBody {
  const out = serialise(view);
  if (out.body.length < GZIP_MIN_BYTES) return out;
  let gz: Promise<{ body: Buffer; etag: string }> | null = null;
  out.gzipped = () => {
    if (!gz) {
      const made = gzipAsync(out.body, { level: 6 }).then((body) => ({ body, etag: etagOf(body) }));
      made.catch(() => {
        if (gz === made) gz = null;
      });
      gz = made;
    }
    return gz;
  };
  return out;
}

/** A body for the cache under `key`: its gzip, once made, is counted with it. */
function cachedBody(key: string, build: () => Promise<ResultsBody>): Promise<ResultsBody> {
  return resultBodies.get(key, async () => {
    const made = await build();
    const gzipped = made.gzipped;
    if (gzipped) {
      let counted = false;
      made.gzipped = () =>
        gzipped().then((z) => {
          if (!counted) {
            counted = true;
            resultBodies.addBytes(key, made, z.body.length);
          }
          return z;
        });
    }
    return made;
  });
}

/**
 * The body of `GET /results/:period` for a viewer. `reporterUnit` (reporters): before publication
 * only that unit's row (none when ''), the whole ranking once final — decided on the same pointer
 * read that the body is built from.
 */
export async function getResultsBody(period: string, opts: { reporterUnit?: string } = {}): Promise<ResultsBody> {
  const set = await readSet(period);
  const computeId = String(set.computeId);
  if (opts.reporterUnit !== undefined && set.status !== 'final') {
    const unit = opts.reporterUnit;
    const rows = await snapshotRows(period, computeId);
    return serialise(viewOf(period, set, rows.filter((r) => r.unit === unit)));
  }
  const head = viewOf(period, set, []);
  const key = `${computeId}|${JSON.stringify(head)}`;
  return cachedBody(key, async () => serialiseCompressible(viewOf(period, set, await snapshotRows(period, computeId))));
}

/** Status of a period's snapshot without computing one (null: none yet). */
export async function resultStatus(period: string) {
  return ResultSet.findOne({ period }).lean();
}

export interface Explanation extends UnitExplanation {
  period: string;
  resultStatus: 'provisional' | 'final';
  schemeVersion: number;
  revision: number | null;
  name: string;
  category: string;
}

export async function explainUnit(period: string, unit: string): Promise<Explanation> {
  const set = await readSet(period);
  const row = await ResultRow.findOne({ period, computeId: set.computeId, unit }).lean();
  const explanation = row ? unpackExplanation(row.explain) : null;
  if (!row || !explanation) throw notFound('result_not_found', `${period} 期没有单位 ${unit} 的考核结果`);
  return {
    ...explanation,
    period,
    resultStatus: set.status as 'provisional' | 'final',
    schemeVersion: set.schemeVersion,
    revision: row.revision ?? null,
    name: row.name,
    category: row.category,
  };
}

/** Current rows of several periods (for annual results and A3), keyed by period; final sets only if asked. */
export async function rowsOfPeriods(periods: string[], opts: { finalOnly?: boolean } = {}) {
  const sets = await ResultSet.find({ period: { $in: periods } }).lean();
  const out = new Map<string, { status: string; rows: (UnitResult & { revision: number | null })[] }>();
  for (const s of sets) {
    if (opts.finalOnly && s.status !== 'final') continue;
    const rows = await ResultRow.find({ period: s.period, computeId: s.computeId }, ROW_PROJECTION).sort({ order: 1 }).lean();
    out.set(s.period, { status: s.status, rows: rows.map((r) => rowView(r as Record<string, unknown>)) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Publication

/** Set by server/services/publication.ts: opens the accountability cases of a newly final period. */
let afterPublish: ((period: string) => Promise<unknown>) | null = null;
export function setAfterPublish(fn: (period: string) => Promise<unknown>): void {
  afterPublish = fn;
}

/**
 * Publishes a period: recomputes it from the current returns and freezes it (status final). Only an opened
 * period, only after the deadline; 409 when already final. Order (no transactions, each step idempotent):
 * 1. the period records the publication (Period.publishedAt): from here on intake, reviews and deadline
 *    changes are refused, so the final computation sees the returns the published period keeps;
 * 2. the final snapshot is computed and flipped in one write;
 * 3. the audit entry, then accountability (the daily jobs complete 3 after a kill, and the score job
 *    completes 2 for a period whose publication was recorded but whose snapshot is not final).
 */
export async function publish(actor: Actor, period: string): Promise<ResultsView> {
  assertQuarter(period);
  const p = await getPeriod(period);
  if (clock.now().getTime() <= new Date(p.deadline).getTime()) {
    throw conflict('deadline_not_passed', `${period} 期报送截止时间（${p.deadline}）未到，不能发布结果`);
  }
  const before = await ResultSet.findOne({ period }).lean();
  if (before?.status === 'final') throw conflict('already_published', `${period} 期结果已发布`);
  const at = p.publishedAt ? new Date(p.publishedAt) : clock.now();
  await markPublished(period, at);
  const w = await computeAndStore(period, { final: true, by: actor.username });
  if (!w.written) {
    if (w.frozen) throw conflict('already_published', `${period} 期结果已发布`);
    throw conflict('results_busy', `${period} 期结果正在计算，请稍后重试`);
  }
  await recordPublication(period, actor, before ? { status: before.status, computeId: String(before.computeId) } : null);
  // Accountability follows publication (idempotent; the daily job repeats it if we die here).
  if (afterPublish) await afterPublish(period);
  return getResults(period);
}

/**
 * The publication's records besides the final snapshot: the period's `publishedAt` and one audit entry
 * per published snapshot (keyed by computeId, so a second write is ignored). Idempotent: publish()
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

/** Makes a published period open again (admin, audited, with a reason). It is not auto-published again. */
export async function reopen(actor: Actor, period: string, reason: unknown): Promise<ResultsView> {
  assertQuarter(period);
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (!text) throw badRequest('reason_required', '重新开放已发布的结果必须填写原因');
  if (text.length > 1000) throw badRequest('reason_too_long', '原因不能超过 1000 字');
  await getPeriod(period);
  const set = await ResultSet.findOne({ period }).lean();
  if (!set) throw notFound('results_not_found', `${period} 期暂无考核结果`);
  if (set.status !== 'final') throw conflict('not_published', `${period} 期结果尚未发布，无需重新开放`);
  const now = clock.now();
  const updated = await ResultSet.findOneAndUpdate(
    { period, status: 'final', computeId: set.computeId },
    {
      $set: { status: 'provisional', publishedAt: null, publishedBy: null, reopened: true },
      $push: { reopens: { at: now, by: actor.username, reason: text, previousComputeId: set.computeId } },
    },
    { returnDocument: 'after' },
  ).lean();
  if (!updated) throw conflict('results_busy', `${period} 期结果刚被修改，请刷新后重试`);
  await markUnpublished(period);
  await audit(actor, {
    action: 'results.reopen',
    entity: 'results',
    entityId: period,
    before: { status: 'final', publishedAt: set.publishedAt, publishedBy: set.publishedBy },
    after: { status: 'provisional', reason: text },
  });
  return getResults(period);
}

// ---------------------------------------------------------------------------------------------
// Recomputation (provisional results follow their inputs; SPEC §2)

/**
 * Recomputes an unpublished period whose inputs changed (`staleAt` as read) and clears its marker unless
 * a newer change arrived meanwhile. Called by the recomputation worker (jobs/freshness.ts) under its lease.
 */
export async function refreshPeriod(marker: StaleMarker): Promise<SnapshotWrite> {
  const w = await computeAndStore(marker.period);
  if (w.written || w.frozen) await clearStale(marker);
  return w;
}

/** 重新计算 (reviewer, admin): recomputes an open period now; 409 once published. */
export async function recomputeNow(actor: Actor, period: string): Promise<ResultsView> {
  const p = await getPeriod(period);
  if (p.status === 'published') throw conflict('period_published', `${period} 期考核结果已发布，不再重新计算`);
  const w = await computeAndStore(period);
  if (!w.written) {
    if (w.frozen) throw conflict('period_published', `${period} 期考核结果已发布，不再重新计算`);
    throw conflict('results_busy', `${period} 期结果正在计算，请稍后重试`);
  }
  await audit(actor, { action: 'results.recompute', entity: 'results', entityId: period, after: { computeId: String(w.computeId), rows: w.rows } });
  return getResults(period);
}

// ---------------------------------------------------------------------------------------------
// The score job (SPEC §5)

export interface ScoreJobCounts {
  periods: number;
  opened: number;
  recomputed: number;
  published: number;
  frozen: number;
  rows: number;
}

/** Opened periods the nightly job looks at: not published, quarter already started. */
async function scorablePeriods(): Promise<string[]> {
  const now = clock.now().getTime();
  return (await listPeriods())
    .filter((p) => p.status === 'open' && quarterStart(p.period, timeZone()).getTime() <= now)
    .map((p) => p.period)
    .sort();
}

/**
 * Opens the quarters that are due (services/periods.ts openDueQuarters), recomputes the provisional results
 * of open periods (or of `period` only) and publishes each one whose deadline plus 7 days' grace has
 * passed — unless it was reopened by an admin, which then needs an explicit publish. Completes a publication
 * that was recorded but cut short before its snapshot became final. Never touches a period not opened.
 * Deterministic: the same data gives the same stored results.
 */
export async function runScoreJob(opts: { period?: string } = {}): Promise<ScoreJobCounts> {
  const opened = opts.period ? [] : await openDueQuartersWithResults(clock.now());
  if (opts.period) await getPeriod(assertQuarter(opts.period));
  const interrupted = opts.period
    ? []
    : (await listPeriods()).filter((p) => p.status === 'published').map((p) => p.period);
  const periods = opts.period ? [opts.period] : await scorablePeriods();
  const counts: ScoreJobCounts = { periods: periods.length, opened: opened.length, recomputed: 0, published: 0, frozen: 0, rows: 0 };
  for (const period of interrupted) {
    const set = await ResultSet.findOne({ period }, { status: 1 }).lean();
    if (set && set.status === 'final') continue;
    const view = await publish(SYSTEM_ACTOR, period);
    counts.published++;
    counts.rows += view.results.length;
  }
  for (const period of periods) {
    const set = await ResultSet.findOne({ period }, { status: 1, reopened: 1 }).lean();
    if (set?.status === 'final') {
      counts.frozen++;
      continue;
    }
    const p = await getPeriod(period);
    if (p.status === 'published') {
      counts.frozen++;
      continue;
    }
    const deadline = new Date(p.deadline);
    if (!set?.reopened && clock.now().getTime() >= deadline.getTime() + PUBLISH_GRACE_MS) {
      const view = await publish(SYSTEM_ACTOR, period);
      counts.published++;
      counts.rows += view.results.length;
    } else {
      const w = await computeAndStore(period);
      if (w.written) {
        counts.recomputed++;
        counts.rows += w.rows;
      } else if (w.frozen) counts.frozen++;
    }
  }
  return counts;
}

/** For the scheme editor: the latest opened period with returns, else the latest opened one (null: none). */
export async function latestResultPeriod(): Promise<string | null> {
  const withReturns = new Set(await periodsWithReturns());
  const opened = await listPeriods();
  return opened.find((p) => withReturns.has(p.period))?.period ?? opened[0]?.period ?? null;
}

export { schemeVersion };

// ---------------------------------------------------------------------------------------------
// What-if preview for the scheme editor

export interface SchemePreview {
  period: string;
  baseVersion: number;
  deadlinePassed: boolean;
  diff: WhatIf;
}

/**
 * Scores the latest period with results (or the period being reported) from the current inputs with
 * the scheme in force and with `draft`, and diffs totals, grades and ranks. Writes nothing.
 * Throws 422 invalid_scheme when the draft is invalid.
 */
export async function previewScheme(draft: unknown, period?: string): Promise<SchemePreview> {
  const current = await currentScheme();
  const scheme = validateDraft(draft, current.version + 1);
  const p = period ? assertQuarter(period) : await latestResultPeriod();
  if (!p) throw notFound('period_not_open', '尚未开放任何考核期次，无法预览');
  const inputs = await loadInputs(p);
  const before = scoreInputs(current.scheme, inputs).results;
  const after = scoreInputs(scheme, inputs).results;
  return { period: p, baseVersion: current.version, deadlinePassed: inputs.deadlinePassed, diff: diffResults(before, after) };
}

/** Result sets of all periods, newest first (admin page). */
export async function listResultSets() {
  const sets = await ResultSet.find({}, { period: 1, status: 1, schemeVersion: 1, computedAt: 1, publishedAt: 1, publishedBy: 1, rowCount: 1, reopens: 1, deadline: 1 })
    .sort({ period: -1 })
    .lean();
  const now = clock.now().getTime();
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
    canPublish: s.status !== 'final' && now > s.deadline.getTime(),
    reopens: (s.reopens ?? []).map((r) => ({ at: r.at, by: r.by, reason: r.reason })),
  }));
}

// ---------------------------------------------------------------------------------------------
// Opening periods with their first results

/**
 * Opens a period if needed (optionally setting its deadline) and computes its first provisional snapshot,
 * so that from the moment a period exists its results can be read (reads never compute; SPEC §2).
 */
export async function openForAssessment(actor: Actor, period: string, opts: { deadline?: unknown } = {}): Promise<{ created: boolean; period: PeriodView }> {
  const r = opts.deadline !== undefined ? await setDeadline(actor, period, opts.deadline) : await openPeriod(actor, period);
  if (!(await readPointer(period))) await computeAndStore(period);
  return r;
}

/** The calendar's automatic opening (first day of each quarter, and at start-up), with first results. */
export async function openDueQuartersWithResults(at = clock.now()): Promise<string[]> {
  const opened = await openDueQuarters(at);
  for (const p of opened) if (!(await readPointer(p))) await computeAndStore(p);
  return opened;
}
