// Read models for the pages: 总览, 排名, 单位详情, 问责 and 填报进度. Read-only: every figure comes
// from the stored returns, the stored result snapshots and the stored cases; nothing is written here
// (except the first provisional snapshot that getResults computes for a period without one).
import { clock } from '../clock.ts';
import { forbidden, notFound } from '../domain/errors.ts';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type ReturnValues, type Role, type UnitCategory } from '../domain/fields.ts';
import { isQuarter, parseQuarter, quarterStart } from '../domain/periods.ts';
import { CASE_STATUS_LABELS, effectiveStatus, lastInCategory, type CaseStatus } from '../domain/scoring/accountability.ts';
import { GRADES, type Grade } from '../domain/scoring/scheme.ts';
import type { UnitResult } from '../domain/scoring/score.ts';
import { Case } from '../models/case.ts';
import { Notice } from '../models/notice.ts';
import { ResultSet } from '../models/result.ts';
import { assertQuarter, currentReportingPeriod, getPeriod, listPeriods, quarterAt, timeZone, type PeriodView } from './periods.ts';
import { periodReturns, revisionsOf, type RevisionView } from './returns.ts';
import { currentScheme, schemeVersion } from './scheme.ts';
import { explainUnit, getResults, resultSetPointers, resultsOf, rowsOfPeriods, type Explanation, type ResultSetPointer, type ResultsView } from './scoring.ts';
import { getUnit, listUnits, type UnitView } from './units.ts';

/** Who is looking (a request's principal, without the request). */
export interface Viewer {
  username: string;
  role: Role;
  unit?: string;
}

type Row = ResultsView['results'][number];

export const CATEGORY_ORDER: readonly UnitCategory[] = UNIT_CATEGORIES;

export function periodLabel(period: string): string {
  const q = parseQuarter(period);
  return q ? `${q.year}年第${'一二三四'[q.quarter - 1]}季度` : period;
}

export function canSeeUnitData(v: Viewer, unit: string): boolean {
  return v.role !== 'reporter' || v.unit === unit;
}

// ---------------------------------------------------------------------------------------------
// Periods

export interface PeriodOption {
  period: string;
  label: string;
  status: 'final' | 'provisional' | 'none';
}

/** The pointer documents of every period with results (result_sets; one small document per period). */
export type PeriodPointer = ResultSetPointer;

/** All periods' result pointers in one read (a page needs them for the period list, the default period and its results). */
export async function periodPointers(): Promise<PeriodPointer[]> {
  return resultSetPointers();
}

/**
 * The period whose submissions are being collected: the earliest of (the quarter that last ended, the
 * current quarter) that is opened and not published; else the newest opened period not published; else
 * the newest opened one. null: no period has been opened yet.
 */
export function collectingIn(periods: readonly PeriodView[], at: Date): string | null {
  const open = periods.filter((p) => p.status === 'open');
  const candidates = [currentReportingPeriod(at), quarterAt(at)];
  return candidates.find((c) => open.some((p) => p.period === c)) ?? open[0]?.period ?? periods[0]?.period ?? null;
}

export async function collectingPeriod(at = clock.now()): Promise<string | null> {
  return collectingIn(await listPeriods(), at);
}

/**
 * Periods a viewer may pick, newest first: the opened ones. Reporters: published periods only.
 * `sets`: the result pointers when already read.
 */
export async function periodOptions(v: Viewer, sets?: readonly PeriodPointer[]): Promise<PeriodOption[]> {
  const [opened, pointers] = await Promise.all([listPeriods(), sets ?? ResultSet.find({}, { period: 1, status: 1 }).lean()]);
  const status = new Map(pointers.map((s) => [s.period, s.status as 'final' | 'provisional']));
  const list = opened.map((p) => ({ period: p.period, label: periodLabel(p.period), status: status.get(p.period) ?? ('none' as const) }));
  return v.role === 'reporter' ? list.filter((p) => p.status === 'final') : list;
}

