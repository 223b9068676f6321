// 提分路径 (the way up): for one unit's return, the smallest change of each of its own return fields
// that lifts it to the next grade (or out of 不合格), computed exactly with the scheme: every candidate
// is re-scored by the scoring core (scorePeriod) and placed by rankAndGrade among the category's
// other totals, so the 优秀 quota is applied exactly as in the results. Pure.
import { FIELD_KEYS, type FieldKey, type ReturnValues, type UnitCategory } from '../fields.ts';
import { Rational } from './rational.ts';
import { bandGrade, rankAndGrade } from './ranking.ts';
import { GRADES, type AssessmentScheme, type Grade } from './scheme.ts';
import { scorePeriod, SCORE_PLACES } from './score.ts';

/** A change a unit can make in its own work: one field up (to its ≤ bound) or down (to 0). */
export interface ImproveAction {
  field: FieldKey;
  /** +1: more of it is better (bounded by `bound`); −1: less of it is better (down to 0). */
  direction: 1 | -1;
  /** For direction +1: the field the value may not exceed (SPEC §3 ≤ rules). */
  bound?: FieldKey;
  /** The change in words, with {k} for the count. */
  words: string;
}

/** The changes a unit controls (the totals — systems, requests, duties — are facts, not levers). */
export const IMPROVE_ACTIONS: readonly ImproveAction[] = [
  { field: 'systems_extranet', direction: 1, bound: 'systems_total', words: '再接入 {k} 个系统到电子政务外网' },
  { field: 'catalogue_shared', direction: 1, bound: 'catalogue_items', words: '再发布共享 {k} 个数据资源目录' },
  { field: 'networks_standalone', direction: -1, words: '再整合（关停）{k} 个独立运行的业务专网' },
  { field: 'requests_on_time', direction: 1, bound: 'requests_received', words: '再按时响应 {k} 个共享申请' },
  { field: 'duties_with_data', direction: 1, bound: 'duties_total', words: '再为 {k} 个权责清单事项提供数据支撑' },
  { field: 'systems_cloud', direction: 1, bound: 'systems_total', words: '再部署 {k} 个系统到政务云' },
];

export interface ImproveInput {
  unit: string;
  category: UnitCategory;
  /** The latest usable return's values. */
  values: ReturnValues;
  late?: boolean;
}

export interface ImproveContext {
  deadlinePassed: boolean;
  /** The other ranked units of the same category with their (rounded) totals. */
  others: readonly { unit: string; total: number }[];
}

export interface Suggestion {
  field: FieldKey;
  /** Signed change of the field (+k or −k). */
  change: number;
  /** "再接入 2 个系统到电子政务外网" */
  text: string;
  /** New total − current total (2 decimals, exact). */
  points: number;
  /** The total after the change (2 decimals). */
  total: number;
  /** The grade the bands give the new total. */
  bandGrade: Grade;
  /** The grade after the 优秀 quota among the category's other totals. */
  grade: Grade;
  /** The unit's rank in its category after the change. */
  rank: number;
  /** "受 30% 名额限制，当前第 31 名" when the band says 优秀 but the quota would still cap it. */
  quotaNote: string | null;
}

export interface ImprovePath {
  unit: string;
  total: number | null;
  grade: Grade | null;
  /** The grade aimed at; null when already 优秀 or the unit is not scored. */
  target: Grade | null;
  /** One per field whose change alone reaches the target, in the order of IMPROVE_ACTIONS. */
  suggestions: Suggestion[];
  /** Why there are no suggestions, in words; null when there are some. */
  note: string | null;
}

interface Evaluated {
  total: Rational;
  bandGrade: Grade;
  grade: Grade;
  rank: number;
  capped: boolean;
}

function evaluate(scheme: AssessmentScheme, input: ImproveInput, values: ReturnValues, ctx: ImproveContext): Evaluated | null {
  const res = scorePeriod(scheme, [{ unit: input.unit, name: input.unit, category: input.category, values, late: input.late }], {
    deadlinePassed: ctx.deadlinePassed,
  }).results[0]!;
  if (res.total === null) return null;
  const total = Rational.fromNumber(res.total);
  const placements = rankAndGrade(scheme, [
    { unit: input.unit, category: input.category, total },
    ...ctx.others
      .filter((o) => o.unit !== input.unit)
      .map((o) => ({ unit: o.unit, category: input.category, total: Rational.fromNumber(o.total) })),
  ]);
  const p = placements.get(input.unit)!;
  return { total, bandGrade: bandGrade(scheme, total), grade: p.grade!, rank: p.rank!, capped: p.capped };
}

