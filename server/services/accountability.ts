// Accountability (问责, SPEC §4): open cases when a period is published (A1–A3 of the scheme version
// the results used), mark overdue cases daily, and let reviewers move cases along with a comment.
// Opening is an upsert on (period, unit, rule): re-running never duplicates a case.
import mongoose, { Types } from 'mongoose';
import { clock } from '../clock.ts';
import { MAX_ATTACHMENTS_PER_RECTIFICATION } from '../domain/attachments.ts';
import { AppError, badRequest, conflict, forbidden, notFound } from '../domain/errors.ts';
import type { Role } from '../domain/fields.ts';
import { isQuarter } from '../domain/periods.ts';
import {
  a3History,
  CategoryLast,
  casesToMarkOverdue,
  casesToOpen,
  CASE_STATUS_LABELS,
  effectiveStatus,
  transitionCase,
  type CaseDraft,
  type CaseRule,
  type CaseStatus,
  type PublishedTail,
} from '../domain/scoring/accountability.ts';
import { Case } from '../models/case.ts';
import { attachmentViews, checkFiles, discardAttachments, storeFiles, type AttachmentView, type IncomingFile } from './attachments.ts';
import { audit, type Actor } from './audit.ts';
import { notify, notifyMany, onlyDuplicateKeys } from './notices.ts';
import { finalPeriods, readPointer, recordPublication, resultSetOf, streamOutcomes, SYSTEM_ACTOR, type ObjectIdT, type RowOutcome } from '../results/store.ts';
import { schemeVersion } from './scheme.ts';
import { timeZone } from './periods.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export interface HistoryView {
  at: string;
  by: string;
  from: string | null;
  to: string;
  comment: string;
  /** What happened, when more than a status change (rectification.submit / accept / return, extension.request / grant / deny). */
  action: string | null;
  attachments: AttachmentView[];
}

export interface RectificationView {
  id: string;
  at: string;
  by: string;
  report: string;
  attachments: AttachmentView[];
  decision?: { at: string; by: string; decision: 'accept' | 'return'; comment: string };
}

export interface ExtensionView {
  id: string;
  at: string;
  by: string;
  reason: string;
  /** The due date when it was requested. */
  dueAt: string | null;
  decision?: { at: string; by: string; decision: 'grant' | 'deny'; dueAt: string | null; comment: string };
}

/** Where the case's rectification stands: none yet, awaiting 核查, returned, accepted (销号). */
export type RectificationState = 'none' | 'pending' | 'returned' | 'accepted';

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
  rectification: RectificationState;
  /** Submitted rectifications. */
  rectificationCount: number;
  /** A request to extend the due date awaits a decision. */
  extensionPending: boolean;
  /** The latest rectification report and the decision on it (workbooks, lists). */
  lastRectification: { at: string; decision: 'accept' | 'return' | null; decidedAt: string | null; comment: string } | null;
  /** The due date before the first granted extension, when one was granted. */
  extendedFrom: string | null;
  history?: HistoryView[];
  rectifications?: RectificationView[];
  extensions?: ExtensionView[];
}

type Decision<D extends string> = { at: Date; by: string; decision: D; comment?: string | null; dueAt?: Date | null } | null;
type RectLean = { _id: Types.ObjectId; at: Date; by: string; report: string; attachments?: Types.ObjectId[]; decision?: Decision<'accept' | 'return'> };
type ExtLean = { _id: Types.ObjectId; at: Date; by: string; reason: string; dueAt?: Date | null; decision?: Decision<'grant' | 'deny'> };

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
  updatedAt?: Date | null;
  history?: { at: Date; by: string; from?: string | null; to: string; comment?: string | null; action?: string | null; files?: Types.ObjectId[] | null }[];
  rectifications?: RectLean[];
  extensions?: ExtLean[];
};

function rectificationState(c: CaseDocLean): RectificationState {
  const last = c.rectifications?.at(-1);
  if (!last) return 'none';
  if (!last.decision) return 'pending';
  return last.decision.decision === 'accept' ? 'accepted' : 'returned';
}

