// Faults (issue 6 part 3): SIGKILL of real processes on a real DATA_DIR during a scoring run, a
// publication and a job-lease hand-over; restart; the data is consistent and the next run gives the
// same results as a run that was never interrupted (a reference run on a copy of the same data).
//
// Not repeated here: the engine's own crash test (test/engine/crash.test.ts: acknowledged writes
// survive SIGKILL) and the intake's kill-during-commit test (test/intake/kill-during-commit.test.ts:
// uploads whole-or-absent across restarts). The two-instance upload case (one instance killed
// mid-commit while another keeps uploading the same units) is in upload-instances.test.ts.
//
// FAULT_ROUNDS=n: kills per scenario (default 1, to keep CI quick; e.g. FAULT_ROUNDS=5 FAULT_UNITS=1000 for a
// longer run); FAULT_UNITS: the data size (default 100).
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { copyDir, randomBetween, runChild, sleep, spawnChild, tempRoot } from './harness.ts';

const ROUNDS = Number(process.env.FAULT_ROUNDS ?? 1);
const UNITS = process.env.FAULT_UNITS ?? '100';
const SCORE_AT = '2027-01-18T02:00:00Z'; // after the 2026Q4 deadline, before its 7-day grace: provisional
const PUBLISH_AT = '2027-01-25T02:00:00Z';
const A_AT = '2027-01-18T18:00:30Z'; // 2027-01-19 02:00:30 in Shanghai: the nightly score slot is due
const B_AT = '2027-01-18T18:00:45Z'; // 15 s later: A's 3-second lease has expired

type Snap = {
  results: { status: string; results: unknown[] } | null;
  consistency: { period: string; status: string; rowCount: number; rows: number; strays: number }[];
  cases: unknown[];
  caseNotices: number;
  caseNoticeKeys: number;
  periodPublishedAt: string | null;
  publishAudits: number;
  runs: { job: string; trigger: string; slot: string | null; instance: string; outcome: string; error: string | null }[];
  leases: { job: string; holder: string; slot: string | null; done: boolean }[];
};

/** Every visible result set is whole: as many rows under its computeId as it says, and readers see them all. */
function assertConsistent(s: Snap, label: string) {
  for (const c of s.consistency) expect(c.rows, `${label}: ${c.period} set has ${c.rows} of ${c.rowCount} rows`).to.equal(c.rowCount);
  const q4 = s.consistency.find((c) => c.period === '2026Q4');
  if (s.results && q4) expect(s.results.results, label).to.have.length(q4.rowCount);
}

/** What must be identical after recovery + the next run: everything observable except leftovers of killed runs. */
const observable = (s: Snap) => ({
  results: s.results,
  consistency: s.consistency.map(({ strays: _s, ...c }) => c),
  cases: s.cases,
  caseNotices: s.caseNotices,
  periodPublishedAt: s.periodPublishedAt,
  publishAudits: s.publishAudits,
});