const gradeIndex = (g: Grade): number => GRADES.indexOf(g);
const percent = (q: number): string => `${Rational.fromNumber(q).mul(Rational.of(100)).toFixed(0)}%`;

/** The largest change of an action the return allows (0 when none). */
export function actionRoom(a: ImproveAction, v: ReturnValues): number {
  if (a.direction === -1) return Math.max(0, Math.floor(v[a.field]));
  return Math.max(0, Math.floor(v[a.bound!] - v[a.field]));
}

export function applyAction(a: ImproveAction, v: ReturnValues, k: number): ReturnValues {
  return { ...v, [a.field]: v[a.field] + a.direction * k };
}

/** At most this many candidates are scored per field (returns are counts; far larger rooms are binary-searched). */
const LINEAR_LIMIT = 2000;

/**
 * The way up for one unit. The target is the next band above the unit's band grade; a unit whose band
 * is already 优秀 but which the quota capped to 良好 aims at 优秀 itself (a place inside the quota).
 * For each action the smallest k reaching the target is found by scoring k = 1, 2, … (exact; monotone
 * fields are binary-searched beyond LINEAR_LIMIT).
 */
export function improvePath(scheme: AssessmentScheme, input: ImproveInput, ctx: ImproveContext): ImprovePath {
  for (const k of FIELD_KEYS) if (typeof input.values[k] !== 'number') input = { ...input, values: { ...input.values, [k]: 0 } };
  const now = evaluate(scheme, input, input.values, ctx);
  const empty = (note: string, target: Grade | null = null): ImprovePath => ({
    unit: input.unit,
    total: now ? now.total.toNumber(SCORE_PLACES) : null,
    grade: now?.grade ?? null,
    target,
    suggestions: [],
    note,
  });
  if (!now) return empty('本期所有指标均不适用，不评分，无提分路径。');
  const top = GRADES[0];
  let target: Grade;
  let reaches: (e: Evaluated) => boolean;
  if (now.grade === top) return empty('已是最高等级（优秀）。');
  if (now.bandGrade === top) {
    target = top;
    reaches = (e) => e.grade === top;
  } else {
    target = GRADES[gradeIndex(now.bandGrade) - 1]!;
    reaches = (e) => gradeIndex(e.bandGrade) <= gradeIndex(target);
  }
  const suggestions: Suggestion[] = [];
  for (const a of IMPROVE_ACTIONS) {
    if (!FIELD_KEYS.includes(a.field)) continue;
    const room = actionRoom(a, input.values);
    if (room === 0) continue;
    const at = (k: number) => evaluate(scheme, input, applyAction(a, input.values, k), ctx);
    let found: { k: number; e: Evaluated } | null = null;
    const linear = Math.min(room, LINEAR_LIMIT);
    for (let k = 1; k <= linear; k++) {
      const e = at(k);
      if (e && reaches(e)) {
        found = { k, e };
        break;
      }
    }
    if (!found && room > LINEAR_LIMIT) {
      const e = at(room);
      if (e && reaches(e)) {
        let lo = LINEAR_LIMIT; // does not reach
        let hi = room; // reaches
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          const em = at(mid);
          if (em && reaches(em)) hi = mid;
          else lo = mid;
        }
        found = { k: hi, e: at(hi)! };
      }
    }
    if (!found) continue;
    const { k, e } = found;
    suggestions.push({
      field: a.field,
      change: a.direction * k,
      text: a.words.replace('{k}', String(k)),
      points: e.total.sub(now.total).toNumber(SCORE_PLACES),
      total: e.total.toNumber(SCORE_PLACES),
      bandGrade: e.bandGrade,
      grade: e.grade,
      rank: e.rank,
      quotaNote: e.capped ? `受 ${percent(scheme.excellentQuota)} 名额限制，当前第 ${e.rank} 名` : null,
    });
  }
  return {
    unit: input.unit,
    total: now.total.toNumber(SCORE_PLACES),
    grade: now.grade,
    target,
    suggestions,
    note: suggestions.length ? null : `仅调整单项填报内容无法达到${target}。`,
  };
}

/** "再接入 2 个系统到电子政务外网（+5.56 分）→ 92.30 分，可达优秀（受 30% 名额限制，当前第 31 名）" */
export function suggestionText(s: Suggestion): string {
  const reach = s.quotaNote ? `分数达到${s.bandGrade}（${s.quotaNote}，评为${s.grade}）` : `可达${s.grade}`;
  return `${s.text}（+${s.points.toFixed(SCORE_PLACES)} 分）→ ${s.total.toFixed(SCORE_PLACES)} 分，${reach}`;
}
