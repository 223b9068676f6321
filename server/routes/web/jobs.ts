import { Router } from 'express';
import { AppError } from '../../domain/errors.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { withFlash } from '../../http/flash.ts';
import { DEFAULT_SCHEDULES } from '../../../jobs/scheduler.ts';
import { INTERRUPTED_ERROR, JOB_LABELS, JOB_NAMES, listRuns, runJobNow } from '../../services/jobs.ts';
import { currentReportingPeriod } from '../../services/periods.ts';
import { publishPeriod as publish, reopenPeriod as reopen } from '../../results/publication.ts';
import { listResultSets } from '../../results/store.ts';
import { clock } from '../../clock.ts';

// Admin page: scheduled jobs, their recorded runs, "run now"; result sets with publish / reopen.
export const router = Router();

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
  const [runs, sets] = await Promise.all([listRuns({ limit: 100 }), listResultSets(clock.now())]);
  const last = new Map<string, (typeof runs)[number]>();
  for (const r of runs) if (!last.has(r.job)) last.set(r.job, r);
  res.render('pages/jobs/index', {
    title: '定时任务',
    defaultPeriod: currentReportingPeriod(clock.now()),
    jobs: JOB_NAMES.map((name) => {
      const l = last.get(name);
      return { name, label: JOB_LABELS[name], schedule: DEFAULT_SCHEDULES[name], last: l ? { ...l, outcomeLabel: outcomeOf(l)?.label ?? l.outcome } : null };
    }),
    runs: runs.map((r) => ({
      ...r,
      jobLabel: JOB_LABELS[r.job as keyof typeof JOB_LABELS] ?? r.job,
      triggerLabel: TRIGGER_LABELS[r.trigger] ?? r.trigger,
      outcomeLabel: outcomeOf(r)?.label ?? r.outcome,
      outcomeTag: outcomeOf(r)?.tag ?? 'muted',
      countsText: Object.entries(r.counts)
        .map(([k, v]) => `${k}=${v}`)
        .join('，'),
    })),
    sets,
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
