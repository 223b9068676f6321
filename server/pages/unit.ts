// 单位详情 (/units/:code): one unit's result and explanation for a period, its history, returns and cases.
import { clock } from '../clock.ts';
import { forbidden, notFound } from '../domain/errors.ts';
import { isQuarter } from '../domain/periods.ts';
import type { Grade } from '../domain/scoring/scheme.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import { Case } from '../models/case.ts';
import { explainUnit, resultsOf, snapshotsOf, type Explanation } from '../results/read.ts';
import type { UnitCategory } from '../domain/fields.ts';
import type { Snapshot } from '../results/snapshot.ts';
import { improveView, type ImproveView } from './improve.ts';
import { readPointers } from '../results/store.ts';
import { assertQuarter, getPeriod } from '../services/periods.ts';
import { currentScheme } from '../services/scheme.ts';
import { revisionsOf, type RevisionView } from '../services/returns.ts';
import { getUnit, listUnits, type UnitView } from '../services/units.ts';
import { canSeeUnitData, caseView, collectingPeriod, periodLabel, unitIndex, type CaseLean, type CaseView, type Row, type Viewer } from './common.ts';

// ---------------------------------------------------------------------------------------------
// 单位详情

export interface UnitHistoryPoint {
  period: string;
  status: 'final' | 'provisional';
  total: number | null;
  grade: Grade | null;
  rank: number | null;
  ranked: number;
  indicators: Record<string, number | null>;
  flags: string[];
}

/** A subordinate unit (a city's county: units.parent is the city's code) with its result in the shown period. */
export interface ChildRow {
  code: string;
  name: string;
  active: boolean;
  total: number | null;
  grade: Grade | null;
  rank: number | null;
  flags: string[];
}

export interface UnitDetail {
  unit: UnitView;
  parent: UnitView | null;
  children: UnitView[];
  /** The children with their results in the shown period, by rank (unranked last), then code. */
  childRows: ChildRow[];
  /** Ranked units of the children's category in the shown period (the rank's denominator). */
  childRanked: number;
  period: string | null;
  label: string | null;
  periods: { period: string; label: string; status: 'final' | 'provisional' }[];
  row: Row | null;
  status: 'final' | 'provisional' | null;
  explanation: Explanation | null;
  /** 提分路径: the smallest changes of the unit's own returns to the next grade (scored units only). */
  improve: ImproveView | null;
  history: UnitHistoryPoint[];
  indicators: { id: string; name: string; weight: number; target: number; floor: number }[];
  revisions: RevisionView[];
  returnPeriod: string | null;
  cases: CaseView[];
}

export async function unitDetail(v: Viewer, code: string, requested?: unknown): Promise<UnitDetail> {
  const unit = await getUnit(code);
  if (!unit) throw notFound('unit_not_found', `单位「${code}」不存在`);
  if (!canSeeUnitData(v, code)) throw forbidden('只能查看本单位的详情');
  const sets = (await readPointers()).filter((s) => isQuarter(s.period)).sort((a, b) => (a.period < b.period ? 1 : -1));
  const periods = sets.map((s) => ({ period: s.period, label: periodLabel(s.period), status: s.status }));
  let period: string | null = null;
  if (requested !== undefined && requested !== '') {
    period = assertQuarter(requested);
    await getPeriod(period);
  } else period = periods.find((p) => p.status === 'final')?.period ?? periods[0]?.period ?? null;

  // Trend: the last 8 periods with results.
  const trendPeriods = periods.slice(0, 8).map((p) => p.period).reverse();
  const snapshotsBy = await snapshotsOf(trendPeriods);
  const history: UnitHistoryPoint[] = [];
  for (const p of trendPeriods) {
    const got = snapshotsBy.get(p);
    const at = got ? got.snapshot.indexOf(code) : -1;
    if (!got || at < 0) continue;
    const r = got.snapshot.row(at);
    let ranked = 0;
    for (const i of got.snapshot.inCategory(unit.category as UnitCategory)) if (got.snapshot.rank(i) !== null) ranked++;
    history.push({
      period: p,
      status: got.set.status,
      total: r.total,
      grade: r.grade,
      rank: r.rank,
      ranked,
      indicators: Object.fromEntries(Object.entries(r.indicators).map(([k, i]) => [k, i.value])),
      flags: r.flags,
    });
  }

  let row: Row | null = null;
  let status: 'final' | 'provisional' | null = null;
  let explanation: Explanation | null = null;
  let improve: ImproveView | null = null;
  let snap: Snapshot | null = null;
  // The indicators (names, weights, targets) of the scheme version the shown period was computed with.
  let indicators: UnitDetail['indicators'] = (await currentScheme()).scheme.indicators.map((i) => ({ id: i.id, name: i.name, weight: i.weight, target: i.target, floor: i.floor }));
  if (period) {
    const { set, snapshot } = await resultsOf(period, { set: sets.find((s) => s.period === period) });
    const at = snapshot.indexOf(code);
    row = at < 0 ? null : snapshot.row(at);
    snap = snapshot;
    status = set.status;
    indicators = snapshot.indicators.map((i) => ({ ...i }));
    try {
      explanation = await explainUnit(period, code);
    } catch {
      explanation = null;
    }
    if (explanation) improve = await improveView(explanation, snapshot);
  }
  const returnPeriod = period ?? (await collectingPeriod());
  const [revisions, caseDocs, names, all] = await Promise.all([
    returnPeriod ? revisionsOf(returnPeriod, code) : Promise.resolve([]),
    Case.find({ unit: code }).sort({ openedAt: -1, _id: -1 }).lean<CaseLean[]>(),
    unitIndex(),
    listUnits(),
  ]);
  const now = clock.now();
  const children = all.filter((u) => u.parent === code);
  const rowOf = (unit: string): Row | undefined => {
    const at = snap ? snap.indexOf(unit) : -1;
    return at < 0 ? undefined : snap!.row(at);
  };
  const childRows = children
    .map((c): ChildRow => {
      const r = rowOf(c.code);
      return { code: c.code, name: c.name, active: c.active, total: r?.total ?? null, grade: r?.grade ?? null, rank: r?.rank ?? null, flags: r?.flags ?? [] };
    })
    .sort((a, b) => (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER) || compareCodes(a.code, b.code));
  const childCategories = new Set(children.map((c) => c.category));
  let childRanked = 0;
  for (const cat of childCategories) for (const i of snap?.inCategory(cat) ?? []) if (snap!.rank(i) !== null) childRanked++;
  return {
    unit,
    parent: unit.parent ? names.get(unit.parent) ?? null : null,
    children,
    childRows,
    childRanked,
    period,
    label: period ? periodLabel(period) : null,
    periods,
    row,
    status,
    explanation,
    improve,
    history,
    indicators,
    revisions: [...revisions].reverse(),
    returnPeriod,
    cases: caseDocs.map((c) => caseView(c, names, now)),
  };
}

