// What the page read models share: the viewer, period lists and the default period, case rows.
// Read-only: every figure comes from stored returns, result snapshots and cases; nothing is written here.
import { clock } from '../clock.ts';
import { forbidden, notFound } from '../domain/errors.ts';
import { UNIT_CATEGORIES, type Role, type UnitCategory } from '../domain/fields.ts';
import { parseQuarter } from '../domain/periods.ts';
import { CASE_STATUS_LABELS, effectiveStatus, type CaseStatus } from '../domain/scoring/accountability.ts';
import type { ResultsView } from '../results/read.ts';
import { readPointers, resultSetOf, type ResultSetPointer } from '../results/store.ts';
import { assertQuarter, currentReportingPeriod, getPeriod, listPeriods, periodNotOpen, quarterAt, type PeriodView } from '../services/periods.ts';
import { listUnits, type UnitView } from '../services/units.ts';

/** Who is looking (a request's principal, without the request). */
export interface Viewer {
  username: string;
  role: Role;
  unit?: string;
}

export type Row = ResultsView['results'][number];

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

export type Scope = 'all' | UnitCategory;

export function parseScope(raw: unknown): Scope {
  return typeof raw === 'string' && (UNIT_CATEGORIES as readonly string[]).includes(raw) ? (raw as UnitCategory) : 'all';
}

/** All periods' result pointers in one read (a page needs them for the period list, the default period and its results). */
export async function periodPointers(): Promise<PeriodPointer[]> {
  return readPointers();
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
export async function periodOptions(v: Viewer, sets?: readonly PeriodPointer[], openedPeriods?: readonly PeriodView[]): Promise<PeriodOption[]> {
  const [opened, pointers] = await Promise.all([openedPeriods ?? listPeriods(), sets ?? readPointers()]);
  const status = new Map(pointers.map((s) => [s.period, s.status]));
  const list = opened.map((p) => ({ period: p.period, label: periodLabel(p.period), status: status.get(p.period) ?? ('none' as const) }));
  return v.role === 'reporter' ? list.filter((p) => p.status === 'final') : list;
}

/**
 * The requested period (validated, opened and allowed), or the default: the latest published period,
 * else the period being collected. 404 period_not_open for a period never opened or when none is.
 * `sets` / `opened`: the result pointers and the opened periods when the caller has read them.
 */
export async function resolvePeriod(v: Viewer, requested: unknown, sets?: readonly PeriodPointer[], opened?: readonly PeriodView[]): Promise<string> {
  if (requested !== undefined && requested !== '') {
    const period = assertQuarter(requested);
    if (!opened) await getPeriod(period);
    else if (!opened.some((p) => p.period === period)) throw periodNotOpen(period, opened[0]?.period ?? null);
    if (v.role === 'reporter') {
      const set = sets ? sets.find((s) => s.period === period) : await resultSetOf(period);
      if (set?.status !== 'final') throw forbidden(`${period} 期考核结果尚未发布，发布后方可查看排名`);
    }
    return period;
  }
  const latestFinal = (sets ?? (await readPointers()))
    .filter((s) => s.status === 'final')
    .reduce<PeriodPointer | null>((a, s) => (a === null || s.period > a.period ? s : a), null);
  if (latestFinal) return latestFinal.period;
  if (v.role === 'reporter') throw notFound('no_published_results', '目前还没有已发布的考核结果');
  const collecting = opened ? collectingIn(opened, clock.now()) : await collectingPeriod();
  if (!collecting) throw notFound('period_not_open', '尚未开放任何考核期次，请管理员在“期次管理”中开放');
  return collecting;
}


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

export type CaseLean = {
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

export function caseView(c: CaseLean, names: ReadonlyMap<string, UnitView>, now: Date): CaseView {
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

export async function unitIndex(): Promise<Map<string, UnitView>> {
  return new Map((await listUnits()).map((u) => [u.code, u]));
}

