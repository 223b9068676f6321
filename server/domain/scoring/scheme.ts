// The assessment scheme (考核方案) as data, SPEC §4. Pure: types, the seeded default (v1),
// validation for the admin editor and Chinese formula text.
import { AppError } from '../errors.ts';
import { FIELD_LABELS, isFieldKey, type FieldKey } from '../fields.ts';

/** A linear combination of return fields: Σ add − Σ subtract. */
export interface FieldExpr {
  add: FieldKey[];
  subtract?: FieldKey[];
}

export interface IndicatorDef {
  /** Stable id shown in results, e.g. `I1`. */
  id: string;
  name: string;
  /** value = numerator / denominator. */
  numerator: FieldExpr;
  denominator: FieldExpr;
  /** Not applicable when this expression equals 0 (e.g. systems_total = 0); null = always applicable. */
  notApplicableWhen: { zero: FieldExpr } | null;
  /**
   * Value used when the denominator is 0 and the indicator is applicable (I3: 1).
   * null: a zero denominator makes the indicator not applicable.
   */
  zeroDenominatorValue: number | null;
  weight: number;
  /** score = weight × clamp((value − floor) / (target − floor), 0, 1); default floor 0, target 1. */
  floor: number;
  target: number;
}

export const GRADES = ['优秀', '良好', '合格', '不合格'] as const;
export type Grade = (typeof GRADES)[number];

export interface GradeBand {
  grade: Grade;
  /** Lowest total (inclusive) that earns this grade. */
  min: number;
}

export interface AccountabilityParams {
  /** A1: grade 不合格 → 通报 + 限期整改, due `dueDays` days after publication. */
  A1: { enabled: boolean; dueDays: number };
  /** A2: missing return → 通报 (未按时报送). */
  A2: { enabled: boolean };
  /**
   * A3: last in its category (category with ≥ `minRankedUnits` ranked units) in
   * `consecutiveQuarters` consecutive published quarters → 约谈.
   */
  A3: { enabled: boolean; minRankedUnits: number; consecutiveQuarters: number };
}

export interface AssessmentScheme {
  version: number;
  indicators: IndicatorDef[];
  /** Exactly the four grades, in order 优秀, 良好, 合格, 不合格, with strictly descending `min`; 不合格 has min 0. */
  grades: GradeBand[];
  /** 优秀 is capped at floor(excellentQuota × ranked units in the category). */
  excellentQuota: number;
  deductions: { late: number };
  accountability: AccountabilityParams;
}

const ratio = (id: string, name: string, num: FieldKey, den: FieldKey, weight: number): IndicatorDef => ({
  id,
  name,
  numerator: { add: [num] },
  denominator: { add: [den] },
  notApplicableWhen: { zero: { add: [den] } },
  zeroDenominatorValue: null,
  weight,
  floor: 0,
  target: 1,
});

/** 考核方案 v1, exactly SPEC §4. */
export const DEFAULT_SCHEME: AssessmentScheme = Object.freeze({
  version: 1,
  indicators: [
    ratio('I1', '外网接入率', 'systems_extranet', 'systems_total', 25),
    ratio('I2', '目录共享率', 'catalogue_shared', 'catalogue_items', 20),
    {
      id: 'I3',
      name: '专网整合率',
      numerator: { add: ['networks_private'], subtract: ['networks_standalone'] },
      denominator: { add: ['networks_private'] },
      notApplicableWhen: null,
      zeroDenominatorValue: 1,
      weight: 20,
      floor: 0,
      target: 1,
    },
    ratio('I4', '共享申请按时响应率', 'requests_on_time', 'requests_received', 15),
    ratio('I5', '政务云部署率', 'systems_cloud', 'systems_total', 10),
    ratio('I6', '职责数据支撑率', 'duties_with_data', 'duties_total', 10),
  ],
  grades: [
    { grade: '优秀', min: 90 },
    { grade: '良好', min: 80 },
    { grade: '合格', min: 60 },
    { grade: '不合格', min: 0 },
  ],
  excellentQuota: 0.3,
  deductions: { late: 2 },
  accountability: {
    A1: { enabled: true, dueDays: 30 },
    A2: { enabled: true },
    A3: { enabled: true, minRankedUnits: 3, consecutiveQuarters: 2 },
  },
}) as AssessmentScheme;

