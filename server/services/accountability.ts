// Accountability (问责, SPEC §4): open cases when a period is published (A1–A3 of the scheme version
// the results used), mark overdue cases daily, and let reviewers move cases along with a comment.
// Opening is an upsert on (period, unit, rule): re-running never duplicates a case.
import mongoose from 'mongoose';
import { clock } from '../clock.ts';
import { badRequest, conflict, notFound } from '../domain/errors.ts';
import type { UnitCategory } from '../domain/fields.ts';
import { previousQuarter, isQuarter } from '../domain/periods.ts';
import {
  casesToMarkOverdue,
  casesToOpen,
  CASE_STATUS_LABELS,
  effectiveStatus,
  transitionCase,
  type CaseRule,
  type CaseStatus,
  type PublishedPeriod,
} from '../domain/scoring/accountability.ts';
import { Case } from '../models/case.ts';
import { audit, type Actor } from './audit.ts';
import { notify, notifyMany, onlyDuplicateKeys } from './notices.ts';
import { finalPeriods, recordPublication, resultSetOf, rowsOfPeriods, SYSTEM_ACTOR } from '../results/store.ts';
import { schemeVersion } from './scheme.ts';

export interface CaseView {
  id: string;
  unit: string;
  period: string;
  rule: CaseRule;
  type: string;
  status: CaseStatus;
  dueAt: string | null;
  openedAt: string;
  resolvedAt: string | null;
  reason: string;
  history?: { at: string; by: string; from: string | null; to: string; comment: string }[];
}

type CaseDocLean = {
  _id: unknown;
  unit: string;
  period: string;
  rule: string;
  type: string;
  status: string;
  dueAt?: Date | null;
  openedAt: Date;
  resolvedAt?: Date | null;
  reason?: string | null;
  history?: { at: Date; by: string; from?: string | null; to: string; comment?: string | null }[];
};

function view(c: CaseDocLean, now: Date, withHistory = false): CaseView {
  const v: CaseView = {
    id: String(c._id),
    unit: c.unit,
    period: c.period,
    rule: c.rule as CaseRule,
    type: c.type,
    // An unresolved case past its due date is overdue even before the daily job has marked it.
    status: effectiveStatus({ status: c.status as CaseStatus, dueAt: c.dueAt ?? null }, now),
    dueAt: c.dueAt ? c.dueAt.toISOString() : null,
    openedAt: c.openedAt.toISOString(),
    resolvedAt: c.resolvedAt ? c.resolvedAt.toISOString() : null,
    reason: c.reason ?? '',
  };
  if (withHistory) {
    v.history = (c.history ?? []).map((h) => ({ at: h.at.toISOString(), by: h.by, from: h.from ?? null, to: h.to, comment: h.comment ?? '' }));
  }
  return v;
}

/** Cases upserted per command (a national publication opens tens of thousands). */
// At most this many documents a command (cases, then their notices), so no command holds the database
// for long; each batch that lands is progress a re-run keeps (it writes only what is still missing).
const CASE_BATCH = 1000;