/**
 * The requested period (validated, opened and allowed), or the default: the latest published period,
 * else the period being collected. 404 period_not_open for a period never opened or when none is.
 */
export async function resolvePeriod(v: Viewer, requested: unknown, sets?: readonly PeriodPointer[]): Promise<string> {
  if (requested !== undefined && requested !== '') {
    const period = assertQuarter(requested);
    await getPeriod(period);
    if (v.role === 'reporter') {
      const set = sets ? sets.find((s) => s.period === period) : await ResultSet.findOne({ period }, { status: 1 }).lean();
      if (set?.status !== 'final') throw forbidden(`${period} 期考核结果尚未发布，发布后方可查看排名`);
    }
    return period;
  }
  const latestFinal = sets
    ? sets.filter((s) => s.status === 'final').reduce<PeriodPointer | null>((a, s) => (a === null || s.period > a.period ? s : a), null)
    : await ResultSet.findOne({ status: 'final' }, { period: 1 }).sort({ period: -1 }).lean();
  if (latestFinal) return latestFinal.period;
  if (v.role === 'reporter') throw notFound('no_published_results', '目前还没有已发布的考核结果');
  const collecting = await collectingPeriod();
  if (!collecting) throw notFound('period_not_open', '尚未开放任何考核期次，请管理员在“期次管理”中开放');
  return collecting;
}

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

/** Usable latest return values per unit (rejected latest revisions are not usable). */
async function usableValues(period: string): Promise<Map<string, ReturnValues>> {
  const out = new Map<string, ReturnValues>();
  for (const [unit, r] of await periodReturns(period)) if (r.latest.status !== 'rejected') out.set(unit, r.latest.values);
  return out;
}

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

export type Scope = 'all' | UnitCategory;

export function parseScope(raw: unknown): Scope {
  return typeof raw === 'string' && (UNIT_CATEGORIES as readonly string[]).includes(raw) ? (raw as UnitCategory) : 'all';
}

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
  };
}

function entry(r: Row): BoardEntry {
  return { unit: r.unit, name: r.name, total: r.total, grade: r.grade, rank: r.rank, rankChange: r.rankChange, flags: r.flags };
}

