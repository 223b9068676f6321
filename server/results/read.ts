// Reading results: a period's pointer and its snapshot, as SPEC §7's view. Reading never computes
// (SPEC §2): a period never opened answers 404 period_not_open; an opened one has its first snapshot
// from the moment it was opened (publication.ts openForAssessment).
import { notFound } from '../domain/errors.ts';
import type { UnitExplanation } from '../domain/scoring/score.ts';
import { assertQuarter, findPeriod, latestPeriod, periodNotOpen } from '../services/periods.ts';
import { allRows, snapshotOf, type Snapshot } from './snapshot.ts';
import { explanationRow, readPointer, readPointers, type ResultRowView, type ResultSetPointer } from './store.ts';

export interface ResultsView {
  period: string;
  status: 'provisional' | 'final';
  schemeVersion: number;
  computedAt: string;
  publishedAt: string | null;
  deadline: string;
  results: ResultRowView[];
}

/** The pointer of an opened period (404 period_not_open / results_not_found). */
export async function readSet(period: string): Promise<ResultSetPointer> {
  assertQuarter(period);
  const set = await readPointer(period);
  if (set) return set;
  if (!(await findPeriod(period))) throw periodNotOpen(period, await latestPeriod());
  throw notFound('results_not_found', `${period} 期考核结果正在计算，请稍后刷新`);
}

/** SPEC §7's view of a pointer and rows (the rows array is used as given: copy it to change it). */
export function viewOf(set: ResultSetPointer, rows: readonly ResultRowView[]): ResultsView {
  return {
    period: set.period,
    status: set.status,
    schemeVersion: set.schemeVersion,
    computedAt: set.computedAt.toISOString(),
    publishedAt: set.publishedAt ? set.publishedAt.toISOString() : null,
    deadline: set.deadline.toISOString(),
    results: rows as ResultRowView[],
  };
}

/** A period's pointer and snapshot. `set`: the pointer when the caller has just read it. */
export async function resultsOf(period: string, opts: { set?: ResultSetPointer } = {}): Promise<{ set: ResultSetPointer; snapshot: Snapshot }> {
  const set = opts.set && opts.set.period === period ? opts.set : await readSet(period);
  return { set, snapshot: await snapshotOf(set) };
}

/** The current snapshots of those periods that have results (annual results, trends), keyed by period. */
export async function snapshotsOf(periods: readonly string[]): Promise<Map<string, { set: ResultSetPointer; snapshot: Snapshot }>> {
  const wanted = new Set(periods);
  const out = new Map<string, { set: ResultSetPointer; snapshot: Snapshot }>();
  // One at a time: a year of a national province is several snapshots, each read by cursor.
  for (const set of (await readPointers()).filter((s) => wanted.has(s.period))) out.set(set.period, { set, snapshot: await snapshotOf(set) });
  return out;
}

/** The period's results as in SPEC §7 (a fresh array). `onlyUnit`: that unit's row only. */
export async function getResults(period: string, opts: { onlyUnit?: string } = {}): Promise<ResultsView> {
  const { set, snapshot } = await resultsOf(period);
  let rows: ResultRowView[];
  if (opts.onlyUnit === undefined) rows = allRows(snapshot);
  else {
    const at = snapshot.indexOf(opts.onlyUnit);
    rows = at < 0 ? [] : [snapshot.row(at)];
  }
  return viewOf(set, rows);
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
  const row = await explanationRow(period, set.computeId, unit);
  if (!row || !row.explanation) throw notFound('result_not_found', `${period} 期没有单位 ${unit} 的考核结果`);
  return { ...row.explanation, period, resultStatus: set.status, schemeVersion: set.schemeVersion, revision: row.revision, name: row.name, category: row.category };
}
