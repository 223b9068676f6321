// Accountability (问责), SPEC §4: which cases a published period opens (A1–A3), case status
// transitions and overdue marking, merit eligibility. Pure: "now" is always a parameter.
import { AppError } from '../errors.ts';
import type { UnitCategory } from '../fields.ts';
import { parseQuarter, previousQuarter } from '../periods.ts';
import type { AssessmentScheme, Grade } from './scheme.ts';
import type { ResultFlag } from './score.ts';

export type CaseRule = 'A1' | 'A2' | 'A3';
export type CaseStatus = 'open' | 'rectifying' | 'resolved' | 'overdue';
export const CASE_STATUSES: readonly CaseStatus[] = ['open', 'rectifying', 'resolved', 'overdue'];
export const CASE_STATUS_LABELS: Readonly<Record<CaseStatus, string>> = {
  open: '待整改',
  rectifying: '整改中',
  resolved: '已办结',
  overdue: '已逾期',
};

/** The case type per rule (SPEC §4 table). */
export const CASE_TYPES: Readonly<Record<CaseRule, string>> = {
  A1: '通报+限期整改',
  A2: '通报',
  A3: '约谈',
};

/** What a published period's rows must carry (a SPEC §7 result row fits). */
export interface PublishedRow {
  unit: string;
  category: UnitCategory;
  grade: Grade | null;
  rank: number | null;
  flags: readonly ResultFlag[];
}

export interface PublishedPeriod {
  period: string;
  results: readonly PublishedRow[];
}

export interface CaseDraft {
  unit: string;
  period: string;
  rule: CaseRule;
  type: string;
  /** Chinese reason for the notice. */
  reason: string;
  /** Only A1 has a due date. */
  dueAt: Date | null;
  status: 'open';
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Due date of an A1 case: exactly `dueDays` × 24 h after publication (the zone has no DST). */
export function dueDate(publishedAt: Date, dueDays: number): Date {
  return new Date(publishedAt.getTime() + dueDays * DAY_MS);
}

/**
 * Units last in their category, from rows given one at a time (a period is never held whole): per
 * category the number of ranked units, the largest rank so far and the units holding it.
 */
export class CategoryLast {
  private readonly byCategory = new Map<UnitCategory, { ranked: number; worst: number; units: string[] }>();

  add(r: Pick<PublishedRow, 'unit' | 'category' | 'rank'>): void {
    if (r.rank === null) return;
    const c = this.byCategory.get(r.category);
    if (!c) this.byCategory.set(r.category, { ranked: 1, worst: r.rank, units: [r.unit] });
    else {
      c.ranked++;
      if (r.rank > c.worst) {
        c.worst = r.rank;
        c.units = [r.unit];
      } else if (r.rank === c.worst) c.units.push(r.unit);
    }
  }

