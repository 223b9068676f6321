// The demo province (SPEC §8, DEMO_DATA=1): loads a realistic province into an EMPTY database by
// calling the real services, replaying a year of history on the business clock:
//   units → accounts → returns (submitted, some late, rejected, corrected, approved) → reminders →
//   the score job publishing each quarter a week after its deadline → the accountability job
//   opening cases → reviewers moving cases along → finally the provisional scores of the open quarter.
// Nothing here writes results or cases by hand. Idempotent: it does nothing when any unit exists.
import { randomBytes } from 'node:crypto';
import { clock } from '../clock.ts';
import { defaultDeadline, quarterStart } from '../domain/periods.ts';
import { Case } from '../models/case.ts';
import { ReturnRevision } from '../models/return-revision.ts';
import { Unit } from '../models/unit.ts';
import { User } from '../models/user.ts';
import { log } from '../log.ts';
import { updateCaseStatus } from './accountability.ts';
import { audit, type Actor } from './audit.ts';
import { notify } from './notices.ts';
import { GRACE_DAYS, planDemo, prng, type DemoPlan } from './demo/generator.ts';
import { executeJob, type JobName } from './jobs.ts';
import { timeZone } from './periods.ts';
import { openForAssessment } from '../results/publication.ts';
import { createUser } from './users.ts';

export interface DemoAccount {
  username: string;
  password: string;
  role: 'admin' | 'reviewer' | 'office' | 'reporter';
  unit?: string;
  note: string;
}

export interface DemoResult {
  loaded: boolean;
  reason?: string;
  units?: number;
  submissions?: number;
  published?: string[];
  current?: string;
  cases?: number;
  accounts?: DemoAccount[];
  /** Human-readable lines for the start-up output (accounts and passwords). */
  lines?: string[];
  ms?: number;
}

export interface DemoOptions {
  /** The instant the demo is built for (default: clock.now()). */
  now?: Date;
  /** Passwords for the demo accounts (default: random, printed at start). */
  password?: (username: string) => string;
  /** Clock override to restore afterwards (default: the real clock). */
  restoreClock?: (() => Date) | null;
}

const DAY = 86_400_000;
const ADMIN: Actor = { username: 'admin', role: 'admin' };
const REVIEWER = { username: 'reviewer', role: 'reviewer' as const };

/** Demo reporters: a leading department, the laggard department, a city and a county. */
const DEMO_REPORTERS = [
  { unit: 'D001', note: '省发展和改革委员会' },
  { unit: 'D052', note: '排名靠后的省直部门（有问责案件）' },
  { unit: 'C0571', note: '设区市' },
  { unit: 'X057101', note: '县(市、区)' },
];

function randomPassword(): string {
  return `Demo-${randomBytes(6).toString('base64url')}`;
}

type EventBody =
  | { at: number; kind: 'submit'; s: DemoPlan['submissions'][number] }
  | { at: number; kind: 'review'; s: DemoPlan['submissions'][number] }
  | { at: number; kind: 'remind'; period: string }
  | { at: number; kind: 'publish'; period: string }
  | { at: number; kind: 'open'; period: string }
  | { at: number; kind: 'case'; id: string; status: 'rectifying' | 'resolved'; comment: string };
type Event = EventBody & { seq: number };

const RECTIFY_COMMENTS = [
  '已约谈分管负责同志，制定整改方案，明确时间表',
  '单位已提交整改方案，正在推进专网迁移和目录补录',
  '已组织专题会议部署整改，按周报送进度',
];
const RESOLVE_COMMENTS = [
  '整改到位：系统已接入电子政务外网，目录已补充发布',
  '经复核整改材料齐全，予以办结',
  '已按时补报并说明情况，予以办结',
];

