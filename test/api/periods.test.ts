// The assessment calendar (SPEC §2, §7; issue 11): periods are opened, never conjured; reading never writes;
// published means frozen; provisional results follow submissions without a job.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { AuditLog } from '../../server/models/audit-log.ts';
import { Case } from '../../server/models/case.ts';
import { Notice } from '../../server/models/notice.ts';
import { Period } from '../../server/models/period.ts';
import { ResultRow, ResultSet } from '../../server/models/result.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, byUnit, PERFECT, putUnit, results, submit, uniform } from '../results/fixtures.ts';

/** Everything a read must not change: counts and a digest of every stored result, case and period. */
async function snapshot() {
  const digest = async (m: mongoose.Model<any>, sort: Record<string, 1>) =>
    JSON.stringify(await m.find({}, { _id: 0, updatedAt: 0 }).sort(sort).lean());
  return {
    periods: await digest(Period, { period: 1 }),
    sets: await digest(ResultSet, { period: 1 }),
    rows: await ResultRow.countDocuments({}),
    cases: await digest(Case, { period: 1, unit: 1, rule: 1 }),
    notices: await Notice.countDocuments({}),
  };
}

describe('assessment calendar: periods are opened, never conjured', () => {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let office: string;
  before(async () => {
    t = await startTestApp({ periods: [] });
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    office = await t.tokenFor('office');
  });
  after(async () => {
    await t?.stop();
  });

  it('a period never opened answers 404 period_not_open everywhere, and is listed nowhere', async () => {
    at('2026-08-01T02:00:00Z');
    await putUnit(t.api(admin), 'D001', 'department');
    const rep = await t.tokenFor('reporter', 'D001');
    expect((await t.api(office).get('/api/v1/periods')).body).to.deep.equal([]);
    for (const [who, path] of [
      [office, '/api/v1/periods/2026Q3'],
      [office, '/api/v1/results/2026Q3'],
      [office, '/api/v1/results/2026Q3/units/D001/explain'],
      [office, '/api/v1/results/2026Q3/sheet.xlsx'],
      [office, '/api/v1/results/2026Q3/units/D001/sheet.xlsx'],
      [office, '/api/v1/accountability?period=2026Q3'],
      [rep, '/api/v1/returns/2026Q3/D001'],
      [rep, '/api/v1/returns/template?period=2026Q3'],
      [office, '/api/v1/years/2026/results'],
    ] as const) {
      const r = await t.api(who).get(path);
      expect(r.status, path).to.equal(404);
      expect(r.body.error.code, path).to.equal('period_not_open');
    }
    const put = await t.api(rep).put('/api/v1/returns/2026Q3/D001', { values: PERFECT });
    expect(put.status).to.equal(404);
    expect(put.body.error.code).to.equal('period_not_open');
    expect(await ResultSet.countDocuments({})).to.equal(0);
    expect(await Period.countDocuments({})).to.equal(0);
  });

  it('PUT opens a period (201, with its first provisional results); GET lists the opened ones, newest first', async () => {
    const a = t.api(admin);
    const r = await a.put('/api/v1/periods/2026Q2', { deadline: '2026-07-15T23:59:59+08:00' });
    expect(r.status, r.text).to.equal(201);
    expect(r.body).to.include({ period: '2026Q2', deadline: '2026-07-15T15:59:59.000Z', status: 'open', publishedAt: null });
    expect((await a.put('/api/v1/periods/2026Q2', { deadline: '2026-07-16T23:59:59+08:00' })).status).to.equal(200);
    expect((await a.put('/api/v1/periods/2026Q3', {})).status).to.equal(201); // default deadline
    const list = await t.api(office).get('/api/v1/periods');
    expect(list.body.map((p: { period: string }) => p.period)).to.deep.equal(['2026Q3', '2026Q2']);
    expect(list.body[0]).to.include({ deadline: '2026-10-15T15:59:59.000Z', status: 'open' });
    const res = await results(t.api(office), '2026Q3');
    expect(res.status).to.equal('provisional');
    expect(res.results.map((x) => x.unit)).to.deep.equal(['D001']);
    const audited = await AuditLog.countDocuments({ action: 'period.open' });
    expect(audited).to.equal(2);
    for (const deadline of ['next friday', 12345]) expect((await a.put('/api/v1/periods/2026Q1', { deadline })).status).to.equal(400);
    expect((await t.api(reviewer).put('/api/v1/periods/2026Q1', {})).status).to.equal(403);
    expect(await Period.exists({ period: '2026Q1' })).to.equal(null);
  });

});

