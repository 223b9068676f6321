// Plausibility of a return against the unit's own history (issue 14 item 3, SPEC §6 "warnings"):
// pure logic, no I/O. The rule set is data (stored and versioned by services/plausibility.ts,
// edited by admins); this module defines its shape, its defaults, its validation and its evaluation.
//
// A rule compares one field of the new return with the same field of a comparison base — the
// previous quarter's usable return (`previous`) or the same quarter a year before (`yearAgo`) — and
// yields a WARNING, never an error: the return is accepted either way, the reviewer takes a second
// look. The ≤ rules between a part and its total (e.g. 接入数 ≤ 系统总数) are errors already
// (domain/validation.ts) and are not repeated here.
//
// Kinds:
//   jump      the value at least multiplies by `factor` or falls to 1/`factor` of the base or less,
//             and moves by at least `floor` (an absolute floor: 1 → 3 is not a jump, 10 → 40 is);
//             from a base of 0, any rise of at least `floor` is a jump.
//   fall      the value is lower than the base by at least `minDrop`: for counts that normally only
//             grow (systems on the extranet or the cloud, shared catalogue items, duties with data).
//   reappear  the base was 0 and the value is above 0 (standalone private networks that come back
//             after having all been integrated).
// Defaults (DEFAULT_PLAUSIBILITY_RULES) and why:
//   P1 jump vs the previous quarter, every field, ×2 with a floor of 5: "more than doubles or halves"
//      in a quarter is rare for stock counts (systems, networks, catalogue, duties) and worth a look
//      for the request counts; the floor keeps small units (1 → 3 systems) quiet.
//   P2 jump vs the same quarter last year, every field, ×3 with a floor of 10: a year allows more
//      growth (new systems, a catalogue drive), so the factor and the floor are larger; it is what
//      flags a first revision of a quarter whose previous quarter is missing or itself odd.
//   P3 fall vs the previous quarter of the four "shared" counts (systems_extranet, systems_cloud,
//      catalogue_shared, duties_with_data), by at least 1: sharing progress that goes backwards.
//   P4 reappear vs the previous quarter of networks_standalone: standalone networks counted 0 last
//      quarter and again > 0 now.
// A field gets at most one warning per comparison base: the most specific rule that flags it wins
// (reappear, then fall, then jump; among rules of one kind, rule-set order) — standalone networks
// going 0 → 8 are one "reappear" warning, a halved shared count one "fall" warning.
import { FIELD_KEYS, FIELD_LABELS, isFieldKey, type FieldKey, type ReturnValues } from './fields.ts';
import { AppError } from './errors.ts';

export const PLAUSIBILITY_BASES = ['previous', 'yearAgo'] as const;
export type PlausibilityBase = (typeof PLAUSIBILITY_BASES)[number];
export const BASE_LABELS: Readonly<Record<PlausibilityBase, string>> = { previous: '上季度', yearAgo: '去年同期' };

