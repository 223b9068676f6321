// A publication reads the rows it judges by cursor (five fields a row; earlier quarters reduced to their
// units last in their category) instead of every full row of several periods at once. Its records must
// be exactly what the full-row path gave: on a generated province, two quarters published through the
// HTTP contract open the very cases and notices, in the very order, that the domain's casesToOpen gives
// over the full rows read with rowsOfPeriods (the path before the change, kept here as the reference).
import { expect } from 'chai';
import mongoose, { Types } from 'mongoose';
import { scaleReturns, scaleUnits, scaleWorkbook } from '../../bench/scale.ts';
import type { UnitCategory } from '../../server/domain/fields.ts';
import { previousQuarter } from '../../server/domain/periods.ts';
import { casesToOpen, type CaseDraft, type PublishedPeriod } from '../../server/domain/scoring/accountability.ts';
import { AuditLog } from '../../server/models/audit-log.ts';
import { Case } from '../../server/models/case.ts';
import { Notice } from '../../server/models/notice.ts';
import { Unit } from '../../server/models/unit.ts';
import { resultSetOf, rowsOfPeriods } from '../../server/results/store.ts';
import { schemeVersion } from '../../server/services/scheme.ts';
import { uploadAndCommit } from '../../server/services/uploads.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, runJob } from '../results/fixtures.ts';

const P1 = '2026Q2'; // deadline 2026-07-15
const P2 = '2026Q3'; // deadline 2026-10-15
const N = 1500;
const { BSON } = mongoose.mongo;
const admin = { username: 'scale-admin', role: 'admin' as const };

/** The drafts as openCasesForPeriod computed them before: every full row of the period and its A3 history. */
async function referenceDrafts(period: string): Promise<CaseDraft[]> {
  const set = (await resultSetOf(period))!;
  const scheme = (await schemeVersion(set.schemeVersion)).scheme;
  const n = Math.max(1, scheme.accountability.A3.consecutiveQuarters);
  const history: string[] = [];
  let p: string | null = period;
  for (let i = 1; i < n && p; i++) {
    p = previousQuarter(p);
    if (p) history.push(p);
  }
  const rows = await rowsOfPeriods([period, ...history], { finalOnly: true });
  const toPublished = (per: string): PublishedPeriod | null => {
    const r = rows.get(per);
    return r ? { period: per, results: r.rows.map((x) => ({ ...x, category: x.category as UnitCategory })) } : null;
  };
  return casesToOpen(scheme, { ...toPublished(period)!, publishedAt: set.publishedAt! }, history.map(toPublished).filter((x): x is PublishedPeriod => !!x));
}

/** A case as stored, without what differs on every run (_id, mongoose's wall-clock timestamps). */
const caseRecord = (c: Record<string, unknown>) => {
  const { _id, createdAt, updatedAt, __v, ...rest } = c;
  void [_id, createdAt, updatedAt, __v];
  return JSON.stringify({ ...rest, history: (rest.history as Record<string, unknown>[]).map(({ _id: _h, ...h }) => (void _h, h)) });
};

