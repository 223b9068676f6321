// 填报进度 (/progress): who has reported for a period, reminders sent.
import { forbidden, notFound } from '../domain/errors.ts';
import { UNIT_CATEGORY_LABELS, type UnitCategory } from '../domain/fields.ts';
import { quarterStart } from '../domain/periods.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import { FLAG_LABELS, RETURN_STATUS_LABELS } from '../domain/vocabulary.ts';
import { Notice } from '../models/notice.ts';
import { assertQuarter, getPeriod, timeZone } from '../services/periods.ts';
import { periodReturns } from '../services/returns.ts';
import { listUnits } from '../services/units.ts';
import { CATEGORY_ORDER, collectingPeriod, parseScope, type Scope, type Viewer } from './common.ts';
import { ProgressTally, type ProgressSummary } from './overview.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export const PROGRESS_STATES = ['submitted', 'approved', 'rejected', 'late', 'missing', 'waiting'] as const;
export type ProgressState = (typeof PROGRESS_STATES)[number];
export const PROGRESS_LABELS: Record<ProgressState, string> = {
  submitted: RETURN_STATUS_LABELS.submitted,
  approved: RETURN_STATUS_LABELS.approved,
  rejected: RETURN_STATUS_LABELS.rejected,
  late: FLAG_LABELS.late,
  missing: FLAG_LABELS.missing,
  waiting: FLAG_LABELS.pending,
};

export interface ProgressRow {
  unit: string;
  name: string;
  category: UnitCategory;
  state: ProgressState;
  late: boolean;
  revision: number | null;
  revisions: number;
  firstSubmittedAt: string | null;
  lastSubmittedAt: string | null;
  submittedBy: string | null;
  source: string | null;
  reason: string | null;
  reminders: number;
  lastReminderAt: string | null;
}

export interface ProgressView {
  summary: ProgressSummary;
  windowOpens: string;
  category: Scope;
  state: ProgressState | 'all';
  rows: ProgressRow[];
  byCategory: { category: UnitCategory; label: string; units: number; submitted: number }[];
  remindersSent: number;
}

export async function progress(v: Viewer, q: { period?: unknown; category?: unknown; state?: unknown }): Promise<ProgressView> {
  if (v.role === 'reporter') throw forbidden('填报进度仅对审核人员、领导小组办公室和管理员开放');
  const period = q.period !== undefined && q.period !== '' ? assertQuarter(q.period) : await collectingPeriod();
  if (!period) throw notFound('period_not_open', '尚未开放任何考核期次，请管理员在“期次管理”中开放');
  const category = parseScope(q.category);
  const state = (PROGRESS_STATES as readonly string[]).includes(q.state as string) ? (q.state as ProgressState) : 'all';
  const [p, units, returns, notices] = await Promise.all([
    getPeriod(period),
    listUnits({ activeOnly: true }),
    periodReturns(period),
    Notice.find({ period, kind: { $regex: 'remind' } }, { unit: 1, createdAt: 1 }).batchSize(DOCS_PER_COMMAND).lean(),
  ]);
  // The summary from the same read as the rows (总览 counts it by cursor: the same figures).
  const tally = new ProgressTally(units.map((u) => u.code));
  for (const r of returns.values()) tally.add({ unit: r.unit, approved: r.latest.status === 'approved', rejected: r.latest.status === 'rejected', late: r.latest.late });
  const summary = tally.summary(period, p.deadline);
  const reminders = new Map<string, { n: number; last: Date }>();
  for (const n of notices) {
    const r = reminders.get(n.unit) ?? { n: 0, last: n.createdAt };
    r.n++;
    if (n.createdAt > r.last) r.last = n.createdAt;
    reminders.set(n.unit, r);
  }
  const rows: ProgressRow[] = units.map((u) => {
    const r = returns.get(u.code);
    const rem = reminders.get(u.code);
    let st: ProgressState;
    if (!r) st = summary.deadlinePassed ? 'missing' : 'waiting';
    else if (r.latest.status === 'rejected') st = 'rejected';
    else if (r.latest.late) st = 'late';
    else st = r.latest.status === 'approved' ? 'approved' : 'submitted';
    return {
      unit: u.code,
      name: u.name,
      category: u.category,
      state: st,
      late: r?.latest.late ?? false,
      revision: r?.latest.revision ?? null,
      revisions: r?.revisions ?? 0,
      firstSubmittedAt: r?.firstSubmittedAt ?? null,
      lastSubmittedAt: r?.latest.submittedAt ?? null,
      submittedBy: r?.latest.submittedBy ?? null,
      source: r?.latest.source ?? null,
      reason: r?.latest.review?.decision === 'reject' ? r.latest.review.reason : null,
      reminders: rem?.n ?? 0,
      lastReminderAt: rem ? rem.last.toISOString() : null,
    };
  });
  const byCategory = CATEGORY_ORDER.map((c) => ({
    category: c,
    label: UNIT_CATEGORY_LABELS[c],
    units: rows.filter((r) => r.category === c).length,
    submitted: rows.filter((r) => r.category === c && r.revision !== null).length,
  }));
  const order: Record<ProgressState, number> = { missing: 0, waiting: 1, rejected: 2, late: 3, submitted: 4, approved: 5 };
  const filtered = rows
    .filter((r) => (category === 'all' || r.category === category) && (state === 'all' || r.state === state))
    .sort((a, b) => order[a.state] - order[b.state] || CATEGORY_ORDER.indexOf(a.category) - CATEGORY_ORDER.indexOf(b.category) || compareCodes(a.unit, b.unit));
  return {
    summary,
    windowOpens: quarterStart(period, timeZone()).toISOString(),
    category,
    state,
    rows: filtered,
    byCategory,
    remindersSent: notices.length,
  };
}

