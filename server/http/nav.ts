// The main navigation, by role. Owners of pages add or adjust their entries here.
import type { Role } from '../domain/fields.ts';
import type { Principal } from './auth.ts';

export interface NavItem {
  label: string;
  href: string;
  roles: readonly Role[];
}

const ALL: readonly Role[] = ['admin', 'reviewer', 'office', 'reporter'];

export const NAV: readonly NavItem[] = [
  { label: '总览', href: '/', roles: ALL },
  { label: '排名', href: '/ranking', roles: ALL },
  { label: '年度排名', href: '/annual', roles: ALL },
  { label: '填报', href: '/returns', roles: ['reporter', 'admin'] },
  { label: '审核', href: '/review', roles: ['reviewer', 'admin'] },
  { label: '填报进度', href: '/progress', roles: ['reviewer', 'office', 'admin'] },
  { label: '问责', href: '/accountability', roles: ALL },
  { label: '管理', href: '/admin', roles: ['admin'] },
];

/** Administration pages listed on /admin. */
export const ADMIN_LINKS: readonly { label: string; href: string; description: string }[] = [
  { label: '用户管理', href: '/admin/users', description: '创建账号、停用、重置密码' },
  { label: '单位管理', href: '/admin/units', description: '被考核单位的名录与层级，从 Excel 导入' },
  { label: '期次管理', href: '/admin/periods', description: '开放期次，各季度的报送截止时间与填报状态' },
  { label: '考核方案', href: '/scheme', description: '指标、权重与版本' },
  { label: '异常提示规则', href: '/admin/plausibility', description: '填报数据与上季度、去年同期对比的异常提示规则与版本' },
  { label: '定时任务', href: '/jobs', description: '评分、提醒、问责任务的运行记录，立即运行' },
];

export function navFor(p: Principal | undefined, currentPath: string): (NavItem & { active: boolean })[] {
  if (!p) return [];
  return NAV.filter((n) => n.roles.includes(p.role)).map((n) => ({
    ...n,
    active: n.href === '/' ? currentPath === '/' : currentPath === n.href || currentPath.startsWith(n.href + '/'),
  }));
}
