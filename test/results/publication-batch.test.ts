// Publication opens its accountability cases and their notices in batches (one upsert batch, one
// insert of the notices): these tests prove that the batching keeps the guarantees of the one-by-one
// version — every case once, exactly one notice per case, a run cut short anywhere is completed by
// the next one, cases that moved on are left alone, and concurrent runs never duplicate anything.
// (The SIGKILL version of the same guarantee is test/faults/faults.test.ts.)
import { expect } from 'chai';
import { Case } from '../../server/models/case.ts';
import { Notice } from '../../server/models/notice.ts';
import { openCasesForPeriod } from '../../server/services/accountability.ts';
import { notifyMany } from '../../server/services/notices.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, PERFECT, putUnit, runJob, submit, uniform } from './fixtures.ts';

const P = '2026Q1';
const COUNTIES = ['X1', 'X2', 'X3', 'X4', 'X5', 'X6', 'X7', 'X8'];
// D3 fails (A1); D4, C2 and the counties report nothing (A1 + A2).
const EXPECTED = [
  `${P}:C2:A1`, `${P}:C2:A2`, `${P}:D3:A1`, `${P}:D4:A1`, `${P}:D4:A2`,
  ...COUNTIES.flatMap((x) => [`${P}:${x}:A1`, `${P}:${x}:A2`]),
].sort();

type CaseLean = { _id: unknown; period: string; unit: string; rule: string; status: string; history?: unknown[]; createdAt?: unknown; updatedAt?: unknown; __v?: unknown };
const keyOf = (c: { period: string; unit: string; rule: string }) => `${c.period}:${c.unit}:${c.rule}`;

/** The cases of P as stored, without ids and wall-clock timestamps, by key. */
async function storedCases(): Promise<Record<string, Record<string, unknown>>> {
  const docs = (await Case.find({ period: P }).lean()) as CaseLean[];
  return Object.fromEntries(docs.map(({ _id, createdAt: _c, updatedAt: _u, __v: _v, ...c }) => [keyOf(c), c]));
}

/** The notices that announce a case (a status change sends a notice of its own, without a key). */
async function caseNotices() {
  return Notice.find({ kind: 'case', period: P, key: { $exists: true } }).lean();
}

/** Exactly one notice per case of P, keyed by the case, to the case's unit. */
async function expectOneNoticePerCase() {
  const cases = Object.keys(await storedCases()).sort();
  const notices = await caseNotices();
  expect(notices.map((n) => n.key).sort()).to.deep.equal(cases.map((k) => `case:${k}`));
  for (const n of notices) expect(n.key).to.equal(`case:${n.period}:${n.unit}:${n.key!.split(':').pop()}`);
}