/** Opens the cases of a published period. Idempotent; returns how many were newly opened. */
export async function openCasesForPeriod(period: string): Promise<{ opened: number; evaluated: number }> {
  const set = await resultSetOf(period);
  if (!set || set.status !== 'final' || !set.publishedAt) return { opened: 0, evaluated: 0 };
  const scheme = (await schemeVersion(set.schemeVersion)).scheme;
  const n = Math.max(1, scheme.accountability.A3.consecutiveQuarters);
  const history: string[] = [];
  let p: string | null = period;
  for (let i = 1; i < n && p; i++) {
    p = previousQuarter(p);
    if (p) history.push(p);
  }
  const rows = await rowsOfPeriods([period, ...history], { finalOnly: true });
  const toPublished = (per: string): PublishedPeriod | null => {
    const r = rows.get(per);
    return r ? { period: per, results: r.rows.map((x) => ({ ...x, category: x.category as UnitCategory })) } : null;
  };
  const current = toPublished(period);
  if (!current) return { opened: 0, evaluated: 0 };
  const drafts = casesToOpen(scheme, { ...current, publishedAt: set.publishedAt }, history.map(toPublished).filter((x): x is PublishedPeriod => !!x));
  if (drafts.length === 0) return { opened: 0, evaluated: 0 };
  const now = clock.now();

  // 1. The cases: one batch of upserts on (period, unit, rule) for the drafts that have no case yet
  //    (re-runs — the daily job, a restart after a crash — find them all and write nothing). Still an
  //    upsert with $setOnInsert, so a concurrent run opening the same case cannot duplicate or alter it.
  const caseKey = (c: { period: string; unit: string; rule: string }) => `${c.period}\u0000${c.unit}\u0000${c.rule}`;
  const periods = [...new Set(drafts.map((d) => d.period))];
  const existing = new Set(
    (await Case.find({ period: { $in: periods } }, { period: 1, unit: 1, rule: 1 }).lean()).map(caseKey),
  );
  const toOpen = drafts.filter((d) => !existing.has(caseKey(d)));
  let opened = 0;
  for (let i = 0; i < toOpen.length; i += CASE_BATCH) {
    const batch = toOpen.slice(i, i + CASE_BATCH);
    try {
      const res = await Case.bulkWrite(
        batch.map((d) => ({
          updateOne: {
            filter: { period: d.period, unit: d.unit, rule: d.rule },
            update: {
              $setOnInsert: {
                period: d.period,
                unit: d.unit,
                rule: d.rule,
                type: d.type,
                status: 'open',
                dueAt: d.dueAt,
                openedAt: now,
                reason: d.reason,
                history: [{ at: now, by: SYSTEM_ACTOR.username, from: null, to: 'open', comment: d.reason }],
              },
            },
            upsert: true,
          },
        })),
        { ordered: false, throwOnValidationError: true },
      );
      opened += res.upsertedCount;
    } catch (err) {
      // Two runs upserting the same new key at once: the loser's upsert fails on the unique index,
      // and the case exists — which is all this step wants. Anything else is a real failure.
      if (!onlyDuplicateKeys(err)) throw err;
      opened += (err as { result?: { upsertedCount?: number } }).result?.upsertedCount ?? 0;
    }
  }

  // 2. One notice per case, keyed by the case: notices are sent on every run for the cases that have
  //    none yet, so a process killed between the cases and their notices (or halfway through either)
  //    loses no notice, and the key makes a second notice impossible (test/faults/faults.test.ts).
  for (let i = 0; i < drafts.length; i += CASE_BATCH) {
    await notifyMany(
      drafts.slice(i, i + CASE_BATCH).map((d) => ({
        unit: d.unit,
        kind: 'case',
        period: d.period,
        title: `问责：${d.type}（${d.period}）`,
        body: d.reason + (d.dueAt ? `，整改期限 ${d.dueAt.toISOString()}` : ''),
        createdBy: SYSTEM_ACTOR.username,
        key: `case:${d.period}:${d.unit}:${d.rule}`,
      })),
    );
  }
  return { opened, evaluated: drafts.length };
}

/** Marks unresolved cases past their due date as overdue (history entry by system). */
export async function markOverdue(): Promise<number> {
  const now = clock.now();
  const candidates = await Case.find({ status: { $in: ['open', 'rectifying'] }, dueAt: { $ne: null, $lt: now } }).lean();
  let marked = 0;
  for (const c of casesToMarkOverdue(candidates.map((x) => ({ ...x, status: x.status as CaseStatus, dueAt: x.dueAt ?? null })), now)) {
    const r = await Case.updateOne(
      { _id: c._id, status: c.status },
      {
        $set: { status: 'overdue' },
        $push: { history: { at: now, by: SYSTEM_ACTOR.username, from: c.status, to: 'overdue', comment: '超过整改期限未办结' } },
      },
    );
    marked += r.modifiedCount;
  }
  return marked;
}

export interface AccountabilityJobCounts {
  periods: number;
  opened: number;
  overdue: number;
}