describe('assessment calendar: what reporters see', () => {
  let t: TestApp;
  after(async () => {
    await t?.stop();
  });

  it('only opened periods, with the right status: a rejected latest revision is 被退回 with its reason', async () => {
    t = await startTestApp({ periods: ['2026Q3'] });
    const admin = await t.tokenFor('admin');
    at('2026-10-05T02:00:00Z');
    await putUnit(t.api(admin), 'D001', 'department');
    await submit(t.api(admin), '2026Q3', 'D001', PERFECT);
    const reviewer = await t.tokenFor('reviewer');
    const rej = await t.api(reviewer).post('/api/v1/returns/2026Q3/D001/review', { decision: 'reject', reason: '外网接入数与台账不符' });
    expect(rej.status, rej.text).to.equal(200);
    const u = await t.userFor('reporter', 'D001');
    const w = t.web();
    await w.login(u.username, u.password);
    const list = await w.get('/returns');
    expect(list.text).to.contain('2026Q3');
    expect(list.text).to.not.match(/2025Q[1-4]|2026Q[124]/); // never-opened quarters do not exist
    const home = await w.get('/');
    expect(home.status).to.equal(200);
    expect(home.text).to.contain('被退回');
    expect(home.text).to.contain('外网接入数与台账不符');
    expect(home.text).to.not.contain('已报送第');
  });
});

describe('assessment calendar: provisional results follow their inputs', () => {
  it('provisional results follow a submission within seconds, without any job run', async () => {
    // The real recomputation delay, and clients that do not wait for it.
    const live = await startTestApp({ periods: ['2026Q3'], settle: false, env: { RECOMPUTE_DELAY_MS: '300' } });
    at('2026-08-01T02:00:00Z');
    try {
      const a = await live.tokenFor('admin');
      await putUnit(live.api(a), 'D001', 'department');
      await putUnit(live.api(a), 'D002', 'department');
      const rep = await live.tokenFor('reporter', 'D001');
      await submit(live.api(rep), '2026Q3', 'D001', PERFECT);
      let row: { total: number | null } | undefined;
      for (let i = 0; i < 100 && row?.total !== 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        row = byUnit((await results(live.api(rep), '2026Q3')).results).D001;
      }
      expect(row?.total, 'scored within 10 s of the submission').to.equal(100);
      const runs = await mongoose.connection.collection('jobruns').countDocuments({});
      expect(runs, 'no job ran').to.equal(0);

      // A burst of 50 submissions is covered by a bounded number of recomputations, not 50.
      await live.freshness.idle();
      const before = live.freshness.computations;
      for (let i = 0; i < 50; i++) await submit(live.api(rep), '2026Q3', 'D001', uniform(i % 10, 10));
      await live.freshness.idle();
      const spent = live.freshness.computations - before;
      expect(spent).to.be.within(1, 25);
      const last = byUnit((await results(live.api(rep), '2026Q3')).results).D001;
      expect(last!.total).to.equal(90); // the 50th return: 9/10 everywhere
    } finally {
      await live.stop();
    }
  });
});