describe('faults: SIGKILL during scoring, publication and a job-lease hand-over', function () {
  this.timeout(300_000);
  let root: string;
  let seed: string;

  before(async () => {
    root = tempRoot('dsa-faults-');
    seed = path.join(root, 'seed');
    await runChild('seed', seed, 'DONE', UNITS);
  });
  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('scoring: killed mid-run, the visible results are whole at every restart and the next run equals an uninterrupted one', async () => {
    const ref: Snap = await runChild('score-once', copyDir(seed, path.join(root, 'score-ref')), 'SNAP', undefined, { FAULT_NOW: SCORE_AT });
    assertConsistent(ref, 'reference');
    expect(ref.results?.results.length).to.equal(Number(UNITS));

    const dir = copyDir(seed, path.join(root, 'score'));
    let ticks = 0;
    const check = (s: Snap, label: string) => {
      assertConsistent(s, label);
      if (s.results) expect(s.results.results, `${label}: whatever is visible is a whole, correct computation`).to.deep.equal(ref.results!.results);
    };
    for (let round = 0; round < ROUNDS; round++) {
      const c = spawnChild('score-loop', dir, undefined, { FAULT_NOW: SCORE_AT });
      // The state found by this restart (after the previous kill).
      if (round > 0) check(await c.line('MID'), `restart after kill ${round - 1}`);
      await c.line('START');
      // The first round is killed during the very first computation; later ones at a random moment.
      await sleep(round === 0 ? randomBetween(50, 400) : randomBetween(100, 2500));
      await c.kill();
      ticks += (await Promise.race([c.line('TICK', 1).then(() => 1), sleep(5).then(() => 0)]).catch(() => 0)) as number;
    }
    const nextRun = spawnChild('score-once', dir, undefined, { FAULT_NOW: SCORE_AT });
    check(await nextRun.line('MID'), `restart after kill ${ROUNDS - 1}`);
    const next: Snap = await nextRun.line('SNAP');
    expect(await nextRun.exited).to.equal(0);
    assertConsistent(next, 'next run');
    expect(observable(next)).to.deep.equal(observable(ref));
    console.log(`      ${ROUNDS} kill(s) (${ticks ? 'some after a finished run' : 'all mid-run'}); strays left by killed runs: ${next.consistency.map((c) => `${c.period}:${c.strays}`).join(' ')}`);
  });

  it('publication: killed at a random point, the next run (publish if needed + accountability job) equals an uninterrupted publication', async () => {
    const ref: Snap = await runChild('finish', copyDir(seed, path.join(root, 'pub-ref')), 'SNAP', undefined, { FAULT_NOW: PUBLISH_AT });
    assertConsistent(ref, 'reference');
    expect(ref.results?.status).to.equal('final');
    expect(ref.cases.length).to.be.greaterThan(0);
    expect(ref.publishAudits).to.equal(1);
    expect(ref.caseNotices).to.equal(ref.caseNoticeKeys);

    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dir = copyDir(seed, path.join(root, `pub-${round}`));
      const c = spawnChild('publish', dir, undefined, { FAULT_NOW: PUBLISH_AT });
      await c.line('START');
      await sleep(randomBetween(20, 2000));
      await c.kill();
      const finish = spawnChild('finish', dir, undefined, { FAULT_NOW: PUBLISH_AT });
      const mid: Snap = await finish.line('MID');
      assertConsistent(mid, `after kill ${round}`);
      outcomes.push(`${mid.results?.status ?? 'none'}/${mid.cases.length} cases`);
      // A final set is never half-published: if it is final, its rows are the reference's.
      if (mid.results?.status === 'final') expect(mid.results.results).to.deep.equal(ref.results!.results);
      const next: Snap = await finish.line('SNAP');
      expect(await finish.exited).to.equal(0);
      assertConsistent(next, `next run ${round}`);
      const got = observable(next);
      const want = observable(ref);
      for (const k of Object.keys(want) as (keyof typeof want)[]) {
        expect(got[k], `round ${round} (killed at: ${outcomes[round]}): ${k}`).to.deep.equal(want[k]);
      }
      expect(next.caseNotices, 'one notice per case, none twice').to.equal(next.caseNoticeKeys);
    }
    console.log(`      state at the kills: ${outcomes.join(', ')}`);
  });

  it('job-lease hand-over: the lease holder is killed mid-run; another instance takes the slot over once the lease expires; results equal an uninterrupted run', async () => {
    // Reference: one instance ticks at B's time on an untouched copy.
    const refDir = copyDir(seed, path.join(root, 'lease-ref'));
    const refTick = spawnChild('tick', refDir, 'R', { FAULT_NOW: B_AT });
    const refRuns = await refTick.line('RUNS');
    expect(refRuns.map((r: { job: string }) => r.job)).to.include('score');
    const ref: Snap = await refTick.line('SNAP');
    await refTick.kill();

    // One engine process; instances A and B connect to it like app instances sharing a MongoDB.
    const dir = copyDir(seed, path.join(root, 'lease'));
    const engine = spawnChild('engine', dir);
    const uri: string = await engine.line('URI');
    const client = await MongoClient.connect(uri);
    try {
      const leases = client.db('assessment').collection<{ _id: string; holder: string; done: boolean }>('job_leases');
      const a = spawnChild('tick', dir, 'A', { MONGODB_URI: uri, FAULT_NOW: A_AT, LEASE_MS: '3000' });
      // Wait until A holds the score lease, then kill it a moment later (mid-run).
      for (let i = 0; ; i++) {
        const l = await leases.findOne({ _id: 'score' });
        if (l?.holder === 'A') break;
        if (a.proc.exitCode !== null || i > 600) throw new Error(`A never took the lease: ${a.stderr().slice(-2000)}`);
        await sleep(50);
      }
      await sleep(randomBetween(0, 300));
      await a.kill();
      const atKill = await leases.find({}).toArray();
      // A finished the score slot if it released the lease — or recorded its success just before the kill
      // (then B takes the expired lease over but must not run the slot again).
      const aRecordedScore = (await client.db('assessment').collection('job_runs').countDocuments({ job: 'score', instance: 'A', outcome: 'success' })) > 0;
      const aFinishedScore = atKill.some((l) => l._id === 'score' && l.done) || aRecordedScore;

      const b = spawnChild('tick', dir, 'B', { MONGODB_URI: uri, FAULT_NOW: B_AT, LEASE_MS: '3000' });
      const bRuns = await b.line('RUNS');
      if (!aFinishedScore) expect(bRuns.map((r: { job: string }) => r.job), 'B took the score slot over').to.include('score');
      for (const r of bRuns) expect(r.outcome, JSON.stringify(r)).to.equal('success');

      const s: Snap = await b.line('SNAP');
      await b.kill();
      assertConsistent(s, 'after hand-over');
      // Every job's slot ran to success exactly once; A's interrupted run is recorded as failed, not left running.
      for (const job of ['score', 'accountability', 'remind']) {
        const runs = s.runs.filter((r) => r.job === job);
        expect(runs.filter((r) => r.outcome === 'success'), `${job}: ${JSON.stringify(runs)}`).to.have.length(1);
        expect(runs.filter((r) => r.outcome === 'running'), `${job}: ${JSON.stringify(runs)}`).to.deep.equal([]);
      }
      if (!aFinishedScore) {
        // A killed between taking the lease and recording its run leaves no record of it; a run it did
        // record is closed as failed by B, never left running.
        const aRuns = s.runs.filter((r) => r.job === 'score' && r.instance === 'A');
        expect(aRuns.length, JSON.stringify(s.runs)).to.be.at.most(1);
        for (const r of aRuns) expect(r.outcome, JSON.stringify(s.runs)).to.equal('failed');
      }
      for (const l of s.leases) expect(l.done, JSON.stringify(l)).to.equal(true);
      expect(observable(s)).to.deep.equal(observable(ref));

      console.log(`      A killed ${aFinishedScore ? 'after' : 'during'} its score run; B ran: ${bRuns.map((r: { job: string }) => r.job).join(', ')}`);
    } finally {
      await client.close();
      await engine.kill();
    }
  });
});