export const RULE_KINDS = ['jump', 'fall', 'reappear'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const RULE_KIND_LABELS: Readonly<Record<RuleKind, string>> = { jump: '大幅增减', fall: '累计数减少', reappear: '降为 0 后重现' };

interface RuleBase {
  id: string;
  name: string;
  enabled: boolean;
  base: PlausibilityBase;
  fields: FieldKey[];
}
export interface JumpRule extends RuleBase { kind: 'jump'; factor: number; floor: number }
export interface FallRule extends RuleBase { kind: 'fall'; minDrop: number }
export interface ReappearRule extends RuleBase { kind: 'reappear' }
export type PlausibilityRule = JumpRule | FallRule | ReappearRule;

export interface PlausibilityRules {
  version: number;
  rules: PlausibilityRule[];
}

export const SHARED_COUNT_FIELDS: readonly FieldKey[] = ['systems_extranet', 'systems_cloud', 'catalogue_shared', 'duties_with_data'];

export const DEFAULT_PLAUSIBILITY_RULES: PlausibilityRules = {
  version: 1,
  rules: [
    { id: 'P1', name: '与上季度相比大幅增减', kind: 'jump', enabled: true, base: 'previous', fields: [...FIELD_KEYS], factor: 2, floor: 5 },
    { id: 'P2', name: '与去年同期相比大幅增减', kind: 'jump', enabled: true, base: 'yearAgo', fields: [...FIELD_KEYS], factor: 3, floor: 10 },
    { id: 'P3', name: '共享类累计数比上季度减少', kind: 'fall', enabled: true, base: 'previous', fields: [...SHARED_COUNT_FIELDS], minDrop: 1 },
    { id: 'P4', name: '独立运行的专网降为 0 后又出现', kind: 'reappear', enabled: true, base: 'previous', fields: ['networks_standalone'] },
  ],
};

export function cloneRules(r: PlausibilityRules): PlausibilityRules {
  return { version: r.version, rules: r.rules.map((x) => ({ ...x, fields: [...x.fields] })) };
}

// ---- evaluation ----

export interface HistoryPoint {
  period: string;
  values: Readonly<ReturnValues>;
}

export interface PlausibilityHistory {
  previous?: HistoryPoint | null;
  yearAgo?: HistoryPoint | null;
}

export interface PlausibilityFinding {
  rule: string;
  field: FieldKey;
  base: PlausibilityBase;
  basePeriod: string;
  before: number;
  after: number;
  /** Chinese, naming the field (its column header) and the comparison. */
  message: string;
}

function ratioText(x: number): string {
  const r = Math.round(x * 10) / 10;
  return Number.isInteger(r) ? String(r) : r.toFixed(1);
}

function percentText(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** Whether `after` is a jump from `before` under (factor, floor): symmetric in the two values. */
export function isJump(before: number, after: number, factor: number, floor: number): boolean {
  if (before === after) return false;
  if (Math.abs(after - before) < floor) return false;
  const lo = Math.min(before, after);
  const hi = Math.max(before, after);
  return hi >= factor * lo;
}

function check(rule: PlausibilityRule, field: FieldKey, before: number, after: number, point: HistoryPoint): string | null {
  const label = `「${FIELD_LABELS[field]}」`;
  const where = `${BASE_LABELS[rule.base]}（${point.period}）`;
  switch (rule.kind) {
    case 'jump':
      if (!isJump(before, after, rule.factor, rule.floor)) return null;
      if (after > before) {
        return before === 0
          ? `${label}为 ${after}，${where}为 0，突增 ${after}，请核实`
          : `${label}为 ${after}，${where}为 ${before}，增至 ${ratioText(after / before)} 倍，请核实`;
      }
      return after === 0
        ? `${label}为 0，${where}为 ${before}，降为 0，请核实`
        : `${label}为 ${after}，${where}为 ${before}，降至 ${percentText(after / before)}，请核实`;
    case 'fall':
      if (!(before - after >= rule.minDrop)) return null;
      return `${label}为 ${after}，${where}为 ${before}，减少 ${before - after}；此项通常只增不减，请核实`;
    case 'reappear':
      if (!(before === 0 && after > 0)) return null;
      return `${label}为 ${after}，${where}已降为 0，现又出现，请核实`;
  }
}

const SPECIFICITY: Readonly<Record<RuleKind, number>> = { reappear: 0, fall: 1, jump: 2 };

function bySpecificity(rules: readonly PlausibilityRule[]): PlausibilityRule[] {
  return rules.map((r, i) => ({ r, i })).sort((a, b) => SPECIFICITY[a.r.kind] - SPECIFICITY[b.r.kind] || a.i - b.i).map((x) => x.r);
}

/**
 * The warnings for `values` against the unit's history under `rules`: one per field and comparison
 * base at most (the most specific rule), in field order. No history → no warnings. Never throws on values.
 */
export function checkPlausibility(rules: PlausibilityRules, values: Readonly<ReturnValues>, history: PlausibilityHistory): PlausibilityFinding[] {
  const out: PlausibilityFinding[] = [];
  const seen = new Set<string>();
  for (const field of FIELD_KEYS) {
    const after = Number(values[field]);
    if (!Number.isFinite(after)) continue;
    for (const rule of bySpecificity(rules.rules)) {
      if (!rule.enabled || !rule.fields.includes(field)) continue;
      const point = history[rule.base];
      if (!point) continue;
      const key = `${field}/${rule.base}`;
      if (seen.has(key)) continue;
      const before = Number(point.values[field]);
      if (!Number.isFinite(before)) continue;
      const message = check(rule, field, before, after, point);
      if (message === null) continue;
      seen.add(key);
      out.push({ rule: rule.id, field, base: rule.base, basePeriod: point.period, before, after, message });
    }
  }
  return out;
}

// ---- validation of an edited rule set ----

export interface RuleError {
  path: string;
  message: string;
}

const MAX_FACTOR = 1000;
const MAX_COUNT = 1_000_000_000;

/**
 * Validates an untrusted rule set (an admin's draft). The rules' ids, names, kinds and bases are those
 * of `template` (the set in force): a draft changes switches, fields and numbers, not the rule list.
 */
export function validateRules(input: unknown, template: PlausibilityRules, version: number): { ok: true; rules: PlausibilityRules } | { ok: false; errors: RuleError[] } {
  const errors: RuleError[] = [];
  const list = typeof input === 'object' && input !== null && Array.isArray((input as { rules?: unknown }).rules) ? ((input as { rules: unknown[] }).rules) : null;
  if (!list) return { ok: false, errors: [{ path: 'rules', message: '规则集应包含规则列表' }] };
  if (list.length !== template.rules.length) return { ok: false, errors: [{ path: 'rules', message: `规则数量应为 ${template.rules.length} 条` }] };
  const rules: PlausibilityRule[] = [];
  template.rules.forEach((tpl, i) => {
    const raw = list[i];
    const name = `规则 ${tpl.id}（${tpl.name}）`;
    if (typeof raw !== 'object' || raw === null) {
      errors.push({ path: `rules[${i}]`, message: `${name}缺失` });
      return;
    }
    const r = raw as Record<string, unknown>;
    if (r.id !== undefined && r.id !== tpl.id) errors.push({ path: `rules[${i}].id`, message: `${name}的编号不能修改` });
    const enabled = r.enabled === true;
    const fieldsRaw = Array.isArray(r.fields) ? r.fields : null;
    const fields: FieldKey[] = [];
    if (!fieldsRaw) errors.push({ path: `rules[${i}].fields`, message: `${name}的适用指标应为指标列表` });
    else {
      for (const f of fieldsRaw) {
        if (typeof f === 'string' && isFieldKey(f)) {
          if (!fields.includes(f)) fields.push(f);
        } else errors.push({ path: `rules[${i}].fields`, message: `${name}的适用指标中有未知指标「${typeof f === 'string' ? f.slice(0, 40) : typeof f}」` });
      }
      if (enabled && !fields.length) errors.push({ path: `rules[${i}].fields`, message: `${name}已启用，请至少选择一项适用指标` });
    }
    const sorted = FIELD_KEYS.filter((k) => fields.includes(k));
    const common = { id: tpl.id, name: tpl.name, enabled, base: tpl.base, fields: sorted };
    if (tpl.kind === 'jump') {
      const factor = r.factor;
      const floor = r.floor;
      if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 1 || factor > MAX_FACTOR) {
        errors.push({ path: `rules[${i}].factor`, message: `${name}的倍数应为大于 1、不超过 ${MAX_FACTOR} 的数` });
      }
      if (typeof floor !== 'number' || !Number.isInteger(floor) || floor < 0 || floor > MAX_COUNT) {
        errors.push({ path: `rules[${i}].floor`, message: `${name}的最小变化量应为不小于 0 的整数` });
      }
      rules.push({ ...common, kind: 'jump', factor: factor as number, floor: floor as number });
    } else if (tpl.kind === 'fall') {
      const minDrop = r.minDrop;
      if (typeof minDrop !== 'number' || !Number.isInteger(minDrop) || minDrop < 1 || minDrop > MAX_COUNT) {
        errors.push({ path: `rules[${i}].minDrop`, message: `${name}的最小减少量应为不小于 1 的整数` });
      }
      rules.push({ ...common, kind: 'fall', minDrop: minDrop as number });
    } else {
      rules.push({ ...common, kind: 'reappear' });
    }
  });
  if (errors.length) return { ok: false, errors };
  return { ok: true, rules: { version, rules } };
}

export function assertValidRules(input: unknown, template: PlausibilityRules, version: number): PlausibilityRules {
  const v = validateRules(input, template, version);
  if (!v.ok) throw new AppError(422, 'invalid_plausibility_rules', `异常提示规则有误：${v.errors.map((e) => e.message).join('；')}`, v.errors);
  return v.rules;
}

/** A stored definition read back: trusted shape, but tolerate missing pieces by falling back to the defaults. */
export function rulesFromStored(definition: unknown, version: number): PlausibilityRules {
  const v = validateRules(definition, DEFAULT_PLAUSIBILITY_RULES, version);
  return v.ok ? v.rules : { ...cloneRules(DEFAULT_PLAUSIBILITY_RULES), version };
}
