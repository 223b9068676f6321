// Presentation helpers shared by the read-side pages (总览, 排名, 单位详情, 问责, 填报进度).
// Not a router (the leading underscore keeps server/app.ts from mounting it).
import { FLAG_LABELS } from '../../domain/vocabulary.ts';
import type { Request } from 'express';
import { principalOf } from '../../http/auth.ts';
import type { Viewer } from '../../pages/common.ts';

export function viewerOf(req: Request): Viewer {
  const p = principalOf(req);
  return { username: p.username, role: p.role, unit: p.unit };
}

export const q = (req: Request, key: string): string | undefined => {
  const v = (req.query as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
};

/** A chart for public/js/charts.js: drawn from data attributes, with the same data in a table. */
export interface ChartSpec {
  type: 'line' | 'bar';
  labels: string[];
  datasets: { label: string; data: (number | null)[]; color: string; type?: 'line' | 'bar'; axis?: 'y' | 'y2' }[];
  /** Values are ratios shown as percentages. */
  percent?: boolean;
  stacked?: boolean;
  horizontal?: boolean;
  min?: number;
  max?: number;
  /** Labels of the y axes. */
  yTitle?: string;
  y2Title?: string;
}

export const PALETTE = {
  red: '#b4232a',
  blue: '#1f5fa8',
  green: '#1d7a3e',
  orange: '#c97a00',
  purple: '#6b3fa0',
  teal: '#137a7f',
  grey: '#8a94a3',
};

export const GRADE_COLORS: Record<string, string> = {
  优秀: '#1d7a3e',
  良好: '#1f5fa8',
  合格: '#c97a00',
  不合格: '#b4232a',
  未评定: '#a9b1bd',
};

/** Rank change as an arrow: ▲ 3 (up), ▼ 2 (down), — (same / none). */
export function arrow(change: number | null): { symbol: string; cls: string; text: string; label: string } {
  if (change === null) return { symbol: '', cls: 'muted', text: '—', label: '无上期排名' };
  if (change > 0) return { symbol: '▲', cls: 'up', text: String(change), label: `较上期上升 ${change} 位` };
  if (change < 0) return { symbol: '▼', cls: 'down', text: String(-change), label: `较上期下降 ${-change} 位` };
  return { symbol: '＝', cls: 'muted', text: '', label: '与上期持平' };
}

export const FLAG_TAGS: Record<string, { text: string; cls: string }> = {
  late: { text: FLAG_LABELS.late, cls: 'warn' },
  missing: { text: FLAG_LABELS.missing, cls: 'bad' },
  pending: { text: FLAG_LABELS.pending, cls: 'muted' },
};

export function flagTags(flags: readonly string[]): { text: string; cls: string }[] {
  return flags.map((f) => FLAG_TAGS[f] ?? { text: f, cls: 'muted' });
}

export const STATUS_BADGE = {
  final: { text: '正式结果（已发布）', cls: 'ok' },
  provisional: { text: '暂定结果（未发布，可能变化）', cls: 'warn' },
  none: { text: '尚无结果', cls: 'muted' },
} as const;

const pct = (x: number | null) => (x === null ? '—' : `${(Math.round(x * 1000) / 10).toFixed(1)}%`);
export const percent = pct;

/** Difference of two ratios in percentage points, e.g. "+3.2 个百分点". */
export function pointsDelta(now: number | null, before: number | null): { text: string; cls: string } | null {
  if (now === null || before === null) return null;
  const d = Math.round((now - before) * 1000) / 10;
  if (d === 0) return { text: '与上期持平', cls: 'muted' };
  return { text: `${d > 0 ? '+' : ''}${d.toFixed(1)} 个百分点`, cls: d > 0 ? 'up' : 'down' };
}

/** Difference of two counts where fewer is better (standalone networks). */
export function countDelta(now: number, before: number | undefined, fewerIsBetter = false): { text: string; cls: string } | null {
  if (before === undefined) return null;
  const d = now - before;
  if (d === 0) return { text: '与上期持平', cls: 'muted' };
  const good = fewerIsBetter ? d < 0 : d > 0;
  return { text: `较上期${d > 0 ? '增加' : '减少'} ${Math.abs(d)}`, cls: good ? 'up' : 'down' };
}

export function periodQuery(params: Record<string, string | undefined | null>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, v);
  const t = s.toString();
  return t ? `?${t}` : '';
}