function lastRect(c: CaseDocLean): CaseView['lastRectification'] {
  const r = c.rectifications?.at(-1);
  if (!r) return null;
  return { at: r.at.toISOString(), decision: r.decision?.decision ?? null, decidedAt: r.decision ? r.decision.at.toISOString() : null, comment: r.decision?.comment ?? '' };
}

function view(c: CaseDocLean, now: Date, files?: Map<string, AttachmentView>): CaseView {
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
    rectification: rectificationState(c),
    rectificationCount: c.rectifications?.length ?? 0,
    extensionPending: !!c.extensions?.some((e) => !e.decision),
    lastRectification: lastRect(c),
    extendedFrom: (() => {
      const g = c.extensions?.find((e) => e.decision?.decision === 'grant');
      return g?.dueAt ? g.dueAt.toISOString() : null;
    })(),
  };
  if (files) {
    const att = (ids: readonly unknown[] | null | undefined) => (ids ?? []).map((i) => files.get(String(i))).filter((x): x is AttachmentView => !!x);
    v.history = (c.history ?? []).map((h) => ({
      at: h.at.toISOString(),
      by: h.by,
      from: h.from ?? null,
      to: h.to,
      comment: h.comment ?? '',
      action: h.action ?? null,
      attachments: att(h.files),
    }));
    v.rectifications = (c.rectifications ?? []).map((r) => ({
      id: String(r._id),
      at: r.at.toISOString(),
      by: r.by,
      report: r.report,
      attachments: att(r.attachments),
      ...(r.decision ? { decision: { at: r.decision.at.toISOString(), by: r.decision.by, decision: r.decision.decision, comment: r.decision.comment ?? '' } } : {}),
    }));
    v.extensions = (c.extensions ?? []).map((e) => ({
      id: String(e._id),
      at: e.at.toISOString(),
      by: e.by,
      reason: e.reason,
      dueAt: e.dueAt ? e.dueAt.toISOString() : null,
      ...(e.decision
        ? { decision: { at: e.decision.at.toISOString(), by: e.decision.by, decision: e.decision.decision, dueAt: e.decision.dueAt ? e.decision.dueAt.toISOString() : null, comment: e.decision.comment ?? '' } }
        : {}),
    }));
  }
  return v;
}

/**
 * A published period's rows as accountability reads them: the outcomes of the current one (by cursor,
 * five fields a row) and, for A3, each earlier published quarter reduced row by row to its units last
 * in their category — never the full rows of several periods at once.
 */
async function publishedInputs(period: string, computeId: ObjectIdT, history: readonly string[]) {
  const results: RowOutcome[] = [];
  for await (const r of streamOutcomes(period, computeId)) results.push(r);
  const tails: PublishedTail[] = [];
  for (const p of history) {
    const set = await readPointer(p);
    if (set?.status !== 'final') continue;
    const last = new CategoryLast();
    for await (const r of streamOutcomes(p, set.computeId)) last.add(r);
    tails.push({ period: p, last });
  }
  return { results, tails };
}

/**
 * A newly opened case as stored — the very document an upsert on (period, unit, rule) with the case in
 * $setOnInsert gave (until 2026-12 cases were opened so): the filter's fields first, then the others in
 * name order, with the model's defaults, version key and timestamps (`stamp`: mongoose's wall clock).
 * Written by plain inserts: an upsert costs a lookup per case, which at 50 000 units took minutes.
 * test/scale/publication-records.test.ts compares its bytes with an upsert's.
 */
function newCaseDocument(d: CaseDraft, now: Date, stamp: Date) {
  return {
    _id: new Types.ObjectId(),
    period: d.period,
    unit: d.unit,
    rule: d.rule,
    __v: 0,
    createdAt: stamp,
    dueAt: d.dueAt,
    extensions: [],
    history: [{ at: now, by: SYSTEM_ACTOR.username, from: null, to: 'open', comment: d.reason, action: null }],
    openedAt: now,
    reason: d.reason,
    rectifications: [],
    resolvedAt: null,
    status: 'open',
    type: d.type,
    updatedAt: stamp,
  };
}