describe('publication: accountability cases and notices written in batches', function () {
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let reference: Record<string, Record<string, unknown>>;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    const a = t.api(admin);
    for (const c of ['D1', 'D2', 'D3', 'D4']) await putUnit(a, c, 'department');
    for (const c of ['C1', 'C2']) await putUnit(a, c, 'city');
    for (const c of COUNTIES) await putUnit(a, c, 'county');
    at('2026-04-10T02:00:00Z');
    await submit(a, P, 'D1', PERFECT);
    await submit(a, P, 'D2', uniform(17, 20));
    await submit(a, P, 'D3', uniform(11, 20));
    await submit(a, P, 'C1', PERFECT);
  });
  after(() => t.stop());

  it('publishing opens every case once, each with exactly one notice; re-runs add nothing', async () => {
    at('2026-04-20T02:00:00Z');
    const pub = await t.api(reviewer).post(`/api/v1/results/${P}/publish`);
    expect(pub.status, pub.text).to.equal(200);
    reference = await storedCases();
    expect(Object.keys(reference).sort()).to.deep.equal(EXPECTED);
    for (const c of Object.values(reference)) {
      expect(c).to.include({ status: 'open', openedAt: c.openedAt });
      expect((c.openedAt as Date).toISOString()).to.equal('2026-04-20T02:00:00.000Z');
      expect(c.history).to.have.length(1);
    }
    expect(reference[`${P}:D3:A1`]).to.include({ type: '通报+限期整改' });
    expect((reference[`${P}:D3:A1`]!.dueAt as Date).toISOString()).to.equal('2026-05-20T02:00:00.000Z');
    expect(reference[`${P}:D4:A2`]).to.include({ type: '通报', dueAt: null });
    await expectOneNoticePerCase();
    const d3 = (await caseNotices()).find((n) => n.unit === 'D3')!;
    expect(d3).to.include({ title: '问责：通报+限期整改（2026Q1）', createdBy: 'system', readAt: null });
    expect(d3.body).to.contain('整改期限 2026-05-20T02:00:00.000Z');

    const noticeIds = (await caseNotices()).map((n) => String(n._id)).sort();
    const run = await runJob(t, admin, 'accountability', P);
    expect(run.counts).to.include({ opened: 0 });
    expect(await openCasesForPeriod(P)).to.deep.equal({ opened: 0, evaluated: EXPECTED.length });
    expect(await storedCases()).to.deep.equal(reference);
    expect((await caseNotices()).map((n) => String(n._id)).sort()).to.deep.equal(noticeIds);
  });

  it('a run cut short (some cases written, fewer notices) is completed by the next run; a case that moved on is left alone', async () => {
    // A reviewer moves D3's case along.
    const list = await t.api(reviewer).get(`/api/v1/accountability?period=${P}`);
    const d3 = (list.body as { id: string; unit: string }[]).find((c) => c.unit === 'D3')!;
    const moved = await t.api(reviewer).patch(`/api/v1/accountability/cases/${d3.id}`, { status: 'rectifying', comment: '已部署整改' });
    expect(moved.status, moved.text).to.equal(200);
    const d3Notices = (await caseNotices()).filter((n) => n.unit === 'D3').map((n) => String(n._id));

    // The state a kill part-way leaves: some cases missing, and more notices missing than cases.
    await Case.deleteMany({ period: P, unit: { $in: ['D4', 'X1'] } });
    await Case.deleteOne({ period: P, unit: 'C2', rule: 'A1' });
    await Notice.deleteMany({ kind: 'case', period: P, unit: { $in: ['D4', 'X1', 'X2', 'C2'] } });

    const run = await runJob(t, admin, 'accountability');
    expect(run.counts.opened).to.equal(5);

    const now = await storedCases();
    expect(Object.keys(now).sort()).to.deep.equal(EXPECTED);
    for (const k of EXPECTED) {
      if (k === `${P}:D3:A1`) continue;
      expect(now[k], k).to.deep.equal(reference[k]);
    }
    // D3's case kept the reviewer's status and history: the run did not reopen or reset it.
    expect(now[`${P}:D3:A1`]).to.include({ status: 'rectifying' });
    expect(now[`${P}:D3:A1`]!.history).to.have.length(2);
    await expectOneNoticePerCase();
    // D3's notices (the case notice and the status-change notice) are untouched.
    expect((await Notice.find({ unit: 'D3' }).lean()).map((n) => String(n._id))).to.include.members(d3Notices);
  });

  it('concurrent runs open each case exactly once and send one notice per case', async () => {
    await Case.deleteMany({ period: P });
    await Notice.deleteMany({ kind: 'case', period: P });
    const runs = await Promise.all([openCasesForPeriod(P), openCasesForPeriod(P), openCasesForPeriod(P)]);
    expect(runs.reduce((s, r) => s + r.opened, 0), JSON.stringify(runs)).to.equal(EXPECTED.length);
    expect(await storedCases()).to.deep.equal(reference);
    await expectOneNoticePerCase();
  });

  it('notifyMany: a key already used, or twice in one call, gives one notice; notices without a key are all sent', async () => {
    at('2026-04-21T02:00:00Z');
    const n = (unit: string, key?: string) => ({ unit, kind: 'test', title: `t-${unit}`, ...(key ? { key } : {}) });
    expect(await notifyMany([n('D1', 'k1'), n('D2', 'k2')])).to.equal(2);
    expect(await notifyMany([n('D1', 'k1'), n('D1', 'k3'), n('D1', 'k3'), n('D2'), n('D2')])).to.equal(3);
    const [a, b] = await Promise.all([notifyMany([n('D1', 'k4'), n('D2', 'k5')]), notifyMany([n('D1', 'k4'), n('D2', 'k5')])]);
    expect(a + b).to.equal(2);
    const docs = await Notice.find({ kind: 'test' }).lean();
    expect(docs.map((d) => d.key ?? '-').sort()).to.deep.equal(['-', '-', 'k1', 'k2', 'k3', 'k4', 'k5']);
    expect(docs.every((d) => d.createdAt.toISOString() === '2026-04-21T02:00:00.000Z' && d.readAt === null)).to.equal(true);
    expect(await notifyMany([])).to.equal(0);
  });
});