/**
 * The accountability job: opens the cases of published periods (all final periods, or `period`) —
 * idempotent, and it also picks up A3 pairs published out of order — then marks overdue cases.
 */
export async function runAccountabilityJob(opts: { period?: string } = {}): Promise<AccountabilityJobCounts> {
  if (opts.period !== undefined && !isQuarter(opts.period)) {
    throw badRequest('invalid_period', `期次「${opts.period}」无效，应为 YYYYQn 格式，如 2026Q3`);
  }
  const periods = opts.period
    ? [opts.period]
    : await finalPeriods();
  let opened = 0;
  for (const p of periods) {
    await recordPublication(p); // completes a publication cut short after its snapshot became final
    opened += (await openCasesForPeriod(p)).opened;
  }
  const overdue = await markOverdue();
  return { periods: periods.length, opened, overdue };
}

export async function listCases(filter: { period?: string; unit?: string; status?: string } = {}): Promise<CaseView[]> {
  const q: Record<string, unknown> = {};
  if (filter.period) q.period = filter.period;
  if (filter.unit) q.unit = filter.unit;
  const now = clock.now();
  const docs = await Case.find(q).sort({ period: -1, unit: 1, rule: 1 }).lean();
  let out = docs.map((d) => view(d as CaseDocLean, now));
  if (filter.status) out = out.filter((c) => c.status === filter.status);
  return out;
}

export async function getCase(id: string): Promise<CaseView> {
  if (!mongoose.isValidObjectId(id)) throw notFound('case_not_found', '问责案件不存在');
  const doc = await Case.findById(id).lean();
  if (!doc) throw notFound('case_not_found', '问责案件不存在');
  return view(doc as CaseDocLean, clock.now(), true);
}

/** A reviewer moves a case (open → rectifying → resolved; overdue → resolved) with a comment. */
export async function updateCaseStatus(actor: Actor, id: string, body: { status?: unknown; comment?: unknown }): Promise<CaseView> {
  if (typeof body.status !== 'string') throw badRequest('invalid_case_status', '请指定案件的新状态（rectifying 或 resolved）');
  const comment = typeof body.comment === 'string' ? body.comment.trim() : '';
  if (!comment) throw badRequest('comment_required', '变更案件状态必须填写说明');
  if (comment.length > 2000) throw badRequest('comment_too_long', '说明不能超过 2000 字');
  if (!mongoose.isValidObjectId(id)) throw notFound('case_not_found', '问责案件不存在');
  const doc = await Case.findById(id).lean();
  if (!doc) throw notFound('case_not_found', '问责案件不存在');
  const now = clock.now();
  const from = effectiveStatus({ status: doc.status as CaseStatus, dueAt: doc.dueAt ?? null }, now);
  const to = transitionCase({ status: doc.status as CaseStatus, dueAt: doc.dueAt ?? null }, body.status as CaseStatus, now);
  const set: Record<string, unknown> = { status: to };
  if (to === 'resolved') set.resolvedAt = now;
  const history = [] as { at: Date; by: string; from: string | null; to: string; comment: string }[];
  if (from === 'overdue' && doc.status !== 'overdue') {
    history.push({ at: now, by: SYSTEM_ACTOR.username, from: doc.status, to: 'overdue', comment: '超过整改期限未办结' });
  }
  history.push({ at: now, by: actor.username, from, to, comment });
  const r = await Case.updateOne({ _id: doc._id, status: doc.status }, { $set: set, $push: { history: { $each: history } } });
  if (r.modifiedCount === 0) throw conflict('case_changed', '案件状态刚被他人修改，请刷新后重试');
  await audit(actor, {
    action: 'case.status',
    entity: 'case',
    entityId: String(doc._id),
    before: { status: from },
    after: { status: to, comment },
  });
  await notify({
    unit: doc.unit,
    kind: 'case',
    period: doc.period,
    title: `问责案件状态变更为“${CASE_STATUS_LABELS[to]}”（${doc.period} ${doc.rule}）`,
    body: comment,
    createdBy: actor.username,
  });
  return getCase(id);
}