/** A deep, mutable copy (e.g. to start an edit from). */
export function cloneScheme(s: AssessmentScheme): AssessmentScheme {
  return JSON.parse(JSON.stringify(s)) as AssessmentScheme;
}

// ---------------------------------------------------------------------------------------------
// Formula text (Chinese)

export function exprText(e: FieldExpr): string {
  const parts = e.add.map((k) => FIELD_LABELS[k]);
  let s = parts.join(' + ');
  for (const k of e.subtract ?? []) s += ` − ${FIELD_LABELS[k]}`;
  const terms = e.add.length + (e.subtract?.length ?? 0);
  return terms > 1 ? `(${s})` : s;
}

/** E.g. "(业务专网总数 − 仍独立运行的业务专网数) ÷ 业务专网总数". */
export function formulaText(ind: IndicatorDef): string {
  return `${exprText(ind.numerator)} ÷ ${exprText(ind.denominator)}`;
}

/** E.g. "信息系统总数为 0 时不适用" / "业务专网总数为 0 时取值 1". */
export function applicabilityText(ind: IndicatorDef): string {
  const parts: string[] = [];
  if (ind.notApplicableWhen) parts.push(`${exprText(ind.notApplicableWhen.zero)}为 0 时不适用`);
  if (ind.zeroDenominatorValue !== null) parts.push(`${exprText(ind.denominator)}为 0 时取值 ${ind.zeroDenominatorValue}`);
  else if (!ind.notApplicableWhen) parts.push(`${exprText(ind.denominator)}为 0 时不适用`);
  return parts.join('；');
}

// ---------------------------------------------------------------------------------------------
// Validation (for the admin editor)

export interface SchemeError {
  /** Where, e.g. `indicators[2].weight`, `grades`, `excellentQuota`. */
  path: string;
  message: string;
}