/** Opens the cases of a published period. Idempotent; returns how many were newly opened. */
export async function openCasesForPeriod(period: string): Promise<{ opened: number; evaluated: number }> {
  const set = await resultSetOf(period);
  if (!set || set.status !== 'final' || !set.publishedAt) return { opened: 0, evaluated: 0 };
  const scheme = (await schemeVersion(set.schemeVersion)).scheme;
  const history = scheme.accountability.A3.enabled ? a3History(scheme, period) : [];
  const { results, tails } = await publishedInputs(period, set.computeId as ObjectIdT, history);
  const drafts = casesToOpen(scheme, { period, publishedAt: set.publishedAt, results }, tails);
  if (drafts.length === 0) return { opened: 0, evaluated: 0 };
  const now = clock.now();

  // 1. The cases: inserts, ≤ DOCS_PER_COMMAND a command, of the drafts that have no case yet (re-runs — the
  //    daily job, a restart after a crash — find them all and write nothing). A concurrent run opening
  //    the same case meanwhile fails on the unique (period, unit, rule) index and changes nothing.
  const caseKey = (c: { period: string; unit: string; rule: string }) => `${c.period}\u0000${c.unit}\u0000${c.rule}`;
  const periods = [...new Set(drafts.map((d) => d.period))];
  const existing = new Set(
    (await Case.find({ period: { $in: periods } }, { period: 1, unit: 1, rule: 1 }).batchSize(DOCS_PER_COMMAND).lean()).map(caseKey),
  );
  const toOpen = drafts.filter((d) => !existing.has(caseKey(d)));
  let opened = 0;
  for (let i = 0; i < toOpen.length; i += DOCS_PER_COMMAND) {
    const stamp = new Date();
    const docs = toOpen.slice(i, i + DOCS_PER_COMMAND).map((d) => newCaseDocument(d, now, stamp));
    try {
      opened += (await Case.collection.insertMany(docs, { ordered: false })).insertedCount;
    } catch (err) {
      // Two runs opening the same new case at once: the loser's insert fails on the unique index,
      // and the case exists — which is all this step wants. Anything else is a real failure.
      if (!onlyDuplicateKeys(err)) throw err;
      opened += (err as { result?: { insertedCount?: number } }).result?.insertedCount ?? 0;
    }
  }

  // 2. One notice per case, keyed by the case: notices are sent on every run for the cases that have
  //    none yet, so a process killed between the cases and their notices (or halfway through either)
  //    loses no notice, and the key makes a second notice impossible (test/faults/faults.test.ts).
  for (let i = 0; i < drafts.length; i += DOCS_PER_COMMAND) {
    await notifyMany(
      drafts.slice(i, i + DOCS_PER_COMMAND).map((d) => ({
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
  const candidates = await Case.find({ status: { $in: ['open', 'rectifying'] }, dueAt: { $ne: null, $lt: now } }).batchSize(DOCS_PER_COMMAND).lean();
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
  const docs = await Case.find(q).sort({ period: -1, unit: 1, rule: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  let out = docs.map((d) => view(d as CaseDocLean, now));
  if (filter.status) out = out.filter((c) => c.status === filter.status);
  return out;
}

export async function getCase(id: string): Promise<CaseView> {
  if (!mongoose.isValidObjectId(id)) throw notFound('case_not_found', '问责案件不存在');
  const doc = (await Case.findById(id).lean()) as unknown as CaseDocLean | null;
  if (!doc) throw notFound('case_not_found', '问责案件不存在');
  const ids = [...(doc.rectifications ?? []).flatMap((r) => r.attachments ?? []), ...(doc.history ?? []).flatMap((h) => h.files ?? [])];
  return view(doc, clock.now(), await attachmentViews(ids));
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

// ---------------------------------------------------------------------------------------------
// The rectification loop (限期整改 → 整改报告 → 核查 → 销号) and due-date extensions (申请延期).
// Every step is one conditional write of the case document (guarded by its updatedAt: a concurrent
// step makes the second one fail with 409 case_changed and change nothing), plus a history entry,
// an audit entry and, for decisions, a notice to the unit.

export interface CaseActor {
  username: string;
  role: Role;
  unit?: string;
}

const REPORT_MAX = 5000;
const COMMENT_MAX = 2000;

async function loadCase(id: string): Promise<CaseDocLean & { _id: Types.ObjectId }> {
  if (!mongoose.isValidObjectId(id)) throw notFound('case_not_found', '问责案件不存在');
  const doc = (await Case.findById(id).lean()) as unknown as (CaseDocLean & { _id: Types.ObjectId }) | null;
  if (!doc) throw notFound('case_not_found', '问责案件不存在');
  return doc;
}

function assertOwnUnit(p: CaseActor, c: CaseDocLean, what: string): void {
  if (p.role !== 'reporter') throw forbidden(`只有本单位的填报人员可以${what}`);
  if (p.unit !== c.unit) throw new AppError(403, 'forbidden_unit', '无权办理其他单位的问责案件');
}

function text(v: unknown, code: string, label: string, max: number, required: boolean): string {
  const s = typeof v === 'string' ? v.trim() : '';
  if (required && !s) throw badRequest(code, `请填写${label}`);
  if (s.length > max) throw badRequest(`${code.replace(/_required$/, '')}_too_long`, `${label}不能超过 ${max} 字`);
  return s;
}

type HistoryEntry = { at: Date; by: string; from: string | null; to: string; comment: string; action?: string; files?: Types.ObjectId[] };

/**
 * Writes one step: `$set` plus history entries, conditional on the case being unchanged since it was
 * read. A case the daily job has not yet marked overdue, but past due, gets its system entry first.
 */
async function writeStep(doc: CaseDocLean & { _id: Types.ObjectId }, now: Date, set: Record<string, unknown>, push: Record<string, unknown>, entry: Omit<HistoryEntry, 'at' | 'from'>): Promise<void> {
  const effective = effectiveStatus({ status: doc.status as CaseStatus, dueAt: doc.dueAt ?? null }, now);
  const history: HistoryEntry[] = [];
  if (effective === 'overdue' && doc.status !== 'overdue') {
    history.push({ at: now, by: SYSTEM_ACTOR.username, from: doc.status, to: 'overdue', comment: '超过整改期限未办结' });
  }
  history.push({ at: now, from: effective, ...entry });
  const r = await Case.updateOne(
    { _id: doc._id, status: doc.status as CaseStatus, updatedAt: doc.updatedAt ?? null },
    { $set: set, $push: { history: { $each: history }, ...push } },
  );
  if (r.modifiedCount === 0) throw conflict('case_changed', '案件刚被他人处理，请刷新后重试');
}

/** The stored status after a step that leaves the case unresolved (an overdue case stays overdue). */
function unresolvedStatus(doc: CaseDocLean, now: Date, wanted: 'open' | 'rectifying'): CaseStatus {
  return effectiveStatus({ status: doc.status as CaseStatus, dueAt: doc.dueAt ?? null }, now) === 'overdue' ? 'overdue' : wanted;
}

/** POST /accountability/cases/:id/rectifications: the unit's reporter submits a report with files. → {id}. */
export async function submitRectification(p: CaseActor, id: string, body: { report?: unknown }, files: readonly IncomingFile[]): Promise<{ id: string; case: CaseView }> {
  const doc = await loadCase(id);
  assertOwnUnit(p, doc, '提交整改报告');
  const report = text(body.report, 'report_required', '整改报告', REPORT_MAX, true);
  const now = clock.now();
  const effective = effectiveStatus({ status: doc.status as CaseStatus, dueAt: doc.dueAt ?? null }, now);
  if (effective === 'resolved') throw conflict('case_resolved', '案件已销号，不能再提交整改报告');
  if (rectificationState(doc) === 'pending') throw conflict('rectification_pending', '上一次提交的整改报告尚待核查，核查退回后才能再次提交');
  const checked = await checkFiles(files, MAX_ATTACHMENTS_PER_RECTIFICATION, '每份整改报告');
  const rid = new Types.ObjectId();
  const ids = await storeFiles(p.username, doc.unit, { kind: 'rectification', case: doc._id, rectification: rid }, checked);
  const to = unresolvedStatus(doc, now, 'rectifying');
  try {
    await writeStep(
      doc,
      now,
      { status: to },
      { rectifications: { _id: rid, at: now, by: p.username, report, attachments: ids, decision: null } },
      { by: p.username, to, comment: report, action: 'rectification.submit', files: ids },
    );
  } catch (err) {
    await discardAttachments(ids).catch(() => {});
    throw err;
  }
  await audit(
    { username: p.username, role: p.role },
    { action: 'case.rectification.submit', entity: 'case', entityId: String(doc._id), before: { status: effective }, after: { status: to, rectification: String(rid), attachments: ids.map(String) } },
  );
  return { id: String(rid), case: await getCase(id) };
}

/** POST /accountability/cases/:id/decision {decision: accept|return, comment}: a reviewer on the latest rectification. */
export async function decideRectification(p: CaseActor, id: string, body: { decision?: unknown; comment?: unknown; rectification?: unknown }): Promise<CaseView> {
  if (p.role !== 'reviewer' && p.role !== 'admin') throw forbidden('只有审核人员可以核查整改报告');
  const decision = body.decision;
  if (decision !== 'accept' && decision !== 'return') throw badRequest('invalid_decision', '核查结论应为 accept（通过，销号）或 return（退回，继续整改）');
  const comment = text(body.comment, 'comment_required', decision === 'return' ? '退回意见' : '核查意见', COMMENT_MAX, decision === 'return');
  const doc = await loadCase(id);
  const rects = doc.rectifications ?? [];
  const last = rects.at(-1);
  if (!last || last.decision) throw conflict('no_pending_rectification', '该案件没有待核查的整改报告');
  if (body.rectification !== undefined && body.rectification !== null && body.rectification !== '' && String(body.rectification) !== String(last._id)) {
    throw conflict('stale_rectification', '该单位已提交新的整改报告，请刷新后再核查');
  }
  const now = clock.now();
  const d = { at: now, by: p.username, decision, comment };
  const to: CaseStatus = decision === 'accept' ? 'resolved' : unresolvedStatus(doc, now, 'open');
  const set: Record<string, unknown> = { status: to, rectifications: [...rects.slice(0, -1), { ...last, decision: d }] };
  if (to === 'resolved') set.resolvedAt = now;
  await writeStep(doc, now, set, {}, {
    by: p.username,
    to,
    comment: comment || (decision === 'accept' ? '整改核查通过，予以销号' : ''),
    action: decision === 'accept' ? 'rectification.accept' : 'rectification.return',
  });
  await audit(
    { username: p.username, role: p.role },
    { action: `case.rectification.${decision}`, entity: 'case', entityId: String(doc._id), before: { status: doc.status }, after: { status: to, rectification: String(last._id), comment } },
  );
  await notify({
    unit: doc.unit,
    kind: 'case',
    period: doc.period,
    title: decision === 'accept' ? `整改报告核查通过，问责案件已销号（${doc.period} ${doc.rule}）` : `整改报告被退回，请继续整改后重新提交（${doc.period} ${doc.rule}）`,
    body: comment,
    createdBy: p.username,
  });
  return getCase(id);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function parseDueDate(raw: unknown): Date {
  const s = typeof raw === 'string' ? raw.trim() : '';
  if (!ISO_DATE.test(s)) throw badRequest('invalid_due_date', '新的整改期限应为 ISO 8601 格式，如 2026-06-30T23:59:59+08:00');
  // A bare date is the end of that day in the configured zone (the offset of Asia/Shanghai and the like).
  const d = new Date(s.length === 10 ? `${s}T23:59:59${zoneOffset(s)}` : s);
  if (Number.isNaN(d.getTime())) throw badRequest('invalid_due_date', '新的整改期限不是有效的日期');
  return d;
}

function zoneOffset(day: string): string {
  const probe = new Date(`${day}T12:00:00Z`);
  const name = new Intl.DateTimeFormat('en-US', { timeZone: timeZone(), timeZoneName: 'longOffset' }).formatToParts(probe).find((x) => x.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-]\d{2}):?(\d{2})?/.exec(name);
  return m ? `${m[1]}:${m[2] ?? '00'}` : 'Z';
}

/** POST /accountability/cases/:id/extensions {reason}: the unit's reporter asks for more time (申请延期). → {id}. */
export async function requestExtension(p: CaseActor, id: string, body: { reason?: unknown }): Promise<{ id: string; case: CaseView }> {
  const doc = await loadCase(id);
  assertOwnUnit(p, doc, '申请延期');
  const reason = text(body.reason, 'reason_required', '延期理由', COMMENT_MAX, true);
  const now = clock.now();
  if (!doc.dueAt) throw conflict('case_no_due_date', '该案件没有整改期限，无需申请延期');
  const effective = effectiveStatus({ status: doc.status as CaseStatus, dueAt: doc.dueAt }, now);
  if (effective === 'resolved') throw conflict('case_resolved', '案件已销号，不能申请延期');
  if (effective === 'overdue') throw conflict('case_overdue', '案件已超过整改期限，不能再申请延期');
  if (doc.extensions?.some((e) => !e.decision)) throw conflict('extension_pending', '已有一项延期申请尚待审批');
  const eid = new Types.ObjectId();
  await writeStep(doc, now, {}, { extensions: { _id: eid, at: now, by: p.username, reason, dueAt: doc.dueAt, decision: null } }, {
    by: p.username,
    to: doc.status,
    comment: reason,
    action: 'extension.request',
  });
  await audit({ username: p.username, role: p.role }, { action: 'case.extension.request', entity: 'case', entityId: String(doc._id), after: { extension: String(eid), reason, dueAt: doc.dueAt } });
  return { id: String(eid), case: await getCase(id) };
}

/**
 * POST /accountability/cases/:id/extensions/:eid/decision {decision: grant|deny, dueAt?, comment?}
 * (reviewer): each request is decided once. Granting sets the new due date (later than the current one
 * and than now); a case the daily job marked overdue while the request waited is unmarked, since the
 * unit asked in time.
 */
export async function decideExtension(p: CaseActor, id: string, eid: string, body: { decision?: unknown; dueAt?: unknown; comment?: unknown }): Promise<CaseView> {
  if (p.role !== 'reviewer' && p.role !== 'admin') throw forbidden('只有审核人员可以审批延期申请');
  const decision = body.decision;
  if (decision !== 'grant' && decision !== 'deny') throw badRequest('invalid_decision', '审批结论应为 grant（同意延期）或 deny（不同意）');
  const comment = text(body.comment, 'comment_required', '审批意见', COMMENT_MAX, decision === 'deny');
  const doc = await loadCase(id);
  const exts = doc.extensions ?? [];
  const i = exts.findIndex((e) => String(e._id) === eid);
  if (i < 0) throw notFound('extension_not_found', '延期申请不存在');
  if (exts[i]!.decision) throw conflict('extension_decided', '该延期申请已审批，每项申请只能审批一次');
  const now = clock.now();
  const effective = effectiveStatus({ status: doc.status as CaseStatus, dueAt: doc.dueAt ?? null }, now);
  if (effective === 'resolved') throw conflict('case_resolved', '案件已销号，无需延期');
  let dueAt: Date | null = null;
  const set: Record<string, unknown> = {};
  let to: CaseStatus = doc.status as CaseStatus;
  if (decision === 'grant') {
    dueAt = parseDueDate(body.dueAt);
    if (doc.dueAt && dueAt.getTime() <= doc.dueAt.getTime()) throw badRequest('invalid_due_date', '新的整改期限必须晚于原整改期限');
    if (dueAt.getTime() <= now.getTime()) throw badRequest('invalid_due_date', '新的整改期限必须晚于当前时间');
    set.dueAt = dueAt;
    to = rectificationState(doc) === 'pending' ? 'rectifying' : doc.status === 'overdue' ? 'open' : (doc.status as CaseStatus);
    set.status = to;
  }
  set.extensions = exts.map((e, j) => (j === i ? { ...e, decision: { at: now, by: p.username, decision, dueAt, comment } } : e));
  // The step's own entry: judged before the new due date (writeStep adds the overdue entry if due).
  const why = decision === 'grant' ? `同意延期，整改期限由 ${doc.dueAt ? doc.dueAt.toISOString() : '无'} 延至 ${dueAt!.toISOString()}` : '不同意延期';
  await writeStep(doc, now, set, {}, { by: p.username, to: decision === 'grant' ? to : effective, comment: comment ? `${why}：${comment}` : why, action: decision === 'grant' ? 'extension.grant' : 'extension.deny' });
  await audit(
    { username: p.username, role: p.role },
    { action: `case.extension.${decision}`, entity: 'case', entityId: String(doc._id), before: { dueAt: doc.dueAt ?? null, status: effective }, after: { dueAt: dueAt ?? doc.dueAt ?? null, status: to, extension: eid, comment } },
  );
  await notify({
    unit: doc.unit,
    kind: 'case',
    period: doc.period,
    title: decision === 'grant' ? `延期申请已同意（${doc.period} ${doc.rule}）` : `延期申请未获同意（${doc.period} ${doc.rule}）`,
    body: comment ? `${why}。${comment}` : why,
    createdBy: p.username,
  });
  return getCase(id);
}

export interface QueueItem extends CaseView {
  submittedAt: string;
  submittedBy: string;
  rectificationId: string;
  overdue: boolean;
}

/** Rectifications awaiting 核查, oldest submission first (reviewers' queue). */
export async function rectificationQueue(): Promise<QueueItem[]> {
  const now = clock.now();
  const docs = (await Case.find({ status: { $ne: 'resolved' }, 'rectifications.0': { $exists: true } }).batchSize(DOCS_PER_COMMAND).lean()) as unknown as CaseDocLean[];
  const out: QueueItem[] = [];
  for (const d of docs) {
    const last = d.rectifications?.at(-1);
    if (!last || last.decision) continue;
    const v = view(d, now);
    out.push({ ...v, submittedAt: last.at.toISOString(), submittedBy: last.by, rectificationId: String(last._id), overdue: v.status === 'overdue' });
  }
  out.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt) || a.unit.localeCompare(b.unit));
  return out;
}

/** Extension requests awaiting a decision, oldest first. */
export async function pendingExtensions(): Promise<(CaseView & { extensionId: string; requestedAt: string; requestedBy: string; extensionReason: string })[]> {
  const now = clock.now();
  const docs = (await Case.find({ status: { $ne: 'resolved' }, 'extensions.0': { $exists: true } }).batchSize(DOCS_PER_COMMAND).lean()) as unknown as CaseDocLean[];
  const out = [];
  for (const d of docs) {
    for (const e of d.extensions ?? []) {
      if (e.decision) continue;
      out.push({ ...view(d, now), extensionId: String(e._id), requestedAt: e.at.toISOString(), requestedBy: e.by, extensionReason: e.reason });
    }
  }
  out.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  return out;
}
