// Quarterly scoring (SPEC §4): indicator values and scores, redistribution, deductions, missing /
// pending / late / rejected, ranks, grades with the 优秀 cap, rank change — and the explanation of
// every unit's result. Pure: exact rationals inside, rounded JS numbers only at the edge.
import { AppError } from '../errors.ts';
import { FIELD_KEYS, FIELD_LABELS, type FieldKey, type ReturnValues, type UnitCategory, UNIT_CATEGORIES } from '../fields.ts';
import { Rational } from './rational.ts';
import { drain, sortedIndexSteps, type Steps } from '../../steps.ts';
import { compareRows, rankAndGrade, rankAndGradeSteps, rankChange, SLICE_UNITS, type Placement } from './ranking.ts';
import {
  applicabilityText,
  exprText,
  formulaText,
  type AssessmentScheme,
  type FieldExpr,
  type Grade,
  type IndicatorDef,
} from './scheme.ts';

/** Decimals of the numbers in results: indicator values 4, everything else 2 (half-up). */
export const VALUE_PLACES = 4;
export const SCORE_PLACES = 2;

// ---------------------------------------------------------------------------------------------
// Types

export interface UnitInput {
  unit: string;
  name: string;
  category: UnitCategory;
  /** false: the unit is not assessed and left out of the results (default true). */
  active?: boolean;
  /** Values of the latest revision, or null when the unit has no return. */
  values: ReturnValues | null;
  /** The latest revision was rejected: the unit has no usable return (values are ignored). */
  rejected?: boolean;
  /** The return is late (its first revision came after the deadline). */
  late?: boolean;
}

export interface PreviousRank {
  unit: string;
  /** When given and different from this period's category, no rank change is reported. */
  category?: UnitCategory;
  rank: number | null;
}

export interface PeriodContext {
  /** The submission deadline has passed: units with no usable return are `missing`, else `pending`. */
  deadlinePassed: boolean;
  /** The previous quarter's ranks (e.g. its result rows); omit for no rank change. */
  previous?: readonly PreviousRank[] | null;
}

export type ResultFlag = 'late' | 'missing' | 'pending';

export interface IndicatorResult {
  /** The ratio, half-up to 4 decimals; null when not applicable or no return. */
  value: number | null;
  /** weight × clamp(…), half-up to 2 decimals (nominal weight, before redistribution). */
  score: number | null;
  applicable: boolean;
}

/** One row of `GET /api/v1/results/:period` (SPEC §7). */
export interface UnitResult {
  unit: string;
  name: string;
  category: UnitCategory;
  indicators: Record<string, IndicatorResult>;
  base: number | null;
  deductions: number | null;
  total: number | null;
  grade: Grade | null;
  rank: number | null;
  rankChange: number | null;
  flags: ResultFlag[];
}

/**
 * scored: has a total; not_scored: usable return but no applicable indicator;
 * missing: no usable return after the deadline (total 0); pending: no usable return yet.
 */
export type UnitStatus = 'scored' | 'not_scored' | 'missing' | 'pending';

export interface IndicatorExplanation {
  id: string;
  name: string;
  /** "已接入电子政务外网的系统数 ÷ 信息系统总数" */
  formula: string;
  /** "信息系统总数为 0 时不适用" */
  applicabilityRule: string;
  inputs: { field: FieldKey; label: string; value: number }[];
  numerator: number | null;
  denominator: number | null;
  applicable: boolean;
  /** Why not applicable, or which special rule gave the value; null otherwise. */
  note: string | null;
  value: number | null;
  /** Exact value: terminating decimal or fraction ("3/4" → "0.75", "1/3"). */
  valueExact: string | null;
  floor: number;
  target: number;
  weight: number;
  /** weight × 100 ÷ Σ applicable weights, 4 decimals: the indicator's share of the 100-point base. */
  effectiveWeight: number | null;
  score: number | null;
  scoreExact: string | null;
  /** Points this indicator adds to the base: score × 100 ÷ Σ applicable weights (2 decimals). */
  contribution: number | null;
  /** The worked arithmetic, e.g. "25 × clamp((0.75 − 0) ÷ (1 − 0), 0, 1) = 18.75". */
  text: string;
}