function average(rows: readonly Row[]): number | null {
  const totals = rows.map((r) => r.total).filter((t): t is number => t !== null);
  return totals.length ? Math.round((totals.reduce((a, b) => a + b, 0) / totals.length) * 100) / 100 : null;
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

export function boards(rows: readonly Row[], size = (c: UnitCategory) => (c === 'city' ? 3 : 5)): Board[] {
  return CATEGORY_ORDER.map((category) => {
    const ranked = rows.filter((r) => r.category === category && r.rank !== null).sort((a, b) => a.rank! - b.rank! || a.unit.localeCompare(b.unit));
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
  const [p, units, returns] = await Promise.all([getPeriod(period), listUnits({ activeOnly: true }), periodReturns(period)]);
  const deadlinePassed = clock.now().getTime() > new Date(p.deadline).getTime();
  let submitted = 0;
  let approved = 0;
  let rejected = 0;
  let late = 0;
  for (const u of units) {
    const r = returns.get(u.code);
    if (!r) continue;
    submitted++;
    if (r.latest.status === 'approved') approved++;
    if (r.latest.status === 'rejected') rejected++;
    if (r.latest.late) late++;
  }
  return {
    period,
    label: periodLabel(period),
    deadline: p.deadline,
    deadlinePassed,
    units: units.length,
    submitted,
    approved,
    rejected,
    late,
    outstanding: units.length - submitted + rejected,
    rate: units.length ? submitted / units.length : 0,
  };
}

/** Recent periods with results up to `period` (oldest first), at most `n`; reporters: final only. */
async function trendPeriods(v: Viewer, period: string, n: number): Promise<{ period: string; status: 'final' | 'provisional' }[]> {
  const sets = await ResultSet.find({ period: { $lte: period } }, { period: 1, status: 1 }).sort({ period: -1 }).lean();
  return sets
    .filter((s) => isQuarter(s.period) && (v.role !== 'reporter' || s.status === 'final'))
    .slice(0, n)
    .reverse()
    .map((s) => ({ period: s.period, status: s.status as 'final' | 'provisional' }));
}

const OWN_RETURN_LABELS: Readonly<Record<string, string>> = { submitted: '已报送，待审核', approved: '审核通过', rejected: '被退回' };

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
  return (await ResultSet.exists({ status: 'final' })) !== null;
}

export async function overview(v: Viewer, period: string, scope: Scope = 'all'): Promise<Overview> {
  const results = await getResults(period);
  if (v.role === 'reporter' && results.status !== 'final') throw forbidden(`${period} 期考核结果尚未发布`);
  const units = await listUnits({ activeOnly: true });
  const inScope = scope === 'all' ? units : units.filter((u) => u.category === scope);
  const scopeRows = results.results.filter((r) => scope === 'all' || r.category === scope);

  const tPeriods = await trendPeriods(v, period, 6);
  const trendRows = await rowsOfPeriods(tPeriods.map((t) => t.period));
  const trend: TrendPoint[] = [];
  let figures: Figures | null = null;
  let departments: Figures | null = null;
  for (const t of tPeriods) {
    const values = await usableValues(t.period);
    const f = figuresOf(inScope, values);
    const rows = (trendRows.get(t.period)?.rows ?? []).filter((r) => scope === 'all' || r.category === scope);
    trend.push({ ...f, period: t.period, status: t.status, averageTotal: average(rows) });
    if (t.period === period) {
      figures = f;
      departments = figuresOf(units.filter((u) => u.category === 'department'), values);
    }
  }
  if (!figures || !departments) {
    const values = await usableValues(period);
    figures = figuresOf(inScope, values);
    departments = figuresOf(units.filter((u) => u.category === 'department'), values);
  }

  let progress: ProgressSummary | null = null;
  let own: Overview['own'] = null;
  if (v.role === 'reporter') {
    own = await ownUnitStatus(v, results.results);
  } else {
    const collecting = await collectingPeriod();
    progress = collecting ? await progressSummary(collecting) : null;
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

export const SORT_KEYS = ['rank', 'total', 'base', 'change', 'code', 'name', 'I1', 'I2', 'I3', 'I4', 'I5', 'I6'] as const;
export type SortKey = (typeof SORT_KEYS)[number] | `I${number}`;

export interface RankingQuery {
  period: string;
  category: UnitCategory;
  sort: string;
  dir: 'asc' | 'desc';
}

export interface RankingView {
  period: string;
  label: string;
  status: 'final' | 'provisional';
  publishedAt: string | null;
  computedAt: string;
  schemeVersion: number;
  /** The snapshot shown: the rows (everything but `visible`) are a function of (period, computeId, category, sort, dir). */
  computeId: string;
  category: UnitCategory;
  indicators: { id: string; name: string; weight: number }[];
  sort: string;
  dir: 'asc' | 'desc';
  /** The category's rows, sorted (computed on call: a page whose table is cached does not need them). */
  rows: () => (Row & { visible: boolean })[];
  counts: Record<UnitCategory, number>;
}

export function parseSort(raw: unknown, indicatorIds: readonly string[]): string {
  const s = typeof raw === 'string' ? raw : '';
  return (SORT_KEYS as readonly string[]).includes(s) || indicatorIds.includes(s) ? s : 'rank';
}

/** Natural direction of a key when first clicked: ranks / codes / names ascending, scores descending. */
export function naturalDir(sort: string): 'asc' | 'desc' {
  return sort === 'rank' || sort === 'code' || sort === 'name' ? 'asc' : 'desc';
}

function sortValue(r: Row, key: string): number | string | null {
  switch (key) {
    case 'rank':
      return r.rank;
    case 'total':
      return r.total;
    case 'base':
      return r.base;
    case 'change':
      return r.rankChange;
    case 'code':
      return r.unit;
    case 'name':
      return r.name;
    default:
      return r.indicators[key]?.score ?? null;
  }
}

// One collator each, built once: `a.localeCompare(b, locale)` builds a collator on every call, which
// dominated sorting by name (same order: localeCompare is specified as this collator's compare).
const zhCollator = new Intl.Collator('zh-CN');
const defaultCollator = new Intl.Collator();

/** Sorts rows by `key` in `dir`; absent values always last; ties by rank then code. */
export function sortRows<T extends Row>(rows: readonly T[], key: string, dir: 'asc' | 'desc'): T[] {
  const sign = dir === 'asc' ? 1 : -1;
  // Each row's key read once (decorate–sort–undecorate), not twice per comparison.
  const keyed = rows.map((row) => ({ row, v: sortValue(row, key) }));
  keyed.sort((ka, kb) => {
    const x = ka.v;
    const y = kb.v;
    if (x === null && y !== null) return 1;
    if (y === null && x !== null) return -1;
    if (x !== null && y !== null && x !== y) {
      const c = typeof x === 'string' ? zhCollator.compare(x, String(y)) : (x as number) - (y as number);
      if (c !== 0) return sign * c;
    }
    const a = ka.row;
    const b = kb.row;
    const ra = a.rank ?? Number.MAX_SAFE_INTEGER;
    const rb = b.rank ?? Number.MAX_SAFE_INTEGER;
    return ra - rb || defaultCollator.compare(a.unit, b.unit);
  });
  return keyed.map((k) => k.row);
}

// A saved scheme version never changes (server/services/scheme.ts: an edit inserts version n+1;
// the unique version index refuses a second document for n), so its indicator list is kept per
// version on every instance: no read of the scheme per ranking page. A handful of versions at most.
type IndicatorDef = Readonly<{ id: string; name: string; weight: number }>;
const indicatorDefsByVersion = new Map<number, readonly IndicatorDef[]>();

async function indicatorDefs(version: number): Promise<readonly IndicatorDef[]> {
  const hit = indicatorDefsByVersion.get(version);
  if (hit) return hit;
  const rec = await schemeVersion(version);
  const defs = Object.freeze(rec.scheme.indicators.map((i) => Object.freeze({ id: i.id, name: i.name, weight: i.weight })));
  indicatorDefsByVersion.set(version, defs);
  return defs;
}

// What every ranking page of a snapshot shares: its per-category counts, each category's rows and the
// indicator ids. A function of (period, computeId) alone (a snapshot's rows never change), so kept
// for the few snapshots the pages show; a request then does no pass over the period's rows.
interface SnapshotSplit {
  counts: Readonly<Record<UnitCategory, number>>;
  byCategory: ReadonlyMap<string, readonly Row[]>;
  ids: readonly string[] | null;
}
const SPLIT_CACHE_SIZE = 8;
const splitCache = new Map<string, SnapshotSplit>();

function splitOf(period: string, computeId: string, rows: readonly Row[]): SnapshotSplit {
  const key = `${period}/${computeId}`;
  const hit = splitCache.get(key);
  if (hit) return hit;
  const counts = Object.fromEntries(UNIT_CATEGORIES.map((c) => [c, 0])) as Record<UnitCategory, number>;
  const byCategory = new Map<string, Row[]>();
  for (const r of rows) {
    if (Object.hasOwn(counts, r.category)) counts[r.category]++;
    const list = byCategory.get(r.category);
    if (list) list.push(r);
    else byCategory.set(r.category, [r]);
  }
  const split: SnapshotSplit = { counts: Object.freeze(counts), byCategory, ids: rows[0] ? Object.freeze(Object.keys(rows[0].indicators)) : null };
  splitCache.set(key, split);
  if (splitCache.size > SPLIT_CACHE_SIZE) splitCache.delete(splitCache.keys().next().value!);
  return split;
}

export async function ranking(
  v: Viewer,
  q: { period: string; category: UnitCategory; sort?: unknown; dir?: unknown; set?: PeriodPointer },
): Promise<RankingView> {
  const { view: results, computeId } = await resultsOf(q.period, { set: q.set });
  if (v.role === 'reporter' && results.status !== 'final') throw forbidden(`${q.period} 期考核结果尚未发布`);
  // The columns are named and weighted by the scheme version the snapshot was computed with (the
  // one the page's subtitle names), so the header's 满分 matches the scores below it.
  const defs = await indicatorDefs(results.schemeVersion);
  const split = splitOf(q.period, computeId, results.results);
  const ids = split.ids ?? defs.map((i) => i.id);
  const indicators = ids.map((id) => {
    const def = defs.find((i) => i.id === id);
    return { id, name: def?.name ?? id, weight: def?.weight ?? 0 };
  });
  const sort = parseSort(q.sort, ids);
  const dir = q.dir === 'asc' || q.dir === 'desc' ? q.dir : naturalDir(sort);
  const inCategory = split.byCategory.get(q.category) ?? [];
  return {
    period: q.period,
    label: periodLabel(q.period),
    status: results.status,
    publishedAt: results.publishedAt,
    computedAt: results.computedAt,
    schemeVersion: results.schemeVersion,
    computeId,
    category: q.category,
    indicators,
    sort,
    dir,
    rows: () => sortRows(inCategory, sort, dir).map((r) => ({ ...r, visible: canSeeUnitData(v, r.unit) })),
    counts: { ...split.counts },
  };
}

// ---------------------------------------------------------------------------------------------
// 单位详情

export interface CaseView {
  id: string;
  period: string;
  unit: string;
  unitName: string;
  category: string;
  rule: string;
  type: string;
  status: CaseStatus;
  statusLabel: string;
  storedStatus: CaseStatus;
  dueAt: string | null;
  openedAt: string;
  reason: string;
  history: { at: string; by: string; from: string | null; to: string; toLabel: string; comment: string }[];
}

type CaseLean = {
  _id: unknown;
  period: string;
  unit: string;
  rule: string;
  type: string;
  status: string;
  dueAt?: Date | null;
  openedAt: Date;
  reason?: string | null;
  history?: { at: Date; by: string; from?: string | null; to: string; comment?: string | null }[];
};

function caseView(c: CaseLean, names: ReadonlyMap<string, UnitView>, now: Date): CaseView {
  const status = effectiveStatus({ status: c.status as CaseStatus, dueAt: c.dueAt ?? null }, now);
  return {
    id: String(c._id),
    period: c.period,
    unit: c.unit,
    unitName: names.get(c.unit)?.name ?? c.unit,
    category: names.get(c.unit)?.category ?? '',
    rule: c.rule,
    type: c.type,
    status,
    statusLabel: CASE_STATUS_LABELS[status],
    storedStatus: c.status as CaseStatus,
    dueAt: c.dueAt ? c.dueAt.toISOString() : null,
    openedAt: c.openedAt.toISOString(),
    reason: c.reason ?? '',
    history: (c.history ?? []).map((h) => ({
      at: h.at.toISOString(),
      by: h.by,
      from: h.from ?? null,
      to: h.to,
      toLabel: CASE_STATUS_LABELS[h.to as CaseStatus] ?? h.to,
      comment: h.comment ?? '',
    })),
  };
}

async function unitIndex(): Promise<Map<string, UnitView>> {
  return new Map((await listUnits()).map((u) => [u.code, u]));
}

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

export interface UnitDetail {
  unit: UnitView;
  parent: UnitView | null;
  children: UnitView[];
  period: string | null;
  label: string | null;
  periods: { period: string; label: string; status: 'final' | 'provisional' }[];
  row: Row | null;
  status: 'final' | 'provisional' | null;
  explanation: Explanation | null;
  history: UnitHistoryPoint[];
  indicators: { id: string; name: string; weight: number; target: number; floor: number }[];
  revisions: RevisionView[];
  returnPeriod: string;
  cases: CaseView[];
}

export async function unitDetail(v: Viewer, code: string, requested?: unknown): Promise<UnitDetail> {
  const unit = await getUnit(code);
  if (!unit) throw notFound('unit_not_found', `单位「${code}」不存在`);
  if (!canSeeUnitData(v, code)) throw forbidden('只能查看本单位的详情');
  const sets = await ResultSet.find({}, { period: 1, status: 1 }).sort({ period: -1 }).lean();
  const periods = sets.filter((s) => isQuarter(s.period)).map((s) => ({ period: s.period, label: periodLabel(s.period), status: s.status as 'final' | 'provisional' }));
  let period: string | null = null;
  if (requested !== undefined && requested !== '') {
    period = assertQuarter(requested);
    await getPeriod(period);
  } else period = periods.find((p) => p.status === 'final')?.period ?? periods[0]?.period ?? null;

  const scheme = (await currentScheme()).scheme;
  const indicators = scheme.indicators.map((i) => ({ id: i.id, name: i.name, weight: i.weight, target: i.target, floor: i.floor }));

  // Trend: the last 8 periods with results.
  const trendPeriods = periods.slice(0, 8).map((p) => p.period).reverse();
  const rowsBy = await rowsOfPeriods(trendPeriods);
  const history: UnitHistoryPoint[] = [];
  for (const p of trendPeriods) {
    const set = rowsBy.get(p);
    const r = set?.rows.find((x) => x.unit === code);
    if (!set || !r) continue;
    history.push({
      period: p,
      status: set.status as 'final' | 'provisional',
      total: r.total,
      grade: r.grade,
      rank: r.rank,
      ranked: set.rows.filter((x) => x.category === unit.category && x.rank !== null).length,
      indicators: Object.fromEntries(Object.entries(r.indicators).map(([k, i]) => [k, i.value])),
      flags: r.flags,
    });
  }

  let row: Row | null = null;
  let status: 'final' | 'provisional' | null = null;
  let explanation: Explanation | null = null;
  if (period) {
    const res = await getResults(period, { onlyUnit: code });
    row = res.results[0] ?? null;
    status = res.status;
    try {
      explanation = await explainUnit(period, code);
    } catch {
      explanation = null;
    }
  }
  const returnPeriod = period ?? (await collectingPeriod());
  const [revisions, caseDocs, names, all] = await Promise.all([
    returnPeriod ? revisionsOf(returnPeriod, code) : Promise.resolve([]),
    Case.find({ unit: code }).sort({ openedAt: -1, _id: -1 }).lean(),
    unitIndex(),
    listUnits(),
  ]);
  const now = clock.now();
  return {
    unit,
    parent: unit.parent ? names.get(unit.parent) ?? null : null,
    children: all.filter((u) => u.parent === code),
    period,
    label: period ? periodLabel(period) : null,
    periods,
    row,
    status,
    explanation,
    history,
    indicators,
    revisions: [...revisions].reverse(),
    returnPeriod,
    cases: (caseDocs as unknown as CaseLean[]).map((c) => caseView(c, names, now)),
  };
}

// ---------------------------------------------------------------------------------------------
// 问责

export const CASE_FILTERS = ['active', 'open', 'rectifying', 'overdue', 'resolved', 'all'] as const;
export type CaseFilter = (typeof CASE_FILTERS)[number];

export interface LastPlace {
  category: UnitCategory;
  label: string;
  periods: string[];
  /** unit → the periods (of `periods`) in which it was last. */
  units: { unit: string; name: string; lastIn: boolean[]; streak: number }[];
}

export interface AccountabilityView {
  filter: CaseFilter;
  period: string | null;
  cases: CaseView[];
  counts: Record<CaseStatus, number> & { total: number };
  lastPlaces: LastPlace[];
  publishedPeriods: string[];
}

export async function accountability(v: Viewer, q: { filter?: unknown; period?: unknown }): Promise<AccountabilityView> {
  const filter = (CASE_FILTERS as readonly string[]).includes(q.filter as string) ? (q.filter as CaseFilter) : 'active';
  const period = q.period !== undefined && q.period !== '' ? assertQuarter(q.period) : null;
  const base: Record<string, unknown> = {};
  if (v.role === 'reporter') base.unit = v.unit ?? '\u0000';
  if (period) base.period = period;
  const [docs, names] = await Promise.all([Case.find(base).sort({ period: -1, rule: 1, unit: 1 }).lean(), unitIndex()]);
  const now = clock.now();
  const all = (docs as unknown as CaseLean[]).map((c) => caseView(c, names, now));
  const counts = { open: 0, rectifying: 0, overdue: 0, resolved: 0, total: all.length };
  for (const c of all) counts[c.status]++;
  const cases = all.filter((c) =>
    filter === 'all' ? true : filter === 'active' ? c.status !== 'resolved' : c.status === filter,
  );
  // Overdue first, then by due date.
  cases.sort((a, b) => {
    const w = (c: CaseView) => (c.status === 'overdue' ? 0 : c.status === 'open' ? 1 : c.status === 'rectifying' ? 2 : 3);
    return w(a) - w(b) || (a.dueAt ?? '9').localeCompare(b.dueAt ?? '9') || b.period.localeCompare(a.period) || a.unit.localeCompare(b.unit);
  });

  // Last places in the latest published quarters (public: the published ranking shows them anyway).
  const finals = (await ResultSet.find({ status: 'final' }, { period: 1 }).sort({ period: -1 }).limit(4).lean()).map((s) => s.period).reverse();
  const rowsBy = await rowsOfPeriods(finals, { finalOnly: true });
  const scheme = (await currentScheme()).scheme;
  const lastPlaces: LastPlace[] = [];
  for (const category of CATEGORY_ORDER) {
    const perPeriod = finals.map((p) => lastInCategory((rowsBy.get(p)?.rows ?? []).filter((r) => r.category === category), scheme.accountability.A3.minRankedUnits));
    const unitsLast = new Set(perPeriod.flatMap((s) => [...s]));
    if (!unitsLast.size) continue;
    const units = [...unitsLast].map((unit) => {
      const lastIn = perPeriod.map((s) => s.has(unit));
      let streak = 0;
      let run = 0;
      for (const x of lastIn) {
        run = x ? run + 1 : 0;
        streak = Math.max(streak, run);
      }
      return { unit, name: names.get(unit)?.name ?? unit, lastIn, streak };
    });
    units.sort((a, b) => b.streak - a.streak || a.unit.localeCompare(b.unit));
    lastPlaces.push({ category, label: UNIT_CATEGORY_LABELS[category], periods: finals, units });
  }
  return { filter, period, cases, counts, lastPlaces, publishedPeriods: finals };
}

/** One case, for the status form (reporters: their own unit only). */
export async function caseById(v: Viewer, id: string): Promise<CaseView> {
  if (!/^[0-9a-f]{24}$/i.test(id)) throw notFound('case_not_found', '问责案件不存在');
  const doc = (await Case.findById(id).lean()) as unknown as CaseLean | null;
  if (!doc) throw notFound('case_not_found', '问责案件不存在');
  if (!canSeeUnitData(v, doc.unit)) throw forbidden('只能查看本单位的问责案件');
  return caseView(doc, await unitIndex(), clock.now());
}

// ---------------------------------------------------------------------------------------------
// 填报进度

export const PROGRESS_STATES = ['submitted', 'approved', 'rejected', 'late', 'missing', 'waiting'] as const;
export type ProgressState = (typeof PROGRESS_STATES)[number];
export const PROGRESS_LABELS: Record<ProgressState, string> = {
  submitted: '已报送待审核',
  approved: '已审核通过',
  rejected: '被退回',
  late: '迟报',
  missing: '缺报',
  waiting: '未报送',
};

export interface ProgressRow {
  unit: string;
  name: string;
  category: UnitCategory;
  state: ProgressState;
  late: boolean;
  revision: number | null;
  revisions: number;
  firstSubmittedAt: string | null;
  lastSubmittedAt: string | null;
  submittedBy: string | null;
  source: string | null;
  reason: string | null;
  reminders: number;
  lastReminderAt: string | null;
}

export interface ProgressView {
  summary: ProgressSummary;
  windowOpens: string;
  category: Scope;
  state: ProgressState | 'all';
  rows: ProgressRow[];
  byCategory: { category: UnitCategory; label: string; units: number; submitted: number }[];
  remindersSent: number;
}

export async function progress(v: Viewer, q: { period?: unknown; category?: unknown; state?: unknown }): Promise<ProgressView> {
  if (v.role === 'reporter') throw forbidden('填报进度仅对审核人员、领导小组办公室和管理员开放');
  const period = q.period !== undefined && q.period !== '' ? assertQuarter(q.period) : await collectingPeriod();
  if (!period) throw notFound('period_not_open', '尚未开放任何考核期次，请管理员在“期次管理”中开放');
  const category = parseScope(q.category);
  const state = (PROGRESS_STATES as readonly string[]).includes(q.state as string) ? (q.state as ProgressState) : 'all';
  const [summary, units, returns, notices] = await Promise.all([
    progressSummary(period),
    listUnits({ activeOnly: true }),
    periodReturns(period),
    Notice.find({ period, kind: { $regex: 'remind' } }, { unit: 1, createdAt: 1 }).lean(),
  ]);
  const reminders = new Map<string, { n: number; last: Date }>();
  for (const n of notices) {
    const r = reminders.get(n.unit) ?? { n: 0, last: n.createdAt };
    r.n++;
    if (n.createdAt > r.last) r.last = n.createdAt;
    reminders.set(n.unit, r);
  }
  const rows: ProgressRow[] = units.map((u) => {
    const r = returns.get(u.code);
    const rem = reminders.get(u.code);
    let st: ProgressState;
    if (!r) st = summary.deadlinePassed ? 'missing' : 'waiting';
    else if (r.latest.status === 'rejected') st = 'rejected';
    else if (r.latest.late) st = 'late';
    else st = r.latest.status === 'approved' ? 'approved' : 'submitted';
    return {
      unit: u.code,
      name: u.name,
      category: u.category,
      state: st,
      late: r?.latest.late ?? false,
      revision: r?.latest.revision ?? null,
      revisions: r?.revisions ?? 0,
      firstSubmittedAt: r?.firstSubmittedAt ?? null,
      lastSubmittedAt: r?.latest.submittedAt ?? null,
      submittedBy: r?.latest.submittedBy ?? null,
      source: r?.latest.source ?? null,
      reason: r?.latest.review?.decision === 'reject' ? r.latest.review.reason : null,
      reminders: rem?.n ?? 0,
      lastReminderAt: rem ? rem.last.toISOString() : null,
    };
  });
  const byCategory = CATEGORY_ORDER.map((c) => ({
    category: c,
    label: UNIT_CATEGORY_LABELS[c],
    units: rows.filter((r) => r.category === c).length,
    submitted: rows.filter((r) => r.category === c && r.revision !== null).length,
  }));
  const order: Record<ProgressState, number> = { missing: 0, waiting: 1, rejected: 2, late: 3, submitted: 4, approved: 5 };
  const filtered = rows
    .filter((r) => (category === 'all' || r.category === category) && (state === 'all' || r.state === state))
    .sort((a, b) => order[a.state] - order[b.state] || CATEGORY_ORDER.indexOf(a.category) - CATEGORY_ORDER.indexOf(b.category) || a.unit.localeCompare(b.unit));
  return {
    summary,
    windowOpens: quarterStart(period, timeZone()).toISOString(),
    category,
    state,
    rows: filtered,
    byCategory,
    remindersSent: notices.length,
  };
}

export type { UnitResult };
