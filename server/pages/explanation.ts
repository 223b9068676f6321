// "为什么是这个分数" for people (issue 17): the stored explanation (server/results/read.ts explainUnit →
// UnitExplanation) as sentences with units and two decimals; the exact fractions and worked formulas only
// in `exact` (shown behind the 精确计算 toggle). Pure.
import type { UnitExplanation, IndicatorExplanation } from '../domain/scoring/score.ts';

export interface IndicatorSentence {
  id: string;
  name: string;
  applicable: boolean;
  /** "已接入电子政务外网的系统数 3 个 / 信息系统总数 9 个 = 33.33%，得 8.33 分（满分 25 分）" */
  sentence: string;
  /** The worked arithmetic with exact fractions (toggle only). */
  exact: string;
}

export interface ExplanationView {
  summary: string;
  indicators: IndicatorSentence[];
  /** One sentence each; null when not applicable to this unit. */
  redistribution: string | null;
  deduction: string | null;
  total: string | null;
  grade: string | null;
  rank: string | null;
  /** The exact lines behind 精确计算 (base, total, per-indicator formulas). */
  exact: string[];
}

const two = (x: number): string => x.toFixed(2);
/** A ratio (4 decimals) as a percentage with two decimals. */
export const pct = (x: number): string => `${two(Math.round(x * 10000) / 100)}%`;
const count = (x: number): string => (Number.isInteger(x) ? `${x} 个` : `${two(x)} 个`);

function inputsText(i: IndicatorExplanation): string {
  // A plain ratio ("A ÷ B" of two fields): "A 3 个 / B 9 个"; otherwise every input listed.
  const [numLabel, denLabel, ...rest] = i.formula.split(' ÷ ');
  const num = i.inputs.find((x) => x.label === numLabel);
  const den = i.inputs.find((x) => x.label === denLabel);
  if (i.applicable && rest.length === 0 && i.inputs.length === 2 && num && den && num !== den) {
    return `${num.label} ${count(num.value)} / ${den.label} ${count(den.value)}`;
  }
  return i.inputs.map((x) => `${x.label} ${count(x.value)}`).join('、');
}

export function indicatorSentence(i: IndicatorExplanation, redistributed: boolean): string {
  if (!i.applicable) {
    if (i.inputs.length === 0) return '无可用报表，不计算';
    return `${inputsText(i)}：${i.note ?? '本指标不适用'}，不计分，其权重分给其余指标`;
  }
  const value = i.value === null ? '—' : pct(i.value);
  const head = i.note ? `${i.note}，即 ${value}` : `${inputsText(i)} = ${value}`;
  const band = i.floor !== 0 || i.target !== 1 ? `（按起点 ${pct(i.floor)}、目标 ${pct(i.target)} 折算）` : '';
  let s = `${head}${band}，得 ${two(i.score ?? 0)} 分（满分 ${i.weight} 分）`;
  if (redistributed && i.contribution !== null) s += `，按适用指标折算后计 ${two(i.contribution)} 分`;
  return s;
}

export function presentExplanation(ex: UnitExplanation): ExplanationView {
  const na = ex.indicators.filter((i) => !i.applicable && i.inputs.length > 0);
  const naWeight = na.reduce((a, i) => a + i.weight, 0);
  const deductionPoints = ex.deductions.reduce((a, d) => a + d.points, 0);
  const exact: string[] = [];
  for (const i of ex.indicators) if (i.applicable) exact.push(`${i.id} ${i.name}：${i.formula}；${i.text}`);
  if (ex.redistributionText) exact.push(ex.redistributionText);
  if (ex.baseText) exact.push(ex.baseText);
  if (ex.roundingText) exact.push(ex.roundingText);
  let total: string | null = null;
  if (ex.total !== null) {
    total =
      ex.base === null
        ? `总分 ${two(ex.total)} 分`
        : deductionPoints
          ? `总分 = 基础分 ${two(ex.base)} − 扣分 ${two(deductionPoints)} = ${two(ex.total)} 分`
          : `总分 ${two(ex.total)} 分（即基础分，无扣分）`;
  }
  return {
    summary: ex.summary,
    indicators: ex.indicators.map((i) => ({ id: i.id, name: i.name, applicable: i.applicable, sentence: indicatorSentence(i, ex.redistributed), exact: i.applicable ? i.text : '' })),
    redistribution: ex.redistributed
      ? `${na.map((i) => i.id).join('、')} 不适用，其 ${naWeight} 分权重按比例分给其余 ${ex.indicators.length - na.length} 个指标，基础分按 100 分折算为 ${two(ex.base ?? 0)} 分。`
      : null,
    deduction: ex.deductions.length ? ex.deductions.map((d) => `${d.label}，扣 ${two(d.points)} 分。`).join('') : null,
    total,
    grade: ex.gradeText,
    rank: ex.rankText,
    exact,
  };
}