export interface UnitExplanation {
  unit: string;
  status: UnitStatus;
  /** One Chinese sentence on the unit's situation. */
  summary: string;
  indicators: IndicatorExplanation[];
  totalWeight: number;
  applicableWeight: number | null;
  redistributed: boolean;
  redistributionText: string | null;
  base: number | null;
  baseExact: string | null;
  baseText: string | null;
  deductions: { rule: 'late'; label: string; points: number }[];
  totalExact: string | null;
  total: number | null;
  roundingText: string | null;
  grade: Grade | null;
  bandGrade: Grade | null;
  cappedByQuota: boolean;
  gradeText: string | null;
  rank: number | null;
  rankChange: number | null;
  rankText: string | null;
}

export interface PeriodScoring {
  schemeVersion: number;
  /** Sorted by category (department, city, county), rank (unranked last), unit code. */
  results: UnitResult[];
  /** One per result, same order. */
  explanations: UnitExplanation[];
}

// ---------------------------------------------------------------------------------------------
// Indicators

interface IndicatorEval {
  def: IndicatorDef;
  applicable: boolean;
  note: string | null;
  numerator: Rational | null;
  denominator: Rational | null;
  value: Rational | null;
  /** weight × clamp(…) */
  score: Rational | null;
}

function evalExpr(e: FieldExpr, v: Readonly<Record<FieldKey, Rational>>): Rational {
  let r = Rational.ZERO;
  for (const k of e.add) r = r.add(v[k]);
  for (const k of e.subtract ?? []) r = r.sub(v[k]);
  return r;
}

function toRationals(unit: string, values: ReturnValues): Record<FieldKey, Rational> {
  const out = {} as Record<FieldKey, Rational>;
  for (const k of FIELD_KEYS) {
    const x = (values as Record<string, unknown>)[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      throw new AppError(400, 'invalid_return_values', `单位 ${unit} 的“${FIELD_LABELS[k]}”不是非负数：${String(x)}`);
    }
    out[k] = Rational.fromNumber(x);
  }
  return out;
}

export function evaluateIndicator(def: IndicatorDef, v: Readonly<Record<FieldKey, Rational>>): IndicatorEval {
  const numerator = evalExpr(def.numerator, v);
  const denominator = evalExpr(def.denominator, v);
  const na = (note: string): IndicatorEval => ({ def, applicable: false, note, numerator, denominator, value: null, score: null });
  if (def.notApplicableWhen && evalExpr(def.notApplicableWhen.zero, v).isZero()) {
    return na(`${exprText(def.notApplicableWhen.zero)}为 0，本指标不适用`);
  }
  let value: Rational;
  let note: string | null = null;
  if (denominator.isZero()) {
    if (def.zeroDenominatorValue === null) return na(`${exprText(def.denominator)}为 0，本指标不适用`);
    value = Rational.fromNumber(def.zeroDenominatorValue);
    note = `${exprText(def.denominator)}为 0，按规则取值 ${def.zeroDenominatorValue}`;
  } else {
    value = numerator.div(denominator);
  }
  const floor = Rational.fromNumber(def.floor);
  const target = Rational.fromNumber(def.target);
  const normalised = value.sub(floor).div(target.sub(floor)).clamp(Rational.ZERO, Rational.ONE);
  const score = Rational.fromNumber(def.weight).mul(normalised);
  return { def, applicable: true, note, numerator, denominator, value, score };
}

// ---------------------------------------------------------------------------------------------
// Units

interface UnitEval {
  input: UnitInput;
  status: UnitStatus;
  late: boolean;
  indicators: IndicatorEval[];
  applicableWeight: Rational | null;
  base: Rational | null;
  deduction: Rational | null;
  totalExact: Rational | null;
  /** Rounded to 2 decimals; what ranks and grades use. */
  total: Rational | null;
}