  /** The units last in categories with at least `minRankedUnits` ranked units. */
  units(minRankedUnits: number): Set<string> {
    const out = new Set<string>();
    for (const c of this.byCategory.values()) if (c.ranked >= minRankedUnits) for (const u of c.units) out.add(u);
    return out;
  }
}

/**
 * Units last in their category: categories with at least `minRankedUnits` ranked units; every
 * unit sharing the category's last (largest) rank is last.
 */
export function lastInCategory(results: Iterable<PublishedRow>, minRankedUnits: number): Set<string> {
  const last = new CategoryLast();
  for (const r of results) last.add(r);
  return last.units(minRankedUnits);
}

/** What A3 needs of an earlier published period: its units last in their category, gathered row by row. */
export interface PublishedTail {
  period: string;
  last: CategoryLast;
}

/** The earlier quarters A3 looks at for `period` (the `consecutiveQuarters − 1` right before it, newest first). */
export function a3History(scheme: AssessmentScheme, period: string): string[] {
  const out: string[] = [];
  let p: string | null = period;
  for (let i = 1; i < scheme.accountability.A3.consecutiveQuarters && p; i++) {
    p = previousQuarter(p);
    if (p) out.push(p);
  }
  return out;
}

/**
 * The cases a period's publication opens. `history` holds earlier *published* periods (any order);
 * A3 needs the `consecutiveQuarters − 1` quarters right before `current` to be among them.
 * Idempotency (one case per unit, period and rule) is the caller's job.
 */
export function casesToOpen(
  scheme: AssessmentScheme,
  current: PublishedPeriod & { publishedAt: Date },
  history: readonly (PublishedPeriod | PublishedTail)[],
): CaseDraft[] {
  const acc = scheme.accountability;
  const out: CaseDraft[] = [];
  const make = (unit: string, rule: CaseRule, reason: string, dueAt: Date | null): CaseDraft => ({
    unit,
    period: current.period,
    rule,
    type: CASE_TYPES[rule],
    reason,
    dueAt,
    status: 'open',
  });
  for (const r of current.results) {
    if (acc.A1.enabled && r.grade === '不合格') {
      out.push(make(r.unit, 'A1', `${current.period} 考核等级为不合格，限期 ${acc.A1.dueDays} 天整改`, dueDate(current.publishedAt, acc.A1.dueDays)));
    }
    if (acc.A2.enabled && r.flags.includes('missing')) {
      out.push(make(r.unit, 'A2', `${current.period} 未按时报送`, null));
    }
  }
  if (acc.A3.enabled && parseQuarter(current.period)) {
    const n = acc.A3.consecutiveQuarters;
    const byPeriod = new Map(history.map((h) => [h.period, h]));
    const chain: (PublishedPeriod | PublishedTail)[] = [current];
    let p: string | null = current.period;
    while (chain.length < n) {
      p = p ? previousQuarter(p) : null;
      const h = p ? byPeriod.get(p) : undefined;
      if (!h) break;
      chain.push(h);
    }
    if (chain.length === n) {
      const lastOf = (h: PublishedPeriod | PublishedTail) =>
        'last' in h ? h.last.units(acc.A3.minRankedUnits) : lastInCategory(h.results, acc.A3.minRankedUnits);
      let last = lastOf(chain[0]!);
      for (const per of chain.slice(1)) {
        const s = lastOf(per);
        last = new Set([...last].filter((u) => s.has(u)));
      }
      const periods = chain.map((c) => c.period).reverse().join('、');
      for (const r of current.results) {
        if (last.has(r.unit)) out.push(make(r.unit, 'A3', `连续 ${n} 个季度（${periods}）在本类别排名末位`, null));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Case status

export interface CaseLike {
  unit: string;
  period: string;
  rule?: CaseRule;
  status: CaseStatus;
  dueAt: Date | null;
  resolvedAt?: Date | null;
}

/** Past due: strictly after dueAt. */
export function isPastDue(c: Pick<CaseLike, 'dueAt'>, now: Date): boolean {
  return c.dueAt !== null && now.getTime() > c.dueAt.getTime();
}

/** The status as of `now`: an unresolved case past its due date is overdue. */
export function effectiveStatus(c: Pick<CaseLike, 'status' | 'dueAt'>, now: Date): CaseStatus {
  if (c.status === 'resolved' || c.status === 'overdue') return c.status;
  return isPastDue(c, now) ? 'overdue' : c.status;
}

/** The cases the daily job must mark overdue (effective status overdue, stored status not yet). */
export function casesToMarkOverdue<C extends CaseLike>(cases: readonly C[], now: Date): C[] {
  return cases.filter((c) => c.status !== 'overdue' && effectiveStatus(c, now) === 'overdue');
}

/** Transitions a person may make; `overdue` is only set by the system (casesToMarkOverdue). */
const ALLOWED: Readonly<Record<CaseStatus, readonly CaseStatus[]>> = {
  open: ['rectifying', 'resolved'],
  rectifying: ['resolved'],
  overdue: ['resolved'],
  resolved: [],
};

/**
 * Validates a manual status change judged at `now` and returns the new status; throws
 * AppError 409 `case_bad_transition` with a Chinese message otherwise.
 */
export function transitionCase(c: Pick<CaseLike, 'status' | 'dueAt'>, to: CaseStatus, now: Date): CaseStatus {
  const from = effectiveStatus(c, now);
  if (!(CASE_STATUSES as readonly string[]).includes(to)) {
    throw new AppError(400, 'invalid_case_status', `未知的案件状态：${String(to)}`);
  }
  if (!ALLOWED[from].includes(to)) {
    const hint = from === 'overdue' ? '（案件已逾期，只能办结）' : from === 'resolved' ? '（案件已办结）' : '';
    throw new AppError(409, 'case_bad_transition', `案件状态不能从“${CASE_STATUS_LABELS[from]}”变为“${CASE_STATUS_LABELS[to]}”${hint}`);
  }
  return to;
}

/**
 * Was the case ever overdue as of `now`: it is overdue now, or it was resolved after its due date.
 */
export function wasOverdue(c: CaseLike, now: Date | null): boolean {
  if (c.status === 'overdue') return true;
  if (c.dueAt === null) return false;
  if (c.status === 'resolved') return !!c.resolvedAt && c.resolvedAt.getTime() > c.dueAt.getTime();
  return now !== null && isPastDue(c, now);
}

// ---------------------------------------------------------------------------------------------
// Merit (评先评优)

export interface EligibilityInput {
  year: number;
  unit: string;
  /** The unit's grade per quarter of the year (null / absent: no grade). */
  quarterGrades: Readonly<Record<string, Grade | null>>;
  cases: readonly CaseLike[];
  now: Date | null;
}

/** Not eligible in Y with any 不合格 quarter of Y or any case of a quarter of Y that was overdue. */
export function meritEligibility(input: EligibilityInput): { eligible: boolean; reasons: string[] } {
  const reasons: string[] = [];
  const inYear = (period: string) => parseQuarter(period)?.year === input.year;
  for (const [period, g] of Object.entries(input.quarterGrades).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (inYear(period) && g === '不合格') reasons.push(`${period} 考核等级为不合格`);
  }
  const overdue = input.cases.filter((c) => c.unit === input.unit && inYear(c.period) && wasOverdue(c, input.now));
  for (const c of overdue) reasons.push(`${c.period} 的问责案件${c.rule ? `（${c.rule}）` : ''}逾期未整改`);
  return { eligible: reasons.length === 0, reasons };
}
