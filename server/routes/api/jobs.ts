import { Router } from 'express';
import { forbidden } from '../../domain/errors.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { getRun, JOB_LABELS, JOB_NAMES, listRuns, runJobNow } from '../../services/jobs.ts';

// /api/v1/jobs (SPEC §5, §7): admins run any job now; every run is recorded.
export const router = Router();

/** POST /jobs/:name/run {period?} (admin: any job; reviewer: score) → the run record (outcome, counts, error). */
router.post('/jobs/:name/run', requireRole('admin', 'reviewer'), async (req, res) => {
  const p = principalOf(req);
  const name = String(req.params.name);
  if (p.role === 'reviewer' && name !== 'score') throw forbidden('审核人员只能运行评分任务');
  const b = (req.body ?? {}) as Record<string, unknown>;
  res.json(await runJobNow(name, b, p.username));
});

/** GET /jobs → [{name, label}]; GET /jobs/runs?job=&limit= → recent run records. */
router.get('/jobs', requireRole('admin'), (_req, res) => {
  res.json(JOB_NAMES.map((name) => ({ name, label: JOB_LABELS[name] })));
});

router.get('/jobs/runs', requireRole('admin'), async (req, res) => {
  const q = req.query as Record<string, unknown>;
  const limit = Number(q.limit ?? 50);
  res.json(await listRuns({ job: q.job ? String(q.job) : undefined, limit: Number.isFinite(limit) && limit > 0 ? limit : 50 }));
});

router.get('/jobs/runs/:id', requireRole('admin'), async (req, res) => {
  res.json(await getRun(String(req.params.id)));
});