/** Loads the demo province when the database has no units; otherwise does nothing. */
export async function loadDemoData(opts: DemoOptions = {}): Promise<DemoResult> {
  if (await Unit.exists({})) return { loaded: false, reason: '数据库中已有单位数据，未加载演示数据' };
  const started = Date.now();
  const now = opts.now ?? clock.now();
  const tz = timeZone();
  const plan = planDemo(now, tz);
  const rnd = prng(7);
  // DEMO_PASSWORD (≥ 8 characters): one known password for every demo account (test runs, trainings).
  const fixed = process.env.DEMO_PASSWORD && process.env.DEMO_PASSWORD.length >= 8 ? process.env.DEMO_PASSWORD : null;
  const password = opts.password ?? (() => fixed ?? randomPassword());
  let casesTouched = 0;

  try {
    // Units (before any account, so reporters can be bound to theirs). One bulk insert: the unit
    // service's per-unit upsert is for people, the demo has 179 units to create at once.
    clock.set(() => new Date(now.getTime() - 400 * DAY));
    await Unit.insertMany(
      plan.units.map((u) => ({ code: u.code, name: u.name, category: u.category, parent: u.parent, active: true })),
      { ordered: true },
    );
    await audit(ADMIN, { action: 'demo.units', entity: 'unit', entityId: '*', after: { count: plan.units.length } });

    // Accounts.
    const accounts: DemoAccount[] = [];
    const add = async (a: Omit<DemoAccount, 'password'>) => {
      if (await User.exists({ username: a.username })) return; // e.g. admin from ADMIN_PASSWORD
      const pw = password(a.username);
      await createUser({ username: a.username, password: pw, role: a.role, unit: a.unit, displayName: a.note });
      accounts.push({ ...a, password: pw });
    };
    await add({ username: 'admin', role: 'admin', note: '系统管理员' });
    await add({ username: 'reviewer', role: 'reviewer', note: '大数据局审核人员' });
    await add({ username: 'office', role: 'office', note: '领导小组办公室（只读）' });
    for (const r of DEMO_REPORTERS) {
      await add({ username: `rep_${r.unit.toLowerCase()}`, role: 'reporter', unit: r.unit, note: `填报员 · ${r.note}` });
    }

    const t1 = Date.now();
    // The timeline.
    let seq = 0;
    const events: Event[] = [];
    const push = (e: EventBody) => {
      if (e.at < now.getTime()) events.push({ ...e, seq: seq++ });
    };
    // The demo opens exactly the quarters it fills, each on the first day of its quarter (SPEC §2).
    for (const period of [...plan.published, plan.current]) {
      push({ kind: 'open', period, at: Math.max(quarterStart(period, tz).getTime(), now.getTime() - 400 * DAY) });
    }
    for (const s of plan.submissions) {
      push({ kind: 'submit', at: s.at.getTime(), s });
      if (s.review?.decision === 'reject') push({ kind: 'review', at: s.review.at.getTime(), s });
    }
    for (const period of plan.published) {
      const deadline = defaultDeadline(period, tz).getTime();
      for (const daysBefore of [3]) push({ kind: 'remind', period, at: deadline - daysBefore * DAY + 9 * 3_600_000 });
      push({ kind: 'publish', period, at: plan.publishAt[period]!.getTime() });
    }
    const order = (a: Event, b: Event) => a.at - b.at || a.seq - b.seq;
    events.sort(order);

    const run = async (job: JobName, period: string) => {
      const r = await executeJob(job, { trigger: 'scheduled', period, instance: 'demo', slot: clock.now() });
      if (r.outcome !== 'success') throw new Error(`demo: job ${job} ${period} failed: ${r.error}`);
      return r;
    };

    // Returns are stored in bulk between the moments that read them (reminders, publication): each
    // revision numbered 1, 2… per unit and period, committed, with its review (approval / rejection
    // with reason) — the same documents the returns service writes, without 846 round trips.
    const buffer: DemoPlan['submissions'] = [];
    const revisionNo = new Map<string, number>();
    const flush = async () => {
      if (!buffer.length) return;
      const docs = buffer.splice(0).map((s) => {
        const key = `${s.period}/${s.unit}`;
        const revision = (revisionNo.get(key) ?? 0) + 1;
        revisionNo.set(key, revision);
        return {
          unit: s.unit,
          period: s.period,
          revision,
          values: s.values,
          source: s.source === 'excel' ? 'api' : s.source,
          submittedBy: s.by,
          submittedAt: s.at,
          batch: null,
          committed: true,
          file: null,
          review: s.review ? { decision: s.review.decision, reason: s.review.reason ?? null, by: REVIEWER.username, at: s.review.at } : null,
        };
      });
      await ReturnRevision.insertMany(docs, { ordered: true });
      await audit(REVIEWER, { action: 'demo.returns', entity: 'return', entityId: '*', after: { count: docs.length } });
    };
    const spent: Record<string, number> = {};
    while (events.length) {
      const e = events.shift()!;
      const t0 = Date.now();
      if (e.kind !== 'submit') await flush();
      clock.set(() => new Date(e.at));
      switch (e.kind) {
        case 'submit':
          buffer.push(e.s);
          break;
        case 'review':
          // The rejection is stored with its revision (see flush); here the unit gets its notice.
          await notify({
            unit: e.s.unit,
            kind: 'return.rejected',
            period: e.s.period,
            title: `${e.s.period} 期填报数据被退回`,
            body: `退回原因：${e.s.review!.reason}。请修改后重新提交。`,
            createdBy: REVIEWER.username,
          });
          break;
        case 'open':
          await openForAssessment(ADMIN, e.period);
          break;
        case 'remind':
          await run('remind', e.period);
          break;
        case 'publish': {
          await run('score', e.period);
          await run('accountability', e.period);
          // Reviewers follow the new cases up over the next weeks; some are left to run overdue.
          const opened = await Case.find({ period: e.period }).sort({ unit: 1, rule: 1 }).lean();
          for (const c of opened) {
            const id = String(c._id);
            const r = rnd();
            const pick = (xs: string[]) => xs[Math.floor(rnd() * xs.length)]!;
            const due = c.dueAt ? c.dueAt.getTime() : e.at + 45 * DAY;
            if (r < 0.88) {
              const t1 = e.at + (2 + rnd() * 10) * DAY;
              const before = events.length;
              push({ kind: 'case', id, status: 'rectifying', comment: pick(RECTIFY_COMMENTS), at: t1 });
              if (r < 0.74) push({ kind: 'case', id, status: 'resolved', comment: pick(RESOLVE_COMMENTS), at: Math.min(due - DAY, t1 + (5 + rnd() * 12) * DAY) });
              if (events.length !== before) events.sort(order);
            }
          }
          break;
        }
        case 'case':
          await updateCaseStatus(REVIEWER, e.id, { status: e.status, comment: e.comment });
          casesTouched++;
          break;
      }
      spent[e.kind] = (spent[e.kind] ?? 0) + Date.now() - t0;
    }
    if (process.env.DEMO_PROFILE) console.log('demo phases (ms)', spent, 'units+users', t1 - started);

    await flush();
    // Today: provisional scores of the open quarter, overdue marking.
    clock.set(() => now);
    await run('score', plan.current);
    const acc = await executeJob('accountability', { trigger: 'scheduled', instance: 'demo', slot: now });
    if (acc.outcome !== 'success') throw new Error(`demo: accountability job failed: ${acc.error}`);

    const cases = await Case.countDocuments({});
    const lines = [
      `演示数据已加载：${plan.units.length} 个单位，${plan.submissions.length} 份报表，已发布 ${plan.published.join('、')}，当前填报期 ${plan.current}，问责案件 ${cases} 件。`,
      '演示账号（密码只显示这一次）：',
      ...accounts.map((a) => `  ${a.username.padEnd(14)} ${a.password.padEnd(16)} ${a.note}`),
    ];
    log.debug({ casesTouched }, 'demo case updates');
    return {
      loaded: true,
      units: plan.units.length,
      submissions: plan.submissions.length,
      published: plan.published,
      current: plan.current,
      cases,
      accounts,
      lines,
      ms: Date.now() - started,
    };
  } finally {
    clock.set(opts.restoreClock ?? null);
  }
}

export { GRACE_DAYS };