function evaluateUnit(scheme: AssessmentScheme, u: UnitInput, ctx: PeriodContext): UnitEval {
  const usable = u.values !== null && u.values !== undefined && !u.rejected;
  const late = !!u.late;
  const base: UnitEval = {
    input: u,
    status: 'pending',
    late,
    indicators: [],
    applicableWeight: null,
    base: null,
    deduction: null,
    totalExact: null,
    total: null,
  };
  if (!usable) {
    if (!ctx.deadlinePassed) return base;
    return { ...base, status: 'missing', deduction: Rational.ZERO, totalExact: Rational.ZERO, total: Rational.ZERO };
  }
  const v = toRationals(u.unit, u.values!);
  const indicators = scheme.indicators.map((d) => evaluateIndicator(d, v));
  const applicable = indicators.filter((i) => i.applicable);
  if (applicable.length === 0) return { ...base, status: 'not_scored', indicators };
  let sumScores = Rational.ZERO;
  let sumWeights = Rational.ZERO;
  for (const i of applicable) {
    sumScores = sumScores.add(i.score!);
    sumWeights = sumWeights.add(Rational.fromNumber(i.def.weight));
  }
  const b = sumScores.mul(Rational.of(100)).div(sumWeights);
  const deduction = late ? Rational.fromNumber(scheme.deductions.late) : Rational.ZERO;
  const totalExact = b.sub(deduction).max(Rational.ZERO);
  return {
    ...base,
    status: 'scored',
    indicators,
    applicableWeight: sumWeights,
    base: b,
    deduction,
    totalExact,
    total: totalExact.roundHalfUp(SCORE_PLACES),
  };
}

const num2 = (r: Rational | null) => (r === null ? null : r.toNumber(SCORE_PLACES));
const num4 = (r: Rational | null) => (r === null ? null : r.toNumber(VALUE_PLACES));

function toRow(scheme: AssessmentScheme, e: UnitEval, p: Placement, change: number | null): UnitResult {
  const indicators: Record<string, IndicatorResult> = {};
  scheme.indicators.forEach((d, i) => {
    const ie = e.indicators[i];
    indicators[d.id] = ie
      ? { value: num4(ie.value), score: num2(ie.score), applicable: ie.applicable }
      : { value: null, score: null, applicable: false };
  });
  const flags: ResultFlag[] = [];
  if (e.late && e.status !== 'missing' && e.status !== 'pending') flags.push('late');
  if (e.status === 'missing') flags.push('missing');
  if (e.status === 'pending') flags.push('pending');
  return {
    unit: e.input.unit,
    name: e.input.name,
    category: e.input.category,
    indicators,
    base: num2(e.base),
    deductions: num2(e.deduction),
    total: num2(e.total),
    grade: p.grade,
    rank: p.rank,
    rankChange: change,
    flags,
  };
}

// ---------------------------------------------------------------------------------------------
// Explanation

