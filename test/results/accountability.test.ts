// Accountability through the real API: A1 / A2 / A3 cases opened once on publication, case status
// changes with comments and history, overdue marking by the daily job on a fake clock, annual
// results and merit eligibility.
import { expect } from 'chai';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, byUnit, PERFECT, putUnit, runJob, submit, uniform } from './fixtures.ts';

type CaseRow = { id: string; unit: string; period: string; rule: string; type: string; status: string; dueAt: string | null };

describe('accountability: cases, overdue, annual results and eligibility', function () {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let repD3: string;

  const cases = async (token: string, q = ''): Promise<CaseRow[]> => {
    const r = await t.api(token).get(`/api/v1/accountability${q}`);
    expect(r.status, r.text).to.equal(200);
    return r.body;
  };
  const keys = (list: CaseRow[]) => list.map((c) => `${c.period}:${c.unit}:${c.rule}`).sort();

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    repD3 = await t.tokenFor('reporter', 'D3');
    const a = t.api(admin);
    for (const c of ['D1', 'D2', 'D3', 'D4']) await putUnit(a, c, 'department');
    for (const c of ['C1', 'C2']) await putUnit(a, c, 'city');

    // 2026Q1 (deadline 2026-04-15 23:59:59 +08:00)
    at('2026-04-10T02:00:00Z');
    await submit(a, '2026Q1', 'D1', PERFECT); // 100
    await submit(a, '2026Q1', 'D2', uniform(17, 20)); // 85
    await submit(a, '2026Q1', 'D3', uniform(11, 20)); // 55 → 不合格
    await submit(a, '2026Q1', 'C1', PERFECT); // D4 and C2: missing
  });
  after(() => t.stop());

  it('publication opens A1 (不合格, due in 30 days) and A2 (missing) cases, once', async () => {
    at('2026-04-20T02:00:00Z');
    const pub = await t.api(reviewer).post('/api/v1/results/2026Q1/publish');
    expect(pub.status, pub.text).to.equal(200);
    const list = await cases(reviewer, '?period=2026Q1');
    expect(keys(list)).to.deep.equal(['2026Q1:C2:A1', '2026Q1:C2:A2', '2026Q1:D3:A1', '2026Q1:D4:A1', '2026Q1:D4:A2']);
    const d3 = list.find((c) => c.unit === 'D3')!;
    expect(d3).to.include({ rule: 'A1', type: '通报+限期整改', status: 'open' });
    expect(d3.dueAt).to.equal('2026-05-20T02:00:00.000Z');
    expect(list.find((c) => c.unit === 'D4' && c.rule === 'A2')).to.include({ type: '通报', dueAt: null });

    // Re-running the job (twice) opens nothing more.
    const run = await runJob(t, admin, 'accountability');
    expect(run.counts).to.include({ opened: 0 });
    await runJob(t, admin, 'accountability', '2026Q1');
    expect(keys(await cases(reviewer, '?period=2026Q1'))).to.have.length(5);
  });

  it('reporters see only their own unit’s cases', async () => {
    const own = await cases(repD3);
    expect(own.map((c) => c.unit)).to.deep.equal(['D3']);
    const r = await t.api(repD3).get('/api/v1/accountability?unit=D4');
    expect(r.status).to.equal(403);
  });

  it('reviewers move a case along with a comment; bad changes are refused; history is kept', async () => {
    const d3 = (await cases(reviewer, '?period=2026Q1')).find((c) => c.unit === 'D3')!;
    at('2026-05-10T02:00:00Z');
    const noComment = await t.api(reviewer).patch(`/api/v1/accountability/cases/${d3.id}`, { status: 'rectifying' });
    expect(noComment.status).to.equal(400);
    expect(noComment.body.error.code).to.equal('comment_required');
    expect((await t.api(repD3).patch(`/api/v1/accountability/cases/${d3.id}`, { status: 'rectifying', comment: 'x' })).status).to.equal(403);
    const ok = await t.api(reviewer).patch(`/api/v1/accountability/cases/${d3.id}`, { status: 'rectifying', comment: '已提交整改方案' });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.status).to.equal('rectifying');
    expect(ok.body.history.map((h: { to: string }) => h.to)).to.deep.equal(['open', 'rectifying']);
    expect(ok.body.history[1]).to.include({ from: 'open', to: 'rectifying', comment: '已提交整改方案' });
    const back = await t.api(reviewer).patch(`/api/v1/accountability/cases/${d3.id}`, { status: 'open', comment: '退回' });
    expect(back.status).to.equal(409);
    expect(back.body.error.code).to.equal('case_bad_transition');
  });

  it('the daily job marks unresolved cases overdue once past due (fake clock)', async () => {
    at('2026-05-20T01:59:59Z'); // one second before the due date
    expect((await runJob(t, admin, 'accountability')).counts).to.include({ overdue: 0 });
    at('2026-05-20T02:00:01Z');
    const run = await runJob(t, admin, 'accountability');
    expect(run.counts).to.include({ overdue: 3 }); // D3 (rectifying), D4 and C2 (open)
    expect((await runJob(t, admin, 'accountability')).counts).to.include({ overdue: 0 });
    const list = await cases(reviewer, '?period=2026Q1');
    expect(list.filter((c) => c.rule === 'A1').map((c) => c.status)).to.deep.equal(['overdue', 'overdue', 'overdue']);
    expect(list.filter((c) => c.rule === 'A2').map((c) => c.status)).to.deep.equal(['open', 'open']);
    const d3 = list.find((c) => c.unit === 'D3')!;
    const detail = await t.api(reviewer).get(`/api/v1/accountability/cases/${d3.id}`);
    expect(detail.body.history.at(-1)).to.include({ by: 'system', from: 'rectifying', to: 'overdue' });
    // An overdue case may still be resolved.
    const res = await t.api(reviewer).patch(`/api/v1/accountability/cases/${d3.id}`, { status: 'resolved', comment: '整改完成' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.status).to.equal('resolved');
  });

  it('A3: last in a category of ≥ 3 ranked units in two consecutive published quarters', async () => {
    const a = t.api(admin);
    at('2026-07-10T02:00:00Z');
    await submit(a, '2026Q2', 'D1', PERFECT); // 100
    await submit(a, '2026Q2', 'D2', uniform(17, 20)); // 85
    await submit(a, '2026Q2', 'D3', uniform(7, 10)); // 70
    await submit(a, '2026Q2', 'D4', uniform(3, 10)); // 30: last again, 不合格
    await submit(a, '2026Q2', 'C1', uniform(1, 2)); // cities: only 2 ranked units → no A3
    await submit(a, '2026Q2', 'C2', uniform(1, 10));
    at('2026-07-23T00:00:00Z'); // deadline + 7 days passed: the nightly score job publishes
    const run = await runJob(t, admin, 'score');
    expect(run.counts.published).to.be.greaterThan(0);
    const res = await t.api(reviewer).get('/api/v1/results/2026Q2');
    expect(res.body.status).to.equal('final');
    const list = await cases(reviewer, '?period=2026Q2');
    expect(keys(list)).to.deep.equal(['2026Q2:C1:A1', '2026Q2:C2:A1', '2026Q2:D4:A1', '2026Q2:D4:A3']);
    expect(list.find((c) => c.rule === 'A3')).to.include({ type: '约谈', dueAt: null });
    await runJob(t, admin, 'accountability');
    expect(await cases(reviewer, '?period=2026Q2')).to.have.length(4);
  });

  it('annual results: mean of four quarters (missing quarters count 0), graded, ranked, with eligibility', async () => {
    at('2026-07-24T00:00:00Z');
    const r = await t.api(reviewer).get('/api/v1/years/2026/results');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.year).to.equal(2026);
    const u = byUnit(r.body.results as { unit: string; category: string; total: number; grade: string; rank: number; eligible: boolean }[]);
    expect(u.D1).to.include({ category: 'department', total: 50, rank: 1, grade: '不合格', eligible: true }); // (100 + 100) / 4
    expect(u.D2).to.include({ total: 42.5, rank: 2, eligible: true });
    expect(u.D3).to.include({ total: 31.25, rank: 3, eligible: false }); // (55 + 70) / 4; 不合格 in Q1
    expect(u.D4).to.include({ total: 7.5, rank: 4, eligible: false }); // (0 + 30) / 4
    expect(u.C1).to.include({ total: 37.5, eligible: false }); // 不合格 in Q2 (50)
    // Reporters: own row until all four quarters are published.
    const rep = await t.api(repD3).get('/api/v1/years/2026/results');
    expect(rep.body.results.map((x: { unit: string }) => x.unit)).to.deep.equal(['D3']);
    expect((await t.api(reviewer).get('/api/v1/years/20x6/results')).status).to.equal(400);
  });

  it('annual results, many at once: each answer its own (a reporter’s own row trims no one else’s) and reflecting every write made before it', async () => {
    at('2026-07-24T00:00:00Z');
    const year = (token: string) => t.api(token).get('/api/v1/years/2026/results');
    const units = (r: { body: { results: { unit: string }[] } }) => r.body.results.map((x) => x.unit).sort();
    for (let round = 0; round < 3; round++) {
      const burst = await Promise.all([year(reviewer), year(repD3), year(admin), year(repD3), year(reviewer)]);
      for (const r of burst) expect(r.status, r.text).to.equal(200);
      expect(units(burst[1]!)).to.deep.equal(['D3']);
      expect(units(burst[3]!)).to.deep.equal(['D3']);
      for (const i of [0, 2, 4]) expect(units(burst[i]!)).to.deep.equal(['C1', 'C2', 'D1', 'D2', 'D3', 'D4']);
      expect(burst[0]!.body).to.deep.equal(burst[4]!.body);
    }
    // A rename acknowledged while other requests for the year are under way is in every later answer.
    const name = async (token: string) => byUnit((await year(token)).body.results as { unit: string; name: string }[]).D2!.name;
    for (const n of ['改名一', '改名二', '改名三']) {
      const during = Promise.all([year(reviewer), year(admin), year(reviewer)]);
      await putUnit(t.api(admin), 'D2', 'department', n);
      expect(await name(reviewer)).to.equal(n);
      await during;
    }
    await putUnit(t.api(admin), 'D2', 'department', '单位D2');
  });
});
