// Computing a period: gather its inputs (units, the latest usable returns, the previous quarter's ranks),
// call the pure scoring core, store the snapshot (store.ts). Also the scheme editor's what-if preview.
import { clock } from '../clock.ts';
import { notFound } from '../domain/errors.ts';
import { FIELD_KEYS, type ReturnValues, type UnitCategory } from '../domain/fields.ts';
import { previousQuarter } from '../domain/periods.ts';
import type { AssessmentScheme } from '../domain/scoring/scheme.ts';
import { rankPeriodSteps, scoreBatchSteps, scorePeriod, type PeriodRanking, type PeriodScoring, type UnitInput, type UnitResult } from '../domain/scoring/score.ts';
import { diffByCategory, diffResults, weightTotal, type WhatIf } from '../domain/scoring/whatif.ts';
import { assertQuarter, getPeriod, listPeriods } from '../services/periods.ts';
import { latestReturnFacts, periodsWithReturns } from '../services/returns.ts';
import { currentScheme, validateDraft } from '../services/scheme.ts';
import { listUnitInputs } from '../services/units.ts';
import { runInSlices } from '../steps.ts';
import { placements, storeComputation, type RowBatch, type SnapshotWrite } from './store.ts';

/** Units scored, explained, stored and dropped together by the score job. */
export const SCORE_BATCH = 1000;

export interface PeriodInputs {
  period: string;
  deadline: Date;
  deadlinePassed: boolean;
  /** Number of units (active or not). */
  readonly size: number;
  /** Every unit's scoring input, in code order, built on demand (nothing but the compact columns is kept). */
  units(): Generator<UnitInput>;
  /** One unit's scoring input (undefined: no such unit). */
  unit(code: string): UnitInput | undefined;
  /** Revision number used per unit (null: no usable return). */
  revisions: { get(unit: string): number | null | undefined };
  previous: { unit: string; category: UnitCategory; rank: number | null }[];
}

const NFIELDS = FIELD_KEYS.length;
const HAS_RETURN = 1;
const REJECTED = 2;
const LATE = 4;

/**
 * The inputs of a period kept in columns: per unit its code, name, category and active flag (as listed),
 * the 11 values in one Float64Array, flags and revision in typed arrays — a few dozen bytes a unit
 * instead of a revision view per unit. UnitInput objects are made when asked for and dropped after use.
 */
class ColumnInputs implements PeriodInputs {
  readonly size: number;
  private readonly index = new Map<string, number>();
  private readonly values: Float64Array;
  private readonly flags: Uint8Array;
  private readonly revision: Int32Array;
  readonly revisions = { get: (unit: string) => this.revisionOf(unit) };

  constructor(
    readonly period: string,
    readonly deadline: Date,
    readonly deadlinePassed: boolean,
    private readonly list: readonly { code: string; name: string; category: UnitCategory; active: boolean }[],
    readonly previous: PeriodInputs['previous'],
  ) {
    this.size = list.length;
    list.forEach((u, i) => this.index.set(u.code, i));
    this.values = new Float64Array(list.length * NFIELDS);
    this.flags = new Uint8Array(list.length);
    this.revision = new Int32Array(list.length);
  }

  /** Records a unit's latest visible revision (units not listed are ignored, as they are not scored). */
  set(unit: string, revision: number, values: Record<string, unknown>, rejected: boolean, late: boolean): void {
    const i = this.index.get(unit);
    if (i === undefined) return;
    for (let k = 0; k < NFIELDS; k++) this.values[i * NFIELDS + k] = Number(values[FIELD_KEYS[k]!]);
    this.flags[i] = HAS_RETURN | (rejected ? REJECTED : 0) | (late ? LATE : 0);
    this.revision[i] = revision;
  }

  private revisionOf(unit: string): number | null | undefined {
    const i = this.index.get(unit);
    if (i === undefined) return undefined;
    const f = this.flags[i]!;
    return f & HAS_RETURN && !(f & REJECTED) ? this.revision[i]! : null;
  }

  private at(i: number): UnitInput {
    const u = this.list[i]!;
    const f = this.flags[i]!;
    let values: ReturnValues | null = null;
    if (f & HAS_RETURN) {
      const v = {} as Record<string, number>;
      for (let k = 0; k < NFIELDS; k++) v[FIELD_KEYS[k]!] = this.values[i * NFIELDS + k]!;
      values = v as ReturnValues;
    }
    return { unit: u.code, name: u.name, category: u.category, active: u.active, values, rejected: (f & REJECTED) !== 0, late: (f & LATE) !== 0 };
  }

  *units(): Generator<UnitInput> {
    for (let i = 0; i < this.list.length; i++) yield this.at(i);
  }

  unit(code: string): UnitInput | undefined {
    const i = this.index.get(code);
    return i === undefined ? undefined : this.at(i);
  }
}

/**
 * Everything the pure core needs for one opened period, read from the database at clock.now(). The
 * returns are read by cursor (latestReturnFacts) straight into the compact columns of ColumnInputs.
 */