function explainIndicator(ie: IndicatorEval | undefined, def: IndicatorDef, e: UnitEval): IndicatorExplanation {
  const fields = new Set<FieldKey>([
    ...def.numerator.add,
    ...(def.numerator.subtract ?? []),
    ...def.denominator.add,
    ...(def.denominator.subtract ?? []),
    ...(def.notApplicableWhen?.zero.add ?? []),
    ...(def.notApplicableWhen?.zero.subtract ?? []),
  ]);
  const values = e.input.values;
  const inputs =
    values && !e.input.rejected ? FIELD_KEYS.filter((k) => fields.has(k)).map((k) => ({ field: k, label: FIELD_LABELS[k], value: values[k] })) : [];
  const w = Rational.fromNumber(def.weight);
  const effective = ie?.applicable && e.applicableWeight ? w.mul(Rational.of(100)).div(e.applicableWeight) : null;
  const contribution = ie?.applicable && e.applicableWeight ? ie.score!.mul(Rational.of(100)).div(e.applicableWeight) : null;
  let text: string;
  if (!ie) text = e.status === 'missing' ? '无可用报表，不计算' : '尚无可用报表，不计算';
  else if (!ie.applicable) text = ie.note ?? '不适用';
  else {
    const valueText = ie.note ? String(def.zeroDenominatorValue) : `${ie.numerator!.toExactString()} ÷ ${ie.denominator!.toExactString()}`;
    text =
      `取值 = ${valueText} = ${ie.value!.toExactString(6)}；` +
      `得分 = ${def.weight} × clamp((${ie.value!.toExactString(6)} − ${def.floor}) ÷ (${def.target} − ${def.floor}), 0, 1) = ${ie.score!.toExactString(6)}`;
    if (!ie.score!.isTerminating() || ie.score!.toExactString(6).includes('/')) text += `（约 ${ie.score!.toFixed(SCORE_PLACES)}）`;
  }
  return {
    id: def.id,
    name: def.name,
    formula: formulaText(def),
    applicabilityRule: applicabilityText(def),
    inputs,
    numerator: ie?.numerator ? Number(ie.numerator.toExactString()) : null,
    denominator: ie?.denominator ? Number(ie.denominator.toExactString()) : null,
    applicable: !!ie?.applicable,
    note: ie?.note ?? null,
    value: num4(ie?.value ?? null),
    valueExact: ie?.value ? ie.value.toExactString() : null,
    floor: def.floor,
    target: def.target,
    weight: def.weight,
    effectiveWeight: num4(effective),
    score: num2(ie?.score ?? null),
    scoreExact: ie?.score ? ie.score.toExactString() : null,
    contribution: num2(contribution),
    text,
  };
}

function explainUnit(scheme: AssessmentScheme, e: UnitEval, p: Placement, change: number | null): UnitExplanation {
  const totalWeight = scheme.indicators.reduce((s, d) => s.add(Rational.fromNumber(d.weight)), Rational.ZERO);
  const indicators = scheme.indicators.map((d, i) => explainIndicator(e.indicators[i], d, e));
  const redistributed = e.applicableWeight !== null && !e.applicableWeight.eq(totalWeight);
  const naIds = e.indicators.filter((i) => !i.applicable).map((i) => i.def.id);
  const summary = {
    scored: '已按有效报表评分。',
    not_scored: '报表中所有指标均不适用，本期不评分、不排名。',
    missing: '截止时间已过仍无可用报表（未报送或最新报表被退回），总分记 0，等级为不合格。',
    pending: e.input.rejected ? '最新报表已被退回，报送截止前暂不评分、不排名。' : '尚未报送，报送截止前暂不评分、不排名。',
  }[e.status];
  const deductions = e.status === 'scored' && e.late ? [{ rule: 'late' as const, label: '逾期报送', points: scheme.deductions.late }] : [];
  let baseText: string | null = null;
  if (e.base && e.applicableWeight) {
    const scores = e.indicators.filter((i) => i.applicable).map((i) => i.score!.toExactString(6));
    baseText = `基础分 = (${scores.join(' + ')}) × 100 ÷ ${e.applicableWeight.toExactString()} = ${e.base.toExactString(6)}`;
  }
  let roundingText: string | null = null;
  if (e.totalExact && e.total) {
    const pre = e.base ? `${e.base.toExactString(6)} − ${e.deduction!.toExactString()}` : '0';
    const clampNote = e.base && e.base.sub(e.deduction!).lt(Rational.ZERO) ? '，不足 0 按 0 计' : '';
    roundingText = `总分 = max(0, ${pre}) = ${e.totalExact.toExactString(6)}${clampNote}，四舍五入保留两位小数为 ${e.total.toFixed(SCORE_PLACES)}`;
  }
  let gradeText: string | null = null;
  if (p.grade) {
    if (e.status === 'missing') gradeText = '未按时报送，等级为不合格';
    else if (p.capped)
      gradeText = `总分达到优秀分数线，但本类别排名单位 ${p.rankedInCategory} 个，优秀名额为 ${p.cap} 个（${p.rankedInCategory} × ${scheme.excellentQuota} 向下取整），按名次（同分按单位代码）位列第 ${p.excellentPosition} 位，超出名额，评为${p.grade}`;
    else gradeText = `总分 ${e.total!.toFixed(SCORE_PLACES)}，评为${p.grade}`;
  }
  let rankText: string | null = null;
  if (p.rank !== null) {
    rankText = `本类别第 ${p.rank} 名（共 ${p.rankedInCategory} 个排名单位）`;
    if (change !== null) rankText += change > 0 ? `，较上期上升 ${change} 位` : change < 0 ? `，较上期下降 ${-change} 位` : '，与上期持平';
  }
  return {
    unit: e.input.unit,
    status: e.status,
    summary,
    indicators,
    totalWeight: Number(totalWeight.toExactString()),
    applicableWeight: e.applicableWeight ? Number(e.applicableWeight.toExactString()) : null,
    redistributed,
    redistributionText: redistributed
      ? `指标 ${naIds.join('、')} 不适用，其权重按比例分配给其余适用指标（适用权重合计 ${e.applicableWeight!.toExactString()}，按 100 分折算）`
      : null,
    base: num2(e.base),
    baseExact: e.base ? e.base.toExactString() : null,
    baseText,
    deductions,
    totalExact: e.totalExact ? e.totalExact.toExactString() : null,
    total: num2(e.total),
    roundingText,
    grade: p.grade,
    bandGrade: p.bandGrade,
    cappedByQuota: p.capped,
    gradeText,
    rank: p.rank,
    rankChange: change,
    rankText,
  };
}

