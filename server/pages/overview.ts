// 总览 (/): the province at a glance for one period — figures from returns, grades and boards from the
// period's snapshot, the trend over recent periods, a reporter's own unit.
import { clock } from '../clock.ts';
import { forbidden } from '../domain/errors.ts';
import { UNIT_CATEGORY_LABELS, type ReturnValues, type UnitCategory } from '../domain/fields.ts';
import { GRADES, type Grade } from '../domain/scoring/scheme.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import { RETURN_STATUS_LABELS } from '../domain/vocabulary.ts';
import { Case } from '../models/case.ts';
import { explainUnit, getResults, resultsOf, snapshotsOf } from '../results/read.ts';
import type { Snapshot } from '../results/snapshot.ts';
import { improveView, type ImproveView } from './improve.ts';
import { hasPublished as anyPublished, readPointers } from '../results/store.ts';
import { getPeriod } from '../services/periods.ts';
import { latestReturnFacts, latestUsableValues, revisionsOf, usableValuesWithFacts } from '../services/returns.ts';
import { getUnit, listUnits, type UnitView } from '../services/units.ts';
import { freshShared } from '../services/fresh-shared.ts';
import { CATEGORY_ORDER, collectingPeriod, periodLabel, type Row, type Scope, type Viewer } from './common.ts';
export { parseScope, type Scope } from './common.ts';

// ---------------------------------------------------------------------------------------------
// Province figures from returns

export interface Figures {
  units: number;
  reported: number;
  systems: number;
  systemsExtranet: number;
  extranetRate: number | null;
  cloudRate: number | null;
  networksPrivate: number;
  standaloneLeft: number;
  catalogueItems: number;
  catalogueRate: number | null;
  requestsReceived: number;
  responseRate: number | null;
  /** Departments whose every private network is connected / that still run a standalone one. */
  networkedConnected: number;
  networkedStandalone: number;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

export function figuresOf(units: readonly UnitView[], values: ReadonlyMap<string, ReturnValues>): Figures {
  const f = {
    units: units.length,
    reported: 0,
    systems: 0,
    systemsExtranet: 0,
    systemsCloud: 0,
    networksPrivate: 0,
    standaloneLeft: 0,
    catalogueItems: 0,
    catalogueShared: 0,
    requestsReceived: 0,
    requestsOnTime: 0,
    networkedConnected: 0,
    networkedStandalone: 0,
  };
  for (const u of units) {
    const v = values.get(u.code);
    if (!v) continue;
    f.reported++;
    f.systems += v.systems_total;
    f.systemsExtranet += v.systems_extranet;
    f.systemsCloud += v.systems_cloud;
    f.networksPrivate += v.networks_private;
    f.standaloneLeft += v.networks_standalone;
    f.catalogueItems += v.catalogue_items;
    f.catalogueShared += v.catalogue_shared;
    f.requestsReceived += v.requests_received;
    f.requestsOnTime += v.requests_on_time;
    if (v.networks_private > 0 && v.networks_standalone === 0) f.networkedConnected++;
    if (v.networks_standalone > 0) f.networkedStandalone++;
  }
  return {
    units: f.units,
    reported: f.reported,
    systems: f.systems,
    systemsExtranet: f.systemsExtranet,
    extranetRate: ratio(f.systemsExtranet, f.systems),
    cloudRate: ratio(f.systemsCloud, f.systems),
    networksPrivate: f.networksPrivate,
    standaloneLeft: f.standaloneLeft,
    catalogueItems: f.catalogueItems,
    catalogueRate: ratio(f.catalogueShared, f.catalogueItems),
    requestsReceived: f.requestsReceived,
    responseRate: ratio(f.requestsOnTime, f.requestsReceived),
    networkedConnected: f.networkedConnected,
    networkedStandalone: f.networkedStandalone,
  };
}

// ---------------------------------------------------------------------------------------------
// 总览


export interface GradeDistribution {
  category: UnitCategory;
  label: string;
  counts: Record<Grade, number>;
  unrated: number;
  ranked: number;
}

export interface BoardEntry {
  unit: string;
  name: string;
  total: number | null;
  grade: Grade | null;
  rank: number | null;
  rankChange: number | null;
  flags: string[];
}

export interface Board {
  category: UnitCategory;
  label: string;
  top: BoardEntry[];
  bottom: BoardEntry[];
}

export interface ProgressSummary {
  period: string;
  label: string;
  deadline: string;
  deadlinePassed: boolean;
  units: number;
  submitted: number;
  approved: number;
  rejected: number;
  late: number;
  /** No return yet (before the deadline) / no usable return (after). */
  outstanding: number;
  rate: number;
}

export interface TrendPoint extends Figures {
  period: string;
  status: 'final' | 'provisional';
  averageTotal: number | null;
}

export interface Overview {
  period: string;
  label: string;
  status: 'final' | 'provisional';
  publishedAt: string | null;
  schemeVersion: number;
  scope: Scope;
  figures: Figures;
  /** Departments' own figures (the field situation: systems, connected, standalone). */
  departments: Figures;
  assessed: number;
  averageTotal: number | null;
  trend: TrendPoint[];
  grades: GradeDistribution[];
  boards: Board[];
  progress: ProgressSummary | null;
  /** For reporters: their own unit this period and now. */
  own: null | {
    unit: UnitView;
    row: Row | null;
    /** The return for the period being collected (null: no period is open). */
    current: null | { period: string; label: string; status: string | null; statusLabel: string; reason: string | null; revision: number | null; deadline: string };
    openCases: number;
    /** 提分路径 in the shown period (overview only; null when the unit is not scored there). */
    improve?: ImproveView | null;
  };
}

function entry(r: Row): BoardEntry {
  return { unit: r.unit, name: r.name, total: r.total, grade: r.grade, rank: r.rank, rankChange: r.rankChange, flags: r.flags };
}

function average(rows: readonly Row[]): number | null {
  return averageOfTotals(rows.map((r) => r.total));
}

function averageOfTotals(all: readonly (number | null)[]): number | null {
  const totals = all.filter((t): t is number => t !== null);
  return totals.length ? Math.round((totals.reduce((a, b) => a + b, 0) / totals.length) * 100) / 100 : null;
}

/** The average total of a snapshot's rows in scope, summed in result order as `average` sums its rows. */
function averageOf(s: Snapshot, scope: Scope): number | null {
  const positions = scope === 'all' ? Array.from({ length: s.size }, (_, i) => i) : s.inCategory(scope);
  return averageOfTotals(Array.from(positions, (i) => s.total(i)));
}

export function gradeDistribution(rows: readonly Row[]): GradeDistribution[] {
  return CATEGORY_ORDER.map((category) => {
    const counts = Object.fromEntries(GRADES.map((g) => [g, 0])) as Record<Grade, number>;
    let unrated = 0;
    let ranked = 0;
    for (const r of rows) {
      if (r.category !== category) continue;
      if (r.grade) counts[r.grade]++;
      else unrated++;
      if (r.rank !== null) ranked++;
    }
    return { category, label: UNIT_CATEGORY_LABELS[category], counts, unrated, ranked };
  }).filter((d) => d.ranked + d.unrated > 0);
}

export function boards(rows: readonly Row[], size: (c: UnitCategory) => number = (c) => (c === 'city' ? 3 : 5)): Board[] {
  return CATEGORY_ORDER.map((category) => {
    const ranked = rows.filter((r) => r.category === category && r.rank !== null).sort((a, b) => a.rank! - b.rank! || compareCodes(a.unit, b.unit));
    const n = Math.min(size(category), Math.floor(ranked.length / 2));
    return {
      category,
      label: UNIT_CATEGORY_LABELS[category],
      top: ranked.slice(0, n).map(entry),
      bottom: ranked.slice(ranked.length - n).reverse().map(entry),
    };
  }).filter((b) => b.top.length > 0);
}

export async function progressSummary(period: string): Promise<ProgressSummary> {
  const [p, units] = await Promise.all([getPeriod(period), listUnits({ activeOnly: true })]);
  const tally = new ProgressTally(units.map((u) => u.code));
  // Each unit's latest visible return, read by cursor with the few fields that decide.
  for await (const r of latestReturnFacts(period)) tally.add(r);
  return tally.summary(period, p.deadline);
}

/** The 填报进度 counts of the active units, from each unit's latest visible return (added once per unit). */
export class ProgressTally {
  private readonly active: ReadonlySet<string>;
  private submitted = 0;
  private approved = 0;
  private rejected = 0;
  private late = 0;

