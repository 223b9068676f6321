// Return fields (填报指标), SPEC §3. The single source of keys, Chinese labels and ≤ rules.

export const RETURN_FIELDS = [
  { key: 'systems_total', label: '信息系统总数' },
  { key: 'systems_extranet', label: '已接入电子政务外网的系统数', atMost: 'systems_total' },
  { key: 'systems_cloud', label: '已部署政务云的系统数', atMost: 'systems_total' },
  { key: 'networks_private', label: '业务专网总数' },
  { key: 'networks_standalone', label: '仍独立运行的业务专网数', atMost: 'networks_private' },
  { key: 'catalogue_items', label: '数据资源目录编目数' },
  { key: 'catalogue_shared', label: '已发布共享的目录数', atMost: 'catalogue_items' },
  { key: 'requests_received', label: '收到的共享申请数' },
  { key: 'requests_on_time', label: '按时响应的共享申请数', atMost: 'requests_received' },
  { key: 'duties_total', label: '权责清单事项数' },
  { key: 'duties_with_data', label: '有数据支撑的事项数', atMost: 'duties_total' },
] as const satisfies readonly { key: string; label: string; atMost?: string }[];

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
