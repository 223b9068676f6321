import { Router } from 'express';
import { AppError } from '../../domain/errors.ts';
import { describeCounts, describeSchedule, nextRunAt, zoneLabel } from '../../domain/jobs-text.ts';
import { actorLabel, PERIOD_PHASE_LABELS, periodPhase } from '../../domain/vocabulary.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { withFlash } from '../../http/flash.ts';
import { DEFAULT_SCHEDULES } from '../../../jobs/scheduler.ts';
import { INTERRUPTED_ERROR, JOB_LABELS, JOB_NAMES, listRuns, runJobNow } from '../../services/jobs.ts';
import { currentReportingPeriod, listPeriods, timeZone } from '../../services/periods.ts';
import { publishPeriod as publish, reopenPeriod as reopen } from '../../results/publication.ts';
import { listResultSets } from '../../results/store.ts';
import { clock } from '../../clock.ts';

// Admin page: scheduled jobs, their recorded runs, "run now"; result sets with publish / reopen. In words
// (issue 17): schedules and next runs in 北京时间, counts named, instance ids and job keys only under 技术信息.
export const router = Router();

/** What each job does, for the page. */
const JOB_PURPOSE: Record<string, string> = {
  score: '重新计算未发布期次的暂定结果；截止时间过后 7 天自动发布最终结果。',
  accountability: '对已发布期次按问责规则立案，并标记超过整改期限的问责事项。',
  remind: '报送期内，向尚未报送的单位发送站内提醒。',
  backup: '把数据库完整复制一份到备份目录并校验，保留最近若干份。',
};
/** Error text for the page: a Chinese message as it is; anything else under 技术信息. */
const hasChinese = (s: string) => /[\u4e00-\u9fa5]/.test(s);

const TRIGGER_LABELS: Record<string, string> = { scheduled: '定时', catchup: '补跑', manual: '手动' };
const OUTCOME: Record<string, { label: string; tag: string }> = {
  running: { label: '运行中', tag: 'warn' },
  success: { label: '成功', tag: 'ok' },
  failed: { label: '失败', tag: 'bad' },
  interrupted: { label: '中断', tag: 'bad' },
};
/** A failed run closed because its process died or lost contact shows as 中断. */
const outcomeOf = (r: { outcome: string; error: string | null }) =>
  OUTCOME[r.outcome === 'failed' && r.error?.startsWith(INTERRUPTED_ERROR.slice(0, 4)) ? 'interrupted' : r.outcome];

router.get('/jobs', requireRole('admin'), async (_req, res) => {
  const now = clock.now();
  const tz = timeZone();
  const [runs, sets, periods] = await Promise.all([listRuns({ limit: 100 }), listResultSets(now), listPeriods()]);
  const last = new Map<string, (typeof runs)[number]>();
  for (const r of runs) if (!last.has(r.job)) last.set(r.job, r);
  const phaseOf = new Map(periods.map((p) => [p.period, periodPhase(p, now)]));
  res.render('pages/jobs/index', {
    title: '定时任务',
    styles: ['/public/css/pages.css'],
    zone: zoneLabel(tz),
    defaultPeriod: currentReportingPeriod(now),
    periods: periods.map((p) => ({ period: p.period, phaseLabel: PERIOD_PHASE_LABELS[phaseOf.get(p.period)!] })),
    jobs: JOB_NAMES.map((name) => {
      const l = last.get(name);
      const cron = DEFAULT_SCHEDULES[name];
      return {
        name,
        label: JOB_LABELS[name],
        purpose: JOB_PURPOSE[name] ?? '',
        cron,
        schedule: describeSchedule(cron, tz),
        nextRun: nextRunAt(cron, now, tz),
        last: l ? { ...l, outcomeLabel: outcomeOf(l)?.label ?? l.outcome, outcomeTag: outcomeOf(l)?.tag ?? 'muted' } : null,
      };
    }),
    runs: runs.map((r) => {
      const counts = describeCounts(r.job, r.counts);
      return {
        ...r,
        jobLabel: JOB_LABELS[r.job as keyof typeof JOB_LABELS] ?? r.job,
        triggerLabel: TRIGGER_LABELS[r.trigger] ?? r.trigger,
        outcomeLabel: outcomeOf(r)?.label ?? r.outcome,
        outcomeTag: outcomeOf(r)?.tag ?? 'muted',
        countsText: counts.text,
        otherCounts: counts.other.join('，'),
        byLabel: r.trigger === 'manual' ? actorLabel(r.by) : '系统自动',
        errorText: r.error ? (hasChinese(r.error) ? r.error : '运行出错，详见技术信息') : null,
        rawError: r.error && !hasChinese(r.error) ? r.error : null,
      };
    }),
    sets: sets.map((s) => {
      const phase = phaseOf.get(s.period) ?? (s.final ? 'published' : null);
      return { ...s, phaseLabel: phase ? PERIOD_PHASE_LABELS[phase] : '', phase, publishedByLabel: actorLabel(s.publishedBy), reopens: s.reopens.map((r) => ({ ...r, byLabel: actorLabel(r.by) })) };
    }),
  });
});

router.post('/jobs/:name/run', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  await withFlash(req, async () => {
    const run = await runJobNow(String(req.params.name), { period: b.period }, principalOf(req).username);
    if (run.outcome === 'failed') throw new AppError(422, 'job_failed', `任务「${JOB_LABELS[run.job as keyof typeof JOB_LABELS]}」运行失败：${run.error}`);
    return `任务「${JOB_LABELS[run.job as keyof typeof JOB_LABELS]}」已运行完成`;
  });
  res.redirect(303, '/jobs');
});

router.post('/jobs/results/:period/publish', requireRole('admin', 'reviewer'), async (req, res) => {
  const p = principalOf(req);
  await withFlash(req, async () => {
    await publish({ username: p.username, role: p.role }, String(req.params.period));
    return `${req.params.period} 期结果已发布`;
  });
  res.redirect(303, '/jobs');
});

router.post('/jobs/results/:period/reopen', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const b = (req.body ?? {}) as Record<string, unknown>;
  await withFlash(req, async () => {
    await reopen({ username: p.username, role: p.role }, String(req.params.period), b.reason);
    return `${req.params.period} 期结果已重新开放（已记录原因）`;
  });
  res.redirect(303, '/jobs');
});