describe('assessment calendar: reading never writes (the office walks into the past)', () => {
  let t: TestApp;
  let admin: string;
  let office: string;
  const P = '2026Q2';
  before(async () => {
    t = await startTestApp({ periods: [P] });
    admin = await t.tokenFor('admin');
    office = await t.tokenFor('office');
    at('2026-07-01T02:00:00Z');
    for (const c of ['D001', 'D002', 'D003']) await putUnit(t.api(admin), c, 'department');
    await submit(t.api(admin), P, 'D001', PERFECT);
    await submit(t.api(admin), P, 'D002', uniform(1, 2));
    // D003 never reports: one A2 case (and A1 for 不合格) once published.
    at('2026-07-25T02:00:00Z');
    const run = await t.api(admin).post('/api/v1/jobs/score/run', {});
    expect(run.body.outcome, run.text).to.equal('success');
    expect((await t.api(admin).post('/api/v1/jobs/accountability/run', {})).body.outcome).to.equal('success');
    expect((await results(t.api(office), P)).status).to.equal('final');
  });
  after(async () => {
    await t?.stop();
  });

  it('office reads three never-opened quarters through pages and API; both jobs then change nothing', async () => {
    const cases = await Case.countDocuments({});
    expect(cases).to.be.greaterThan(0);
    const eligibility = (await t.api(office).get('/api/v1/years/2026/results')).body;
    const before = await snapshot();

    const w = t.web();
    const u = await t.userFor('office');
    await w.login(u.username, u.password);
    for (const p of ['2025Q1', '2025Q3', '2099Q1']) {
      for (const path of [`/ranking?period=${p}`, `/?period=${p}`, `/units/D001?period=${p}`, `/progress?period=${p}`]) {
        const page = await w.get(path);
        expect(page.status, path).to.equal(404);
        expect(page.text, path).to.contain('尚未开放');
        expect(page.text, path).to.contain(`?period=${P}`); // a link to the latest opened period
      }
      for (const path of [`/api/v1/results/${p}`, `/api/v1/results/${p}/sheet.xlsx`, `/api/v1/periods/${p}`]) {
        expect((await t.api(office).get(path)).status, path).to.equal(404);
      }
    }
    // Pages of the opened period list no other period.
    const ranking = await w.get(`/ranking?period=${P}`);
    expect(ranking.status).to.equal(200);
    expect(ranking.text).to.not.match(/2025Q1|2025Q3|2099Q1/);

    at('2026-07-26T02:00:00Z');
    for (const job of ['score', 'accountability']) {
      const r = await t.api(admin).post(`/api/v1/jobs/${job}/run`, {});
      expect(r.body.outcome, r.text).to.equal('success');
    }
    expect(await snapshot()).to.deep.equal(before);
    expect((await t.api(office).get('/api/v1/years/2026/results')).body).to.deep.equal(eligibility);
  });

  it('a published period is frozen: returns, reviews and deadline changes are 409 period_published', async () => {
    const rep = await t.tokenFor('reporter', 'D003');
    const reviewer = await t.tokenFor('reviewer');
    const put = await t.api(rep).put(`/api/v1/returns/${P}/D003`, { values: PERFECT });
    expect(put.status).to.equal(409);
    expect(put.body.error.code).to.equal('period_published');
    expect(put.body.error.message).to.match(/已发布/);
    const review = await t.api(reviewer).post(`/api/v1/returns/${P}/D001/review`, { decision: 'reject', reason: '数据有误' });
    expect(review.status).to.equal(409);
    expect(review.body.error.code).to.equal('period_published');
    const dl = await t.api(admin).put(`/api/v1/periods/${P}`, { deadline: '2026-08-01T00:00:00Z' });
    expect(dl.status).to.equal(409);
    expect(dl.body.error.code).to.equal('period_published');
    const p = (await t.api(office).get(`/api/v1/periods/${P}`)).body;
    expect(p.status).to.equal('published');
    expect(p.publishedAt).to.be.a('string');
    // The web form says so in Chinese too.
    const w = t.web();
    const u = await t.userFor('reporter', 'D003');
    await w.login(u.username, u.password);
    const form = await w.postForm(`/returns/${P}/D003`, { systems_total: '1' });
    expect(form.status).to.equal(303);
    expect((await w.get(form.location!)).text).to.contain('已发布');
    expect(await mongoose.connection.collection('returns').countDocuments({ period: P, unit: 'D003' })).to.equal(0);
  });

  it('reviewers run the score job and publish from the ranking page; reporters and office may not', async () => {
    const reviewer = await t.tokenFor('reviewer');
    const run = await t.api(reviewer).post('/api/v1/jobs/score/run', {});
    expect(run.status, run.text).to.equal(200);
    expect((await t.api(reviewer).post('/api/v1/jobs/remind/run', {})).status).to.equal(403);
    expect((await t.api(office).post('/api/v1/jobs/score/run', {})).status).to.equal(403);

    const Q = '2026Q3';
    expect((await t.api(admin).put(`/api/v1/periods/${Q}`, { deadline: '2026-07-30T00:00:00Z' })).status).to.equal(201);
    await submit(t.api(admin), Q, 'D001', PERFECT);
    const w = t.web();
    const u = await t.userFor('reviewer');
    await w.login(u.username, u.password);
    const page = await w.get(`/ranking?period=${Q}`);
    expect(page.text).to.contain(`action="/ranking/${Q}/recompute"`);
    expect(page.text).to.not.contain(`action="/ranking/${Q}/publish"`); // before the deadline
    at('2026-07-31T02:00:00Z');
    const after = await w.get(`/ranking?period=${Q}`);
    expect(after.text).to.contain(`action="/ranking/${Q}/publish"`);
    const pub = await w.postForm(`/ranking/${Q}/publish`, {});
    expect(pub.status).to.equal(303);
    expect((await results(t.api(office), Q)).status).to.equal('final');
    const officePage = await (async () => {
      const ow = t.web();
      const ou = await t.userFor('office');
      await ow.login(ou.username, ou.password);
      return ow.get(`/ranking?period=${Q}`);
    })();
    expect(officePage.text).to.not.contain('/recompute"');
  });
});

