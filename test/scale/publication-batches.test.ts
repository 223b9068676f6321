// Publication at scale opens its accountability cases and their notices in commands of at most 1 000
// documents, and a publication interrupted part-way (after some batches landed) is completed by the
// next accountability run: every case once, exactly one notice per case.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { scaleUnits } from '../../bench/scale.ts';
import { Case } from '../../server/models/case.ts';
import { Notice } from '../../server/models/notice.ts';
import { Unit } from '../../server/models/unit.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { at, runJob } from '../results/fixtures.ts';

const P1 = '2026Q1'; // deadline 2026-04-15
const P2 = '2026Q2'; // deadline 2026-07-15
// No returns: A1 and A2 for every unit (2 600 cases) in P1; in P2 also A3 (two quarters in a row).
const N = 1300;

type Hook = (collection: string, method: string, args: unknown[]) => void;

describe('scale: publication writes cases and notices in batches', function () {
  this.timeout(180_000);
  let t: TestApp;
  let admin: string;
  let reviewer: string;
  let hook: Hook | null = null;

  before(async () => {
    t = await startTestApp({ periods: [P1, P2] });
    admin = await t.tokenFor('admin');
    reviewer = await t.tokenFor('reviewer');
    await Unit.insertMany(scaleUnits(N).map((u) => ({ ...u, active: true })), { lean: true });
    // Sees every collection command mongoose sends (a throw fails that command, as a lost server would).
    mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => hook?.(collection, method, args));
  });
  after(async () => {
    mongoose.set('debug', false);
    await t.stop();
  });

  async function expectComplete(period: string, count: number) {
    const cases = await Case.find({ period }, { unit: 1, rule: 1 }).lean();
    expect(cases.length).to.equal(count);
    expect(new Set(cases.map((c) => `${c.unit}:${c.rule}`)).size).to.equal(count);
    const notices = await Notice.find({ kind: 'case', period, key: { $exists: true } }, { key: 1 }).lean();
    expect(notices.map((n) => n.key).sort()).to.deep.equal(cases.map((c) => `case:${period}:${c.unit}:${c.rule}`).sort());
  }

  it('no command carries more than 1 000 cases or notices', async () => {
    const sizes: Record<string, number[]> = { cases: [], notices: [] };
    hook = (collection, method, args) => {
      if (collection === 'cases' && method === 'insertMany') sizes.cases!.push((args[0] as unknown[]).length);
      if (collection === 'notices' && method === 'insertMany') sizes.notices!.push((args[0] as unknown[]).length);
    };
    at('2026-04-20T02:00:00Z');
    const pub = await t.api(reviewer).post(`/api/v1/results/${P1}/publish`);
    hook = null;
    expect(pub.status, pub.text).to.equal(200);
    await expectComplete(P1, 2 * N);
    for (const k of ['cases', 'notices'] as const) {
      expect(sizes[k]!.reduce((a, b) => a + b, 0), k).to.equal(2 * N);
      expect(Math.max(...sizes[k]!), k).to.be.at.most(1000);
      expect(sizes[k]!.length, k).to.equal(Math.ceil((2 * N) / 1000));
    }
  });

  it('a publication cut short after its first batches is completed by the next run, nothing twice', async () => {
    let caseBatches = 0;
    hook = (collection, method) => {
      if (collection === 'cases' && method === 'insertMany' && ++caseBatches === 2) throw new Error('connection lost (test)');
    };
    at('2026-07-20T02:00:00Z');
    const pub = await t.api(reviewer).post(`/api/v1/results/${P2}/publish`);
    hook = null;
    // Whatever the publication answered, the first batch landed and the rest did not.
    expect(caseBatches).to.equal(2);
    expect(await Case.countDocuments({ period: P2 })).to.equal(1000);
    expect(await Notice.countDocuments({ kind: 'case', period: P2 })).to.equal(0);
    void pub;
    const run = await runJob(t, admin, 'accountability', P2);
    expect(run.counts.opened).to.equal(3 * N - 1000);
    await expectComplete(P2, 3 * N);
    const again = await runJob(t, admin, 'accountability', P2);
    expect(again.counts.opened).to.equal(0);
    await expectComplete(P2, 3 * N);
  });
});