export async function loadInputs(period: string): Promise<PeriodInputs> {
  assertQuarter(period);
  const now = clock.now();
  const deadline = new Date((await getPeriod(period)).deadline);
  const deadlinePassed = now.getTime() > deadline.getTime();
  const list = (await listUnitInputs()).sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const previous = await placements(previousQuarter(period)!);
  const inputs = new ColumnInputs(period, deadline, deadlinePassed, list, previous);
  // The latest visible revision per unit, with the late flag (first visible revision after the deadline).
  for await (const r of latestReturnFacts(period)) inputs.set(r.unit, r.revision, r.values, r.rejected, r.late);
  return inputs;
}

/** The whole scoring at once (tests, small callers): every row and explanation in memory. */
export function scoreInputs(scheme: AssessmentScheme, inputs: PeriodInputs): PeriodScoring {
  return scorePeriod(scheme, [...inputs.units()], { deadlinePassed: inputs.deadlinePassed, previous: inputs.previous });
}

/**
 * Pass 1 of the batched scoring: placements and result order, keeping only what ranking needs. In
 * slices (≈ 0.8 s at 50 000 units): requests are served meanwhile.
 */
export function rankInputs(scheme: AssessmentScheme, inputs: PeriodInputs): Promise<PeriodRanking> {
  return runInSlices(rankPeriodSteps(scheme, inputs.units(), { deadlinePassed: inputs.deadlinePassed, previous: inputs.previous }));
}

/**
 * Pass 2: the rows in result order, `size` units at a time — each batch's explanations are built when
 * the batch is asked for and can be dropped once stored. Together the same rows as {@link scoreInputs}.
 * Each batch is built in slices (requests are served meanwhile).
 */
export async function* scoredBatches(
  scheme: AssessmentScheme,
  inputs: PeriodInputs,
  ranking: PeriodRanking,
  opts: { size?: number; explain?: boolean } = {},
): AsyncGenerator<RowBatch> {
  const size = opts.size ?? SCORE_BATCH;
  const ctx = { deadlinePassed: inputs.deadlinePassed, previous: inputs.previous };
  for (let i = 0; i < ranking.order.length; i += size) {
    const batch = ranking.order.slice(i, i + size).map((u) => inputs.unit(u)!);
    yield await runInSlices(scoreBatchSteps(scheme, ranking, batch, ctx, { explain: opts.explain }));
  }
}

/** Computes the period with the current scheme and stores it (`final`: publish in the same flip). */
export async function computeAndStore(period: string, opts: { final?: boolean; by?: string } = {}): Promise<SnapshotWrite> {
  const scheme = (await currentScheme()).scheme;
  const inputs = await loadInputs(period);
  const ranking = await rankInputs(scheme, inputs);
  const batches = scoredBatches(scheme, inputs, ranking);
  return storeComputation({ period, schemeVersion: scheme.version, deadline: inputs.deadline, batches, revisions: inputs.revisions }, opts);
}

/** Every row (no explanations) of a scoring, built batch by batch: what the preview diffs. */
async function resultsOnly(scheme: AssessmentScheme, inputs: PeriodInputs): Promise<UnitResult[]> {
  const out: UnitResult[] = [];
  for await (const b of scoredBatches(scheme, inputs, await rankInputs(scheme, inputs), { explain: false })) out.push(...b.results);
  return out;
}

/** For the scheme editor: the latest opened period with returns, else the latest opened one (null: none). */
export async function latestResultPeriod(): Promise<string | null> {
  const withReturns = new Set(await periodsWithReturns());
  const opened = await listPeriods();
  return opened.find((p) => withReturns.has(p.period))?.period ?? opened[0]?.period ?? null;
}

export interface SchemePreview {
  period: string;
  baseVersion: number;
  deadlinePassed: boolean;
  diff: WhatIf;
  /** The same diff per category (ranks and grades are per category), in category order. */
  categories: { category: UnitCategory; diff: WhatIf }[];
  /** Σ of the draft's indicator weights, and of the scheme in force. */
  weightTotal: { before: number | null; after: number | null };
}

/**
 * Scores an opened period (default: latestResultPeriod; 404 period_not_open for another) from the current inputs with the scheme in force and
 * with `draft`, and diffs totals, grades and ranks. Writes nothing. 422 invalid_scheme for a bad draft.
 */
export async function previewScheme(draft: unknown, period?: string): Promise<SchemePreview> {
  const current = await currentScheme();
  const scheme = validateDraft(draft, current.version + 1);
  const p = period ? assertQuarter(period) : await latestResultPeriod();
  if (!p) throw notFound('period_not_open', '尚未开放任何考核期次，无法预览');
  const inputs = await loadInputs(p);
  const before = await resultsOnly(current.scheme, inputs);
  const after = await resultsOnly(scheme, inputs);
  return {
    period: p,
    baseVersion: current.version,
    deadlinePassed: inputs.deadlinePassed,
    diff: diffResults(before, after),
    categories: diffByCategory(before, after),
    weightTotal: { before: weightTotal(current.scheme.indicators.map((i) => i.weight)), after: weightTotal(scheme.indicators.map((i) => i.weight)) },
  };
}