  constructor(activeUnits: readonly string[]) {
    this.active = new Set(activeUnits);
  }

  add(r: { unit: string; approved: boolean; rejected: boolean; late: boolean }): void {
    if (!this.active.has(r.unit)) return;
    this.submitted++;
    if (r.approved) this.approved++;
    if (r.rejected) this.rejected++;
    if (r.late) this.late++;
  }

  summary(period: string, deadline: string): ProgressSummary {
    const units = this.active.size;
    return {
      period,
      label: periodLabel(period),
      deadline,
      deadlinePassed: clock.now().getTime() > new Date(deadline).getTime(),
      units,
      submitted: this.submitted,
      approved: this.approved,
      rejected: this.rejected,
      late: this.late,
      outstanding: units - this.submitted + this.rejected,
      rate: units ? this.submitted / units : 0,
    };
  }
}

/** Recent periods with results up to `period` (oldest first), at most `n`; reporters: final only. */
async function trendPeriods(v: Viewer, period: string, n: number): Promise<{ period: string; status: 'final' | 'provisional' }[]> {
  const sets = (await readPointers()).filter((s) => s.period <= period).sort((a, b) => (a.period < b.period ? 1 : -1));
  return sets
    .filter((s) => v.role !== 'reporter' || s.status === 'final')
    .slice(0, n)
    .reverse()
    .map((s) => ({ period: s.period, status: s.status }));
}

const OWN_RETURN_LABELS: Readonly<Record<string, string>> = RETURN_STATUS_LABELS;

/** A reporter's own unit: its row in `rows` (if any), its return for the period being collected, open cases. */
export async function ownUnitStatus(v: Viewer, rows: readonly Row[] = []): Promise<Overview['own']> {
  const unit = v.unit ? await getUnit(v.unit) : null;
  if (!unit) return null;
  const current = await collectingPeriod();
  const [revisions, cp, openCases] = await Promise.all([
    current ? revisionsOf(current, unit.code) : Promise.resolve([]),
    current ? getPeriod(current) : Promise.resolve(null),
    Case.countDocuments({ unit: unit.code, status: { $ne: 'resolved' } }),
  ]);
  const last = revisions.at(-1) ?? null;
  return {
    unit,
    row: rows.find((r) => r.unit === unit.code) ?? null,
    current:
      current && cp
        ? {
            period: current,
            label: periodLabel(current),
            status: last?.status ?? null,
            statusLabel: last ? OWN_RETURN_LABELS[last.status] ?? last.status : '未报送',
            reason: last?.status === 'rejected' ? last.review?.reason ?? null : null,
            revision: last?.revision ?? null,
            deadline: cp.deadline,
          }
        : null,
    openCases,
  };
}

/** Whether any period's results are published. */
export async function hasPublished(): Promise<boolean> {
  return anyPublished();
}

/**
 * 总览 of a period for a viewer. Office, reviewers and admins see one and the same view (the viewer only
 * matters for reporters): theirs is shared by the requests at once (freshShared: a computation that
 * began after each request arrived; at 50 000 units one is ≈ 10 s, reading every revision of up to six
 * periods) and is read-only.
 */
export function overview(v: Viewer, period: string, scope: Scope = 'all'): Promise<Overview> {
  if (v.role === 'reporter') return computeOverview(v, period, scope);
  return sharedStaffOverview(`${period}|${scope}`);
}

const STAFF: Viewer = { username: '', role: 'office' };
const sharedStaffOverview = freshShared(async (key: string) => {
  const [period, scope] = key.split('|') as [string, Scope];
  return Object.freeze(await computeOverview(STAFF, period, scope));
});

async function computeOverview(v: Viewer, period: string, scope: Scope): Promise<Overview> {
  const results = await getResults(period);
  if (v.role === 'reporter' && results.status !== 'final') throw forbidden(`${period} 期考核结果尚未发布`);
  const units = await listUnits({ activeOnly: true });
  const inScope = scope === 'all' ? units : units.filter((u) => u.category === scope);
  const scopeRows = results.results.filter((r) => scope === 'all' || r.category === scope);

  const tPeriods = await trendPeriods(v, period, 6);
  const trendSnapshots = await snapshotsOf(tPeriods.map((t) => t.period));
  // Staff see the 填报进度 of the period being collected: counted while its values are read, when it is
  // one of the trend's periods (one read of its revisions instead of two).
  const collecting = v.role === 'reporter' ? null : await collectingPeriod();
  const tally = collecting ? new ProgressTally(units.map((u) => u.code)) : null;
  let counted = false;
  const valuesOf = (p: string) => {
    if (p !== collecting || !tally || counted) return latestUsableValues(p);
    counted = true;
    return usableValuesWithFacts(p, (f) => tally.add(f));
  };
  const trend: TrendPoint[] = [];
  let figures: Figures | null = null;
  let departments: Figures | null = null;
  for (const t of tPeriods) {
    const values = await valuesOf(t.period);
    const f = figuresOf(inScope, values);
    const snap = trendSnapshots.get(t.period)?.snapshot;
    trend.push({ ...f, period: t.period, status: t.status, averageTotal: snap ? averageOf(snap, scope) : null });
    if (t.period === period) {
      figures = f;
      departments = figuresOf(units.filter((u) => u.category === 'department'), values);
    }
  }
  if (!figures || !departments) {
    const values = await valuesOf(period);
    figures = figuresOf(inScope, values);
    departments = figuresOf(units.filter((u) => u.category === 'department'), values);
  }

  let progress: ProgressSummary | null = null;
  let own: Overview['own'] = null;
  if (v.role === 'reporter') {
    own = await ownUnitStatus(v, results.results);
    if (own?.row?.total != null) {
      const ex = await explainUnit(period, own.unit.code).catch(() => null);
      own.improve = ex ? await improveView(ex, (await resultsOf(period)).snapshot) : null;
    }
  } else if (collecting) {
    progress = counted ? tally!.summary(collecting, (await getPeriod(collecting)).deadline) : await progressSummary(collecting);
  }

  return {
    period,
    label: periodLabel(period),
    status: results.status,
    publishedAt: results.publishedAt,
    schemeVersion: results.schemeVersion,
    scope,
    figures,
    departments,
    assessed: scopeRows.filter((r) => r.total !== null).length,
    averageTotal: average(scopeRows),
    trend,
    grades: gradeDistribution(results.results),
    boards: boards(results.results),
    progress,
    own,
  };
}

// ---------------------------------------------------------------------------------------------
// 排名

