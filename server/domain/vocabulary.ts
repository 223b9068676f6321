// One word per concept (issue 16): every label that pages, workbooks, notices and errors show for a flag,
// a status, a rule, a role or a source comes from here. Pure data, no I/O.
import type { Role } from './fields.ts';
import { CASE_STATUS_LABELS } from './scoring/accountability.ts';

/** Result flags (SPEC §7 `flags`). */
export const FLAG_LABELS: Readonly<Record<'late' | 'missing' | 'pending', string>> = {
  late: '逾期报送',
  missing: '缺报',
  pending: '待报送',
};

/** A return revision's review status. */
export const RETURN_STATUS_LABELS: Readonly<Record<'submitted' | 'approved' | 'rejected', string>> = {
  submitted: '待审核',
  approved: '已通过',
  rejected: '被退回',
};

/** How a revision came in. */
export const SOURCE_LABELS: Readonly<Record<'web' | 'excel' | 'api', string>> = {
  web: '网页填报',
  excel: 'Excel 上传',
  api: '接口报送',
};

/** Accountability rules (SPEC §4), as cases and workbooks name them. */
export const RULE_LABELS: Readonly<Record<'A1' | 'A2' | 'A3', string>> = {
  A1: 'A1 考核不合格',
  A2: 'A2 未按时报送',
  A3: 'A3 连续类别末位',
};

export const ROLE_LABELS: Readonly<Record<Role, string>> = {
  admin: '系统管理员',
  reviewer: '审核员（大数据局）',
  office: '领导小组办公室',
  reporter: '单位填报员',
};

/**
 * A period's state as admin pages show it, from its Period record (services/periods.ts): 已发布 (final,
 * frozen), 已关闭 (an admin stopped intake), 已截止 (past the deadline: late returns still accepted,
 * marked 逾期报送), else 填报中.
 */
export type PeriodPhase = 'open' | 'past_deadline' | 'closed' | 'published';

export const PERIOD_PHASE_LABELS: Readonly<Record<PeriodPhase, string>> = {
  open: '填报中',
  past_deadline: '已截止',
  closed: '已关闭',
  published: '已发布',
};

export function periodPhase(p: { status?: string; publishedAt?: string | Date | null; closed?: boolean; deadline: string | Date }, now: Date): PeriodPhase {
  if (p.status === 'published' || p.publishedAt) return 'published';
  if (p.closed) return 'closed';
  return now.getTime() > new Date(p.deadline).getTime() ? 'past_deadline' : 'open';
}

/** Who did it, in words: the system's own actions are 系统自动. */
export function actorLabel(username: string | null | undefined): string {
  if (!username || username === 'system' || username === 'migration') return '系统自动';
  return username;
}

/** A label from one of the tables above, or the key itself for a value the table does not know. */
export function labelOf(table: Readonly<Record<string, string>>, key: string | null | undefined): string {
  if (key === null || key === undefined) return '';
  return Object.hasOwn(table, key) ? table[key]! : key;
}

export { CASE_STATUS_LABELS };