// ---------------------------------------------------------------------------------------------
// Period

function checkUnits(units: readonly { unit: string; category: string }[]): void {
  const seen = new Set<string>();
  for (const u of units) {
    if (seen.has(u.unit)) throw new AppError(400, 'duplicate_unit', `评分输入中单位 ${u.unit} 重复`);
    seen.add(u.unit);
    if (!(UNIT_CATEGORIES as readonly string[]).includes(u.category)) {
      throw new AppError(400, 'invalid_category', `单位 ${u.unit} 的类别“${u.category}”无效`);
    }
  }
}

/**
 * Scores one quarter. Inactive units are left out; every other unit gets one row. Deterministic:
 * the order of `units` never changes the output.
 */
export function scorePeriod(scheme: AssessmentScheme, units: readonly UnitInput[], ctx: PeriodContext): PeriodScoring {
  const active = units.filter((u) => u.active !== false);
  checkUnits(active);
  const evals = active.map((u) => evaluateUnit(scheme, u, ctx));
  const placements = rankAndGrade(
    scheme,
    evals.map((e) => ({
      unit: e.input.unit,
      category: e.input.category,
      total: e.total,
      forceGrade: e.status === 'missing' ? ('不合格' as const) : undefined,
    })),
  );
  const previous = new Map((ctx.previous ?? []).map((p) => [p.unit, p]));
  const rows = evals.map((e) => {
    const p = placements.get(e.input.unit)!;
    const change = rankChange(e.input.unit, e.input.category, p.rank, previous);
    return { row: toRow(scheme, e, p, change), explanation: explainUnit(scheme, e, p, change) };
  });
  rows.sort((a, b) => compareRows(a.row, b.row));
  return {
    schemeVersion: scheme.version,
    results: rows.map((r) => r.row),
    explanations: rows.map((r) => r.explanation),
  };
}

// ---------------------------------------------------------------------------------------------
// Period in two passes (national scale): rank first, then rows and explanations batch by batch

/** Pass 1 of a batched scoring: every active unit's placement and its position in result order. */
export interface PeriodRanking {
  readonly schemeVersion: number;
  /** Active units in result order (category, rank, unranked last, code): what scorePeriod's results list. */
  readonly order: readonly string[];
  /** Position of each active unit in `order`. */
  readonly position: ReadonlyMap<string, number>;
  readonly placements: ReadonlyMap<string, Placement>;
  readonly previous: ReadonlyMap<string, PreviousRank>;
}

