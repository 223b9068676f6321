// A manual run whose process is SIGKILLed half-way must not stay `running` forever: a real child runs the
// score job through runJobNow on its own data directory and is killed mid-run; a restarted instance
// (another process) finds the run's owner gone and closes it as failed with 运行中断（进程退出）, then a
// new run succeeds. In-process: the admin jobs page and the API show such a run as interrupted.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import { JobRun } from '../../server/models/job-run.ts';
import { INTERRUPTED_ERROR } from '../../server/services/jobs.ts';
import { runChild, spawnChild, tempRoot } from '../faults/harness.ts';
import { startTestApp, TEST_PASSWORD } from '../helpers/app.ts';

describe('jobs: runs interrupted by a killed process reach an outcome', function () {
  this.timeout(60_000);
  let root: string;
  let deadPid = 0;
  before(() => {
    root = tempRoot('dsa-jobs-kill-');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a manual run killed with SIGKILL is closed as interrupted by the restarted instance; a new run succeeds', async () => {
    const dir = `${root}/data`;
    await runChild('seed', dir, 'DONE', '120');
    const c = spawnChild('manual-hang', dir);
    const runId: string = await c.line('RUNNING');
    deadPid = c.proc.pid!;
    await c.kill();
    expect(c.proc.signalCode).to.equal('SIGKILL');

    const after = spawnChild('manual-after', dir);
    try {
      const runs: any[] = await after.line('RUNS');
      const killed = runs.find((r) => r.id === runId);
      expect(killed, 'the killed run is listed').to.exist;
      expect(killed).to.include({ job: 'score', trigger: 'manual', outcome: 'failed', error: INTERRUPTED_ERROR });
      expect(killed.finishedAt).to.be.a('string');
      expect(runs.filter((r) => r.outcome === 'running')).to.deep.equal([]);
      const fresh = await after.line('NEW');
      expect(fresh).to.include({ job: 'score', trigger: 'manual', outcome: 'success', error: null });
      expect(fresh.id).to.not.equal(runId);
      expect(await after.exited).to.equal(0);
    } finally {
      await after.kill();
    }
  });

  it('the admin jobs page and the API show a dead process\'s run as 中断 with the reason; live runs are left alone', async () => {
    expect(deadPid, 'the previous test killed a child').to.be.greaterThan(0);
    const t = await startTestApp();
    try {
      const admin = await t.userFor('admin', undefined, { username: 'jobadmin', password: TEST_PASSWORD });
      const base = { job: 'remind', trigger: 'manual', instance: 'api-x', host: os.hostname(), startedAt: new Date(), outcome: 'running', by: 'jobadmin' } as const;
      const dead = await JobRun.create({ ...base, pid: deadPid, heartbeatAt: new Date() });
      // Another host whose heartbeat is fresh: cannot be judged dead yet.
      const remote = await JobRun.create({ ...base, job: 'accountability', host: 'other-host', pid: 1, heartbeatAt: new Date() });
      // Another host whose heartbeat stopped long ago: gone.
      const stale = await JobRun.create({ ...base, job: 'score', host: 'other-host', pid: 1, heartbeatAt: new Date(Date.now() - 3600_000) });

      const web = t.web();
      await web.login('jobadmin', TEST_PASSWORD);
      const page = await web.get('/jobs');
      expect(page.status).to.equal(200);
      expect(page.body).to.include(INTERRUPTED_ERROR);
      expect(page.body).to.include('中断');

      const api = t.api(admin.token);
      const one = await api.get(`/api/v1/jobs/runs/${dead._id}`);
      expect(one.status).to.equal(200);
      expect(one.body).to.include({ id: String(dead._id), outcome: 'failed', error: INTERRUPTED_ERROR });
      expect(one.body.finishedAt).to.be.a('string');
      const list = await api.get('/api/v1/jobs/runs');
      expect(list.status).to.equal(200);
      const byId = (id: unknown) => (list.body as any[]).find((r) => r.id === String(id));
      expect(byId(stale._id)).to.include({ outcome: 'failed', error: INTERRUPTED_ERROR });
      expect(byId(remote._id)).to.include({ outcome: 'running', error: null });
      // Reading closed nothing: the records are closed by the next run (below) or start-up.
      expect((await JobRun.findById(dead._id).lean())!.outcome).to.equal('running');
      expect((await JobRun.findById(stale._id).lean())!.outcome).to.equal('running');

      const run = await api.post('/api/v1/jobs/remind/run', {});
      expect(run.status).to.equal(200);
      expect(run.body).to.include({ job: 'remind', outcome: 'success' });
      expect(await JobRun.findById(dead._id).lean()).to.include({ outcome: 'failed', error: INTERRUPTED_ERROR });
      // The fresh remote run is still only judged by its heartbeat.
      expect(await JobRun.findById(remote._id).lean()).to.include({ outcome: 'running' });
    } finally {
      await t.stop();
    }
  });
});