describe('assessment calendar: the migration of a database made by the previous version', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ periods: [] });
  });
  after(async () => {
    await t?.stop();
  });

  it('keeps periods with returns or admin settings, removes conjured results and their cases; idempotent and audited', async () => {
    const { migrateCalendar } = await import('../../server/services/calendar-migration.ts');
    const db = mongoose.connection;
    const oid = () => new mongoose.Types.ObjectId();
    const now = new Date('2026-11-01T00:00:00Z');
    // What the previous version stored: 2026Q2 with returns, published (its Period written by the
    // publication); 2025Q1 conjured by a page view and published (no returns) with its cases; 2025Q3
    // conjured, provisional; 2026Q1 whose deadline an admin set (no returns, no results).
    const setDoc = (period: string, status: string) => {
      const computeId = oid();
      return { set: { period, status, computeId, schemeVersion: 1, computedAt: now, deadline: now, rowCount: 1, publishedAt: status === 'final' ? now : null, publishedBy: 'system', reopened: false, reopens: [] }, computeId };
    };
    for (const [period, status] of [['2026Q2', 'final'], ['2025Q1', 'final'], ['2025Q3', 'provisional']] as const) {
      const { set, computeId } = setDoc(period, status);
      await db.collection('result_sets').insertOne(set);
      await db.collection('result_rows').insertOne({ period, computeId, unit: 'D001', name: 'x', category: 'department', indicators: {}, order: 0, flags: [] });
    }
    await db.collection('periods').insertMany([
      { period: '2026Q2', deadline: now, publishedAt: now, closed: false },
      { period: '2025Q1', deadline: now, publishedAt: now, closed: false },
      { period: '2026Q1', deadline: now, publishedAt: null, closed: false },
    ]);
    await db.collection('returns').insertOne({ unit: 'D001', period: '2026Q2', revision: 1, values: {}, source: 'api', submittedBy: 'a', submittedAt: now, committed: true });
    await db.collection('audit_log').insertOne({ at: now, actor: 'admin', actorRole: 'admin', action: 'period.deadline', entity: 'period', entityId: '2026Q1', before: null, after: null });
    await db.collection('cases').insertMany([
      { period: '2025Q1', unit: 'D001', rule: 'A2', type: '通报', status: 'open', openedAt: now, history: [] },
      { period: '2026Q2', unit: 'D001', rule: 'A1', type: '通报', status: 'open', openedAt: now, history: [] },
    ]);
    await db.collection('notices').insertOne({ unit: 'D001', kind: 'case', period: '2025Q1', title: 'x', body: '', createdAt: now });

    const first = await migrateCalendar();
    expect(first.opened.sort()).to.deep.equal(['2026Q1', '2026Q2']);
    expect(first.removed.map((r) => [r.period, r.status, r.cases]).sort()).to.deep.equal([['2025Q1', 'final', 1], ['2025Q3', 'provisional', 0]]);
    expect((await ResultSet.find({}).lean()).map((s) => s.period)).to.deep.equal(['2026Q2']);
    expect(await ResultRow.countDocuments({ period: { $in: ['2025Q1', '2025Q3'] } })).to.equal(0);
    expect((await Case.find({}).lean()).map((c) => c.period)).to.deep.equal(['2026Q2']);
    expect(await Notice.countDocuments({ period: '2025Q1' })).to.equal(0);
    const periods = (await t.api(await t.tokenFor('office')).get('/api/v1/periods')).body;
    expect(periods.map((p: { period: string; status: string }) => [p.period, p.status])).to.deep.equal([['2026Q2', 'published'], ['2026Q1', 'open']]);
    expect(await AuditLog.countDocuments({ action: 'calendar.migrate' })).to.equal(1);

    const second = await migrateCalendar();
    expect(second).to.deep.equal({ opened: [], removed: [] });
    expect(await AuditLog.countDocuments({ action: 'calendar.migrate' })).to.equal(1);
  });
});