describe(`scale: a publication's records on a generated province (${N} units)`, function () {
  this.timeout(300_000);
  let t: TestApp;
  let reviewer: string;
  let adminToken: string;

  before(async () => {
    t = await startTestApp({ periods: [P1, P2] });
    reviewer = await t.tokenFor('reviewer');
    adminToken = await t.tokenFor('admin');
    const units = scaleUnits(N);
    await Unit.insertMany(units.map((u) => ({ ...u, active: true })), { lean: true });
    // Some units report in neither quarter (last in their category twice: A3), others miss one (A2);
    // the values give every grade (A1 for 不合格). Some of P2's returns come late.
    const never = new Set(units.filter((_, i) => i % 211 === 7).map((u) => u.code));
    const returnsOf = (seed: number) => scaleReturns(units, { seed, missingRate: 0.04 }).filter((r) => !never.has(r.code));
    at('2026-07-10T02:00:00Z');
    await uploadAndCommit(admin, P1, await scaleWorkbook(returnsOf(4)), 'p1.xlsx');
    const p2 = returnsOf(8);
    at('2026-10-10T02:00:00Z');
    await uploadAndCommit(admin, P2, await scaleWorkbook(p2.filter((_, i) => i % 13 !== 0)), 'p2.xlsx');
    at('2026-10-18T02:00:00Z');
    await uploadAndCommit(admin, P2, await scaleWorkbook(p2.filter((_, i) => i % 13 === 0)), 'p2-late.xlsx');
    await t.settle();
  });
  after(() => t.stop());

  it('two publications open the cases and notices the full-row path gives, in the same order, once', async () => {
    at('2026-07-20T02:00:00Z');
    expect((await t.api(reviewer).post(`/api/v1/results/${P1}/publish`)).status).to.equal(200);
    at('2026-10-20T02:00:00Z');
    const pub = await t.api(reviewer).post(`/api/v1/results/${P2}/publish`);
    expect(pub.status, pub.text).to.equal(200);
    expect(pub.body.results).to.have.length(N);

    for (const [period, publishedAt] of [
      [P1, '2026-07-20T02:00:00.000Z'],
      [P2, '2026-10-20T02:00:00.000Z'],
    ] as const) {
      const drafts = await referenceDrafts(period);
      const rules = new Set(drafts.map((d) => d.rule));
      expect([...rules].sort(), period).to.deep.equal(period === P1 ? ['A1', 'A2'] : ['A1', 'A2', 'A3']);
      // Stored in the order they were opened (the engine's natural order is insertion order).
      const cases = (await Case.find({ period }).lean()) as unknown as Record<string, unknown>[];
      const at = new Date(publishedAt);
      const expected = drafts.map((d) => ({
        period: d.period,
        unit: d.unit,
        rule: d.rule,
        type: d.type,
        status: 'open',
        dueAt: d.dueAt ? d.dueAt.toISOString() : null,
        openedAt: publishedAt,
        reason: d.reason,
        history: [{ at: publishedAt, by: 'system', from: null, to: 'open', comment: d.reason }],
      }));
      expect(cases.map((c) => JSON.stringify({ period: c.period, unit: c.unit, rule: c.rule, type: c.type, status: c.status, dueAt: c.dueAt, openedAt: c.openedAt, reason: c.reason, history: (c.history as Record<string, unknown>[]).map((h) => ({ at: h.at, by: h.by, from: h.from, to: h.to, comment: h.comment })) })), period).to.deep.equal(
        expected.map((e) => JSON.stringify({ ...e, dueAt: e.dueAt ? new Date(e.dueAt) : null, openedAt: at, history: e.history.map((h) => ({ ...h, at })) })),
      );
      // Nothing else on a case document than what opening it always wrote.
      expect([...new Set(cases.map((c) => Object.keys(c).sort().join(',')))], period).to.deep.equal([
        '__v,_id,createdAt,dueAt,extensions,history,openedAt,period,reason,rectifications,resolvedAt,rule,status,type,unit,updatedAt',
      ]);

      const notices = await Notice.find({ kind: 'case', period }, { _id: 0 }).lean();
      expect(notices.map((x) => JSON.stringify(x)), period).to.deep.equal(
        drafts.map((d) =>
          JSON.stringify({
            unit: d.unit,
            kind: 'case',
            period: d.period,
            title: `问责：${d.type}（${d.period}）`,
            body: d.reason + (d.dueAt ? `，整改期限 ${d.dueAt.toISOString()}` : ''),
            createdAt: at,
            createdBy: 'system',
            readAt: null,
            key: `case:${d.period}:${d.unit}:${d.rule}`,
            __v: 0,
          }),
        ),
      );
      expect(await AuditLog.countDocuments({ action: 'results.publish', entityId: period })).to.equal(1);
    }

    // Byte for byte what the upsert on (period, unit, rule) that opened cases before wrote: one case of
    // each rule is removed and opened again that way (the old code, here as the reference).
    const raw = Case.collection;
    const fixed = { _id: Types.ObjectId.createFromHexString('000000000000000000000001'), createdAt: new Date(0), updatedAt: new Date(0) };
    const bytes = (d: Record<string, unknown>) => Buffer.from(BSON.serialize({ ...d, ...fixed })).toString('hex');
    for (const rule of ['A1', 'A2', 'A3'] as const) {
      const stored = (await raw.findOne({ period: P2, rule }))!;
      expect(stored.createdAt, rule).to.be.instanceOf(Date);
      expect(stored.updatedAt, rule).to.deep.equal(stored.createdAt);
      await raw.deleteOne({ _id: stored._id });
      const now = stored.openedAt as Date;
      await Case.bulkWrite(
        [
          {
            updateOne: {
              filter: { period: P2, unit: stored.unit, rule },
              update: {
                $setOnInsert: {
                  period: P2,
                  unit: stored.unit,
                  rule,
                  type: stored.type,
                  status: 'open',
                  dueAt: stored.dueAt,
                  openedAt: now,
                  reason: stored.reason,
                  history: [{ at: now, by: 'system', from: null, to: 'open', comment: stored.reason }],
                },
              },
              upsert: true,
            },
          },
        ],
        { ordered: false, throwOnValidationError: true },
      );
      const upserted = (await raw.findOne({ period: P2, unit: stored.unit, rule }))!;
      expect(bytes(stored), rule).to.equal(bytes(upserted));
    }

    // Re-running the accountability job opens nothing more (it marks P1's A1 cases overdue: due in August).
    const p2Cases = async () => (await Case.find({ period: P2 }).lean()).map((c) => caseRecord(c as unknown as Record<string, unknown>));
    const before = { cases: await p2Cases(), notices: await Notice.countDocuments({}) };
    const run = await runJob(t, adminToken, 'accountability');
    expect(run.counts.opened).to.equal(0);
    expect(await p2Cases()).to.deep.equal(before.cases);
    expect(await Notice.countDocuments({})).to.equal(before.notices);
  });
});