/**
 * Ranks a quarter keeping, per unit, only what ranking needs (unit, category, exact rounded total,
 * forced grade). With {@link scoreBatch} over `order` it gives exactly {@link scorePeriod}'s output,
 * without holding every row and explanation at once. Same errors as scorePeriod (duplicate_unit,
 * invalid_category, invalid values).
 */
export function rankPeriod(scheme: AssessmentScheme, units: Iterable<UnitInput>, ctx: PeriodContext): PeriodRanking {
  return drain(rankPeriodSteps(scheme, units, ctx));
}

/** {@link rankPeriod} in slices (server/steps.ts): the score job runs it without holding the event loop. */
export function* rankPeriodSteps(scheme: AssessmentScheme, units: Iterable<UnitInput>, ctx: PeriodContext): Steps<PeriodRanking> {
  const seen = new Set<string>();
  const items: { unit: string; category: UnitCategory; total: Rational | null; forceGrade?: Grade }[] = [];
  let n = 0;
  for (const u of units) {
    if (++n % SLICE_UNITS === 0) yield;
    if (u.active === false) continue;
    if (seen.has(u.unit)) throw new AppError(400, 'duplicate_unit', `评分输入中单位 ${u.unit} 重复`);
    checkUnits([u]);
    seen.add(u.unit);
    const e = evaluateUnit(scheme, u, ctx);
    items.push({ unit: u.unit, category: u.category, total: e.total, forceGrade: e.status === 'missing' ? ('不合格' as const) : undefined });
  }
  const placements = yield* rankAndGradeSteps(scheme, items);
  const keyed = items.map((i) => ({ unit: i.unit, category: i.category, rank: placements.get(i.unit)!.rank }));
  const order = (yield* sortedIndexSteps(keyed.length, (a, b) => compareRows(keyed[a]!, keyed[b]!) || a - b)).map((i) => keyed[i]!.unit);
  return {
    schemeVersion: scheme.version,
    order,
    position: new Map(order.map((u, i) => [u, i])),
    placements,
    previous: new Map((ctx.previous ?? []).map((p) => [p.unit, p])),
  };
}

/**
 * Pass 2: the rows (and, unless `explain: false`, the explanations) of some of the ranked units, in the
 * order given — e.g. a slice of `ranking.order`. Every unit must be one `ranking` ranked, with the same input.
 */
export function scoreBatch(
  scheme: AssessmentScheme,
  ranking: PeriodRanking,
  units: readonly UnitInput[],
  ctx: PeriodContext,
  opts: { explain?: boolean } = {},
): { results: UnitResult[]; explanations: UnitExplanation[] } {
  return drain(scoreBatchSteps(scheme, ranking, units, ctx, opts));
}

/** {@link scoreBatch} in slices (server/steps.ts): yields every SLICE_UNITS units. */
export function* scoreBatchSteps(
  scheme: AssessmentScheme,
  ranking: PeriodRanking,
  units: readonly UnitInput[],
  ctx: PeriodContext,
  opts: { explain?: boolean } = {},
): Steps<{ results: UnitResult[]; explanations: UnitExplanation[] }> {
  const results: UnitResult[] = [];
  const explanations: UnitExplanation[] = [];
  for (const u of units) {
    if (results.length % SLICE_UNITS === SLICE_UNITS - 1) yield;
    const p = ranking.placements.get(u.unit);
    if (!p || u.active === false) throw new AppError(400, 'unit_not_ranked', `单位 ${u.unit} 不在本次排名中`);
    const e = evaluateUnit(scheme, u, ctx);
    const change = rankChange(u.unit, u.category, p.rank, ranking.previous);
    results.push(toRow(scheme, e, p, change));
    if (opts.explain !== false) explanations.push(explainUnit(scheme, e, p, change));
  }
  return { results, explanations };
}