export type SchemeValidation =
  | { ok: true; scheme: AssessmentScheme; errors: [] }
  | { ok: false; scheme: null; errors: SchemeError[] };

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * Checks an untrusted scheme (e.g. the admin editor's JSON) and returns either the normalised
 * scheme or every problem found, each with a Chinese message. Never throws.
 */
export function validateScheme(input: unknown): SchemeValidation {
  const errors: SchemeError[] = [];
  const err = (path: string, message: string) => errors.push({ path, message });

  if (!isObj(input)) {
    return { ok: false, scheme: null, errors: [{ path: '', message: '考核方案必须是一个对象' }] };
  }

  const num = (path: string, label: string, x: unknown): number | null => {
    if (!isNum(x)) {
      err(path, `${label}必须是数字`);
      return null;
    }
    return x;
  };
  const int = (path: string, label: string, x: unknown, min: number): number | null => {
    if (!isNum(x) || !Number.isInteger(x)) {
      err(path, `${label}必须是整数`);
      return null;
    }
    if (x < min) {
      err(path, `${label}不能小于 ${min}`);
      return null;
    }
    return x;
  };
  const bool = (path: string, label: string, x: unknown): boolean => {
    if (typeof x !== 'boolean') {
      err(path, `${label}必须是“是”或“否”`);
      return false;
    }
    return x;
  };
  const expr = (path: string, label: string, x: unknown, allowEmpty = false): FieldExpr | null => {
    if (!isObj(x) || !Array.isArray(x.add) || (x.subtract !== undefined && !Array.isArray(x.subtract))) {
      err(path, `${label}格式不正确`);
      return null;
    }
    const add: FieldKey[] = [];
    const subtract: FieldKey[] = [];
    let ok = true;
    for (const [list, out, sub] of [
      [x.add as unknown[], add, 'add'],
      [(x.subtract ?? []) as unknown[], subtract, 'subtract'],
    ] as const) {
      list.forEach((k, i) => {
        if (typeof k !== 'string' || !isFieldKey(k)) {
          err(`${path}.${sub}[${i}]`, `${label}引用了未知的填报指标“${String(k)}”`);
          ok = false;
        } else out.push(k);
      });
    }
    if (ok && !allowEmpty && add.length === 0) {
      err(path, `${label}至少需要一个填报指标`);
      ok = false;
    }
    if (!ok) return null;
    return subtract.length ? { add, subtract } : { add };
  };

  const version = int('version', '方案版本号', input.version, 1);

  const indicators: IndicatorDef[] = [];
  if (!Array.isArray(input.indicators) || input.indicators.length === 0) {
    err('indicators', '至少需要一个考核指标');
  } else {
    const ids = new Set<string>();
    input.indicators.forEach((raw: unknown, i: number) => {
      const p = `indicators[${i}]`;
      if (!isObj(raw)) {
        err(p, `第 ${i + 1} 个指标格式不正确`);
        return;
      }
      const id = typeof raw.id === 'string' ? raw.id.trim() : '';
      const who = id ? `指标 ${id} ` : `第 ${i + 1} 个指标`;
      if (!/^[A-Za-z][A-Za-z0-9_]{0,15}$/.test(id)) err(`${p}.id`, `${who}的编号必须以字母开头，只含字母、数字或下划线`);
      else if (ids.has(id)) err(`${p}.id`, `指标编号 ${id} 重复`);
      ids.add(id);
      const name = typeof raw.name === 'string' ? raw.name.trim() : '';
      if (!name) err(`${p}.name`, `${who}的名称不能为空`);
      const numerator = expr(`${p}.numerator`, `${who}的分子`, raw.numerator);
      const denominator = expr(`${p}.denominator`, `${who}的分母`, raw.denominator);
      let notApplicableWhen: IndicatorDef['notApplicableWhen'] = null;
      if (raw.notApplicableWhen !== null && raw.notApplicableWhen !== undefined) {
        if (!isObj(raw.notApplicableWhen)) err(`${p}.notApplicableWhen`, `${who}的不适用条件格式不正确`);
        else {
          const z = expr(`${p}.notApplicableWhen.zero`, `${who}的不适用条件`, raw.notApplicableWhen.zero);
          if (z) notApplicableWhen = { zero: z };
        }
      }
      let zeroDenominatorValue: number | null = null;
      if (raw.zeroDenominatorValue !== null && raw.zeroDenominatorValue !== undefined) {
        const z = num(`${p}.zeroDenominatorValue`, `${who}分母为 0 时的取值`, raw.zeroDenominatorValue);
        if (z !== null && (z < 0 || z > 1)) err(`${p}.zeroDenominatorValue`, `${who}分母为 0 时的取值必须在 0 到 1 之间`);
        zeroDenominatorValue = z;
      }
      const weight = num(`${p}.weight`, `${who}的权重`, raw.weight);
      if (weight !== null && weight <= 0) err(`${p}.weight`, `${who}的权重必须大于 0`);
      const floor = num(`${p}.floor`, `${who}的起评值`, raw.floor ?? 0);
      const target = num(`${p}.target`, `${who}的目标值`, raw.target ?? 1);
      if (floor !== null && (floor < 0 || floor > 1)) err(`${p}.floor`, `${who}的起评值必须在 0 到 1 之间`);
      if (target !== null && (target < 0 || target > 1)) err(`${p}.target`, `${who}的目标值必须在 0 到 1 之间`);
      if (floor !== null && target !== null && !(floor < target)) err(`${p}.floor`, `${who}的起评值必须小于目标值`);
      if (numerator && denominator && weight !== null && floor !== null && target !== null) {
        indicators.push({ id, name, numerator, denominator, notApplicableWhen, zeroDenominatorValue, weight, floor, target });
      }
    });
  }

  const grades: GradeBand[] = [];
  if (!Array.isArray(input.grades) || input.grades.length !== GRADES.length) {
    err('grades', `等级档次必须依次为 ${GRADES.join('、')}`);
  } else {
    let prev: number | null = null;
    input.grades.forEach((raw: unknown, i: number) => {
      const p = `grades[${i}]`;
      const expected = GRADES[i]!;
      if (!isObj(raw) || raw.grade !== expected) {
        err(p, `第 ${i + 1} 个等级必须是“${expected}”`);
        return;
      }
      const min = num(`${p}.min`, `“${expected}”的分数线`, raw.min);
      if (min === null) return;
      if (min < 0 || min > 100) err(`${p}.min`, `“${expected}”的分数线必须在 0 到 100 之间`);
      if (prev !== null && !(min < prev)) err(`${p}.min`, `等级分数线必须从高到低递减：“${expected}”的分数线应低于上一档`);
      if (i === GRADES.length - 1 && min !== 0) err(`${p}.min`, `“${expected}”的分数线必须为 0`);
      prev = min;
      grades.push({ grade: expected, min });
    });
  }

  const excellentQuota = num('excellentQuota', '优秀比例', input.excellentQuota);
  if (excellentQuota !== null && (excellentQuota < 0 || excellentQuota > 1)) err('excellentQuota', '优秀比例必须在 0 到 1 之间');

  let late: number | null = null;
  if (!isObj(input.deductions)) err('deductions', '扣分规则格式不正确');
  else {
    late = num('deductions.late', '逾期报送扣分', input.deductions.late);
    if (late !== null && late < 0) err('deductions.late', '逾期报送扣分不能为负数');
  }

  let accountability: AccountabilityParams | null = null;
  const acc = input.accountability;
  if (!isObj(acc) || !isObj(acc.A1) || !isObj(acc.A2) || !isObj(acc.A3)) {
    err('accountability', '问责规则格式不正确（需要 A1、A2、A3）');
  } else {
    const a1e = bool('accountability.A1.enabled', 'A1 是否启用', acc.A1.enabled);
    const dueDays = int('accountability.A1.dueDays', 'A1 整改期限天数', acc.A1.dueDays, 1);
    const a2e = bool('accountability.A2.enabled', 'A2 是否启用', acc.A2.enabled);
    const a3e = bool('accountability.A3.enabled', 'A3 是否启用', acc.A3.enabled);
    const minRanked = int('accountability.A3.minRankedUnits', 'A3 类别最少排名单位数', acc.A3.minRankedUnits, 2);
    const consecutive = int('accountability.A3.consecutiveQuarters', 'A3 连续季度数', acc.A3.consecutiveQuarters, 1);
    if (consecutive !== null && consecutive > 8) err('accountability.A3.consecutiveQuarters', 'A3 连续季度数不能超过 8');
    if (dueDays !== null && minRanked !== null && consecutive !== null) {
      accountability = {
        A1: { enabled: a1e, dueDays },
        A2: { enabled: a2e },
        A3: { enabled: a3e, minRankedUnits: minRanked, consecutiveQuarters: consecutive },
      };
    }
  }

  if (errors.length > 0 || version === null || excellentQuota === null || late === null || !accountability) {
    if (errors.length === 0) err('', '考核方案不完整');
    return { ok: false, scheme: null, errors };
  }
  return {
    ok: true,
    errors: [],
    scheme: { version, indicators, grades, excellentQuota, deductions: { late }, accountability },
  };
}

/** validateScheme, throwing AppError 422 `invalid_scheme` with every error as details. */
export function assertValidScheme(input: unknown): AssessmentScheme {
  const v = validateScheme(input);
  if (!v.ok) {
    throw new AppError(422, 'invalid_scheme', `考核方案有误：${v.errors.map((e) => e.message).join('；')}`, v.errors);
  }
  return v.scheme;
}
