// Return fields (填报指标), SPEC §3. The single source of keys, Chinese labels, ≤ rules, and of what
// each field counts (口径) and in what unit: the web form, the template's 说明 sheet and the template's
// header notes all read them from here (fieldRuleText / fieldNote below).

export const RETURN_FIELDS = [
  {
    key: 'systems_total',
    label: '信息系统总数',
    unit: '个',
    definition: '截至本季度末，本单位在用的政务信息系统总数，包括本单位自建的和上级部门部署、在本单位使用的系统；已下线停用的不计。',
  },
  {
    key: 'systems_extranet',
    label: '已接入电子政务外网的系统数',
    unit: '个',
    definition: '在用信息系统中，已通过电子政务外网访问和对外提供服务的系统数。',
    atMost: 'systems_total',
  },
  {
    key: 'systems_cloud',
    label: '已部署政务云的系统数',
    unit: '个',
    definition: '在用信息系统中，已迁移或部署到政务云平台上运行的系统数。',
    atMost: 'systems_total',
  },
  {
    key: 'networks_private',
    label: '业务专网总数',
    unit: '个',
    definition: '截至本季度末，本单位使用的业务专网总数（含上级部门延伸到本单位的专网）。',
  },
  {
    key: 'networks_standalone',
    label: '仍独立运行的业务专网数',
    unit: '个',
    definition: '业务专网中，尚未整合迁移到电子政务外网、仍独立运行的专网数；已整合的不计。',
    atMost: 'networks_private',
  },
  {
    key: 'catalogue_items',
    label: '数据资源目录编目数',
    unit: '条',
    definition: '截至本季度末，本单位在数据资源目录系统中已编目的目录条数（按目录条目计，不按数据项计）。',
  },
  {
    key: 'catalogue_shared',
    label: '已发布共享的目录数',
    unit: '条',
    definition: '已编目的目录中，已在共享平台发布、其他单位可以申请使用的目录条数（无条件共享和有条件共享均计入）。',
    atMost: 'catalogue_items',
  },
  {
    key: 'requests_received',
    label: '收到的共享申请数',
    unit: '件',
    definition: '本季度内，本单位通过共享平台收到的其他单位的数据共享申请件数（同一申请退回重报的按一件计）。',
  },
  {
    key: 'requests_on_time',
    label: '按时响应的共享申请数',
    unit: '件',
    definition: '本季度收到的共享申请中，在规定时限内作出答复（同意、有条件同意或说明理由不予共享）的件数。',
    atMost: 'requests_received',
  },
  {
    key: 'duties_total',
    label: '权责清单事项数',
    unit: '项',
    definition: '本单位现行权责清单中的事项数。',
  },
  {
    key: 'duties_with_data',
    label: '有数据支撑的事项数',
    unit: '项',
    definition: '权责清单事项中，办理所需数据已能通过共享平台或本单位系统获取的事项数。',
    atMost: 'duties_total',
  },
] as const satisfies readonly { key: string; label: string; unit: string; definition: string; atMost?: string }[];

export type FieldKey = (typeof RETURN_FIELDS)[number]['key'];
export type ReturnValues = Record<FieldKey, number>;

export const FIELD_KEYS: readonly FieldKey[] = RETURN_FIELDS.map((f) => f.key);

export const FIELD_LABELS: Readonly<Record<FieldKey, string>> = Object.fromEntries(
  RETURN_FIELDS.map((f) => [f.key, f.label]),
) as Record<FieldKey, string>;

/** Pairs [field, upper bound field] for every "≤" rule of SPEC §3. */
export const AT_MOST_RULES: readonly (readonly [FieldKey, FieldKey])[] = RETURN_FIELDS.flatMap((f) =>
  'atMost' in f ? [[f.key, f.atMost] as const] : [],
);

/** One field's definition as every place that explains it shows it. */
export interface FieldDefinition {
  key: FieldKey;
  label: string;
  /** 计量单位: 个 / 条 / 件 / 项. */
  unit: string;
  /** 口径: what the field counts. */
  definition: string;
  /** The field this one may not exceed (SPEC §3 "≤" rule), or null. */
  atMost: FieldKey | null;
}

export const FIELD_DEFINITIONS: readonly FieldDefinition[] = RETURN_FIELDS.map((f) => ({
  key: f.key,
  label: f.label,
  unit: f.unit,
  definition: f.definition,
  atMost: 'atMost' in f ? f.atMost : null,
}));

/** The checks on a field, e.g. "必填；不小于 0 的整数（个）；不得大于「信息系统总数」". */
export function fieldRuleText(f: FieldDefinition): string {
  const rule = ['必填', `不小于 0 的整数（单位：${f.unit}）`];
  if (f.atMost) rule.push(`不得大于「${FIELD_LABELS[f.atMost]}」`);
  return rule.join('；');
}

/** The template's header note of a field: key, 口径, unit and checks, one per line. */
export function fieldNote(f: FieldDefinition): string {
  return [f.key, `口径：${f.definition}`, `单位：${f.unit}`, `规则：${fieldRuleText(f)}`].join('\n');
}

/** The fields by subject, as the web form groups them (each group: a total and what it contains). */
export const FIELD_GROUPS: readonly { id: string; label: string; keys: readonly FieldKey[] }[] = [
  { id: 'systems', label: '信息系统', keys: ['systems_total', 'systems_extranet', 'systems_cloud'] },
  { id: 'networks', label: '业务专网', keys: ['networks_private', 'networks_standalone'] },
  { id: 'catalogue', label: '数据资源目录', keys: ['catalogue_items', 'catalogue_shared'] },
  { id: 'requests', label: '数据共享申请', keys: ['requests_received', 'requests_on_time'] },
  { id: 'duties', label: '权责清单', keys: ['duties_total', 'duties_with_data'] },
];

export function isFieldKey(key: string): key is FieldKey {
  return (FIELD_KEYS as readonly string[]).includes(key);
}

export const UNIT_CATEGORIES = ['department', 'city', 'county'] as const;
export type UnitCategory = (typeof UNIT_CATEGORIES)[number];
export const UNIT_CATEGORY_LABELS: Readonly<Record<UnitCategory, string>> = {
  department: '省直部门',
  city: '设区市',
  county: '县(市、区)',
};

export const ROLES = ['admin', 'reviewer', 'office', 'reporter'] as const;
export type Role = (typeof ROLES)[number];
