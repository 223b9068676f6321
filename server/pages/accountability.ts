// 问责 (/accountability): cases with their effective status, counts, and the last places of recent
// published quarters (A3), each judged with the scheme version of that quarter's results.
import { clock } from '../clock.ts';
import { forbidden, notFound } from '../domain/errors.ts';
import { UNIT_CATEGORY_LABELS, type UnitCategory } from '../domain/fields.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import { lastInCategory, type CaseStatus } from '../domain/scoring/accountability.ts';
import { Case } from '../models/case.ts';
import { finalPeriods, rowsOfPeriods, readPointers } from '../results/store.ts';
import { currentScheme, schemeVersion } from '../services/scheme.ts';
import { assertQuarter } from '../services/periods.ts';
import { canSeeUnitData, CATEGORY_ORDER, caseView, unitIndex, type CaseLean, type CaseView, type Viewer } from './common.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

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
  /** A3: consecutive last places that lead to 约谈 (the latest published quarter's scheme). */
  a3Quarters: number;
}

export async function accountability(v: Viewer, q: { filter?: unknown; period?: unknown }): Promise<AccountabilityView> {
  const filter = (CASE_FILTERS as readonly string[]).includes(q.filter as string) ? (q.filter as CaseFilter) : 'active';
  const period = q.period !== undefined && q.period !== '' ? assertQuarter(q.period) : null;
  const base: Record<string, unknown> = {};
  if (v.role === 'reporter') base.unit = v.unit ?? '\u0000';
  if (period) base.period = period;
  const [docs, names] = await Promise.all([Case.find(base).sort({ period: -1, rule: 1, unit: 1 }).batchSize(DOCS_PER_COMMAND).lean<CaseLean[]>(), unitIndex()]);
  const now = clock.now();
  const all = docs.map((c) => caseView(c, names, now));
  const counts = { open: 0, rectifying: 0, overdue: 0, resolved: 0, total: all.length };
  for (const c of all) counts[c.status]++;
  const cases = all.filter((c) =>
    filter === 'all' ? true : filter === 'active' ? c.status !== 'resolved' : c.status === filter,
  );
  // Overdue first, then by due date.
  cases.sort((a, b) => {
    const w = (c: CaseView) => (c.status === 'overdue' ? 0 : c.status === 'open' ? 1 : c.status === 'rectifying' ? 2 : 3);
    return w(a) - w(b) || (a.dueAt ?? '9').localeCompare(b.dueAt ?? '9') || b.period.localeCompare(a.period) || compareCodes(a.unit, b.unit);
  });

  // Last places in the latest published quarters (public: the published ranking shows them anyway).
  const finals = await finalPeriods({ limit: 4 });
  const rowsBy = await rowsOfPeriods(finals, { finalOnly: true });
  // Each quarter judged with the scheme version its results were computed with.
  const versionOf = new Map((await readPointers()).map((s) => [s.period, s.schemeVersion]));
  const minRanked = new Map<string, number>();
  let a3Quarters = (await currentScheme()).scheme.accountability.A3.consecutiveQuarters;
  for (const p of finals) {
    const a3 = (await schemeVersion(versionOf.get(p) ?? 1)).scheme.accountability.A3;
    minRanked.set(p, a3.minRankedUnits);
    a3Quarters = a3.consecutiveQuarters; // the latest published quarter's rule, for the legend
  }
  const lastPlaces: LastPlace[] = [];
  for (const category of CATEGORY_ORDER) {
    const perPeriod = finals.map((p) => lastInCategory((rowsBy.get(p)?.rows ?? []).filter((r) => r.category === category), minRanked.get(p)!));
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
    units.sort((a, b) => b.streak - a.streak || compareCodes(a.unit, b.unit));
    lastPlaces.push({ category, label: UNIT_CATEGORY_LABELS[category], periods: finals, units });
  }
  return { filter, period, cases, counts, lastPlaces, publishedPeriods: finals, a3Quarters };
}

/** One case, for the status form (reporters: their own unit only). */
export async function caseById(v: Viewer, id: string): Promise<CaseView> {
  if (!/^[0-9a-f]{24}$/i.test(id)) throw notFound('case_not_found', '问责案件不存在');
  const doc = await Case.findById(id).lean<CaseLean>();
  if (!doc) throw notFound('case_not_found', '问责案件不存在');
  if (!canSeeUnitData(v, doc.unit)) throw forbidden('只能查看本单位的问责案件');
  return caseView(doc, await unitIndex(), clock.now());
}

// ---------------------------------------------------------------------------------------------
// 填报进度

