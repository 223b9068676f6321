// The job scheduler on a fake clock: the right minute in Asia/Shanghai, catch-up after downtime, one
// runner among two instances sharing the database, lease takeover after the holder dies, and the
// nightly score job giving exactly what POST /api/v1/jobs/score/run gives. Also a real node-cron
// run (every second) with two instances.
import { expect } from 'chai';
import { Scheduler } from '../../jobs/index.ts';
import { leaseKey } from '../../jobs/lease.ts';
import { clock } from '../../server/clock.ts';
import { JobRun } from '../../server/models/job-run.ts';
import { ResultRow } from '../../server/models/result.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, PERFECT, putUnit, submit, uniform } from '../results/fixtures.ts';
import mongoose from 'mongoose';

const TZ = 'Asia/Shanghai';
const slots = (runs: { job: string; slot: string | null; trigger: string }[]) => runs.map((r) => `${r.job}@${r.slot}/${r.trigger}`).sort();

describe('jobs: scheduler, lease coordinator and run records', function () {
  let t: TestApp;
  let admin: string;
  const schedulers: Scheduler[] = [];
  const make = (instanceId: string, extra: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}) => {
    const s = new Scheduler({ timezone: TZ, instanceId, leaseMs: 60_000, ...extra });
    schedulers.push(s);
    return s;
  };

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    const a = t.api(admin);
    for (const c of ['D1', 'D2', 'D3']) await putUnit(a, c, 'department');
    at('2026-07-05T02:00:00Z');
    await submit(a, '2026Q2', 'D1', PERFECT);
    await submit(a, '2026Q2', 'D2', uniform(4, 5));
  });
  afterEach(async () => {
    while (schedulers.length) await schedulers.pop()!.stop();
  });
  after(() => t.stop());

  it('fires the nightly job at 02:00 Asia/Shanghai, not at 02:00 UTC, and catches up the missed slot at start', async () => {
    at('2026-06-30T17:59:00Z'); // 01:59 on 1 July in Shanghai; nothing has ever run
    const s = make('A');
    const first = await s.tick();
    // Catch-up: the latest slot of each job (30 June, Shanghai time), once.
    expect(slots(first)).to.deep.equal([
      'accountability@2026-06-29T18:30:00.000Z/catchup',
      'backup@2026-06-29T19:00:00.000Z/catchup',
      'remind@2026-06-30T01:00:00.000Z/catchup',
      'score@2026-06-29T18:00:00.000Z/catchup',
    ]);
    expect(first.every((r) => r.outcome === 'success')).to.equal(true);
    expect(await s.tick()).to.deep.equal([]);
    at('2026-06-30T17:59:59Z');
    expect(await s.tick()).to.deep.equal([]);
    at('2026-06-30T18:00:00Z'); // 02:00 in Shanghai
    const due = await s.tick();
    expect(slots(due)).to.deep.equal(['score@2026-06-30T18:00:00.000Z/scheduled']);
    at('2026-06-30T18:00:40Z');
    expect(await s.tick()).to.deep.equal([]);
    // The slot matcher agrees: 02:00 UTC is not a slot.
    expect(s.latestSlot('score', new Date('2026-07-01T02:00:00Z'))!.toISOString()).to.equal('2026-06-30T18:00:00.000Z');
  });

  it('after downtime, a restarted app runs each job once for its latest missed slot only', async () => {
    at('2026-07-03T05:00:00Z'); // down for two days and a half
    const s = make('B');
    const runs = await s.tick();
    expect(slots(runs)).to.deep.equal([
      'accountability@2026-07-02T18:30:00.000Z/catchup',
      'backup@2026-07-02T19:00:00.000Z/catchup',
      'remind@2026-07-03T01:00:00.000Z/catchup',
      'score@2026-07-02T18:00:00.000Z/catchup',
    ]);
    const recorded = await JobRun.find({ slot: { $gte: new Date('2026-07-01T00:00:00Z') } }).lean();
    expect(recorded.every((r) => r.outcome === 'success' && r.finishedAt && r.startedAt)).to.equal(true);
  });

  it('two instances sharing the database: each slot runs on one of them only', async () => {
    at('2026-07-04T18:30:05Z'); // 02:30 on 5 July in Shanghai
    const a = make('A2');
    const b = make('B2');
    const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
    const all = [...ra, ...rb];
    expect(slots(all)).to.deep.equal([
      'accountability@2026-07-04T18:30:00.000Z/scheduled',
      'backup@2026-07-03T19:00:00.000Z/catchup',
      'remind@2026-07-04T01:00:00.000Z/catchup',
      'score@2026-07-04T18:00:00.000Z/catchup',
    ]);
    const recorded = await JobRun.countDocuments({ slot: new Date('2026-07-04T18:30:00Z') });
    expect(recorded).to.equal(1);
  });

  it('a holder that dies loses the lease once it expires; the next runner takes the slot over', async () => {
    at('2026-07-05T18:00:00Z'); // score slot of 6 July 02:00
    const slot = new Date('2026-07-05T18:00:00Z');
    const dead = make('dead');
    const alive = make('alive');
    expect(await dead.coordinator.shouldRun(leaseKey('score', slot), alive.leaseMs)).to.equal(true);
    // It starts a run, writes half of a computation, then dies (no renewals, no completion).
    await JobRun.create({ job: 'score', trigger: 'scheduled', slot, instance: 'dead', startedAt: clock.now(), outcome: 'running' });
    await ResultRow.create({
      period: '2026Q2', computeId: new mongoose.Types.ObjectId(), unit: 'D1', name: 'x', category: 'department', indicators: {}, order: 0, total: 1,
    });
    dead.coordinator.abandon();
    expect(await alive.fire('score', slot, 'scheduled')).to.equal(null); // lease still valid
    at('2026-07-05T18:01:01Z'); // lease (60 s) expired
    const run = await alive.fire('score', slot, 'scheduled');
    expect(run).to.include({ outcome: 'success', instance: 'alive', slot: slot.toISOString() });
    const stale = await JobRun.findOne({ instance: 'dead' }).lean();
    expect(stale).to.include({ outcome: 'failed' });
    // The same slot never runs a third time.
    expect(await dead.fire('score', slot, 'scheduled')).to.equal(null);
  });

  it('the nightly score job and POST /api/v1/jobs/score/run give identical results; a killed half-run is invisible', async () => {
    at('2026-07-16T10:00:00Z'); // after the 2026Q2 deadline: D3 is missing
    const manual = await t.api(admin).post('/api/v1/jobs/score/run', {});
    expect(manual.status, manual.text).to.equal(200);
    expect(manual.body).to.include({ job: 'score', trigger: 'manual', outcome: 'success' });
    const viaApi = (await t.api(admin).get('/api/v1/results/2026Q2')).body;
    expect(viaApi.results.find((r: { unit: string }) => r.unit === 'D3').flags).to.deep.equal(['missing']);

    // Stray rows of a computation killed before its pointer flip.
    await ResultRow.create({
      period: '2026Q2', computeId: new mongoose.Types.ObjectId(), unit: 'D2', name: 'x', category: 'department', indicators: {}, order: 0, total: 99,
    });
    at('2026-07-16T18:00:00Z'); // 02:00 on 17 July in Shanghai
    const s = make('nightly');
    const runs = await s.tick();
    expect(runs.find((r) => r.job === 'score')).to.include({ trigger: 'scheduled', outcome: 'success' });
    const viaCron = (await t.api(admin).get('/api/v1/results/2026Q2')).body;
    expect(viaCron.results).to.deep.equal(viaApi.results);
    expect(viaCron.status).to.equal(viaApi.status);
    expect(viaCron.schemeVersion).to.equal(viaApi.schemeVersion);
  });

  it('admins run jobs now; others may not; unknown jobs and bad periods are clear errors', async () => {
    const office = await t.tokenFor('office');
    expect((await t.api(office).post('/api/v1/jobs/score/run', {})).status).to.equal(403);
    expect((await t.api().post('/api/v1/jobs/score/run', {})).status).to.equal(401);
    const unknown = await t.api(admin).post('/api/v1/jobs/nope/run', {});
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error.code).to.equal('job_not_found');
    const bad = await t.api(admin).post('/api/v1/jobs/score/run', { period: '2026-3' });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('invalid_period');
    const remind = await t.api(admin).post('/api/v1/jobs/remind/run', {});
    expect(remind.body).to.include({ job: 'remind', outcome: 'success' });
    const runs = await t.api(admin).get('/api/v1/jobs/runs?limit=5');
    expect(runs.status).to.equal(200);
    expect(runs.body[0]).to.include({ job: 'remind', trigger: 'manual' });
  });

  it('with real node-cron timers, two started instances run each per-second slot once', async function () {
    this.timeout(15000);
    clock.set(null);
    const every = { score: '* * * * * *', accountability: '0 0 1 1 *', remind: '0 0 1 1 *' };
    const a = make('cronA', { schedules: every, leaseMs: 30_000 });
    const b = make('cronB', { schedules: every, leaseMs: 30_000 });
    const since = new Date();
    await Promise.all([a.start(), b.start()]);
    await new Promise((r) => setTimeout(r, 2600));
    await a.stop();
    await b.stop();
    await new Promise((r) => setTimeout(r, 300));
    const runs = await JobRun.find({ job: 'score', startedAt: { $gte: since } }).lean();
    const scheduled = runs.filter((r) => r.trigger === 'scheduled');
    expect(scheduled.length).to.be.greaterThan(0);
    const perSlot = new Map<string, number>();
    for (const r of runs) perSlot.set(String(r.slot?.toISOString()), (perSlot.get(String(r.slot?.toISOString())) ?? 0) + 1);
    expect([...perSlot.values()].every((n) => n === 1)).to.equal(true);
  });
});
