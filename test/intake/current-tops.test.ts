// The numbering read of an upload (currentTops): each unit's highest revision of the period, visible
// or not — committed on its own, in a committed batch, or in a batch still in flight — and only that
// one per unit, however many revisions the unit holds (re-uploads on deadline day).
import { expect } from 'chai';
import { Types } from 'mongoose';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { currentTops } from '../../server/services/returns.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

const P = '2026Q3';

describe('intake: currentTops gives each unit its highest revision', function () {
  this.timeout(60_000);
  let t: TestApp;
  const inFlight = new Types.ObjectId();
  const committedBatch = new Types.ObjectId();

  before(async () => {
    t = await startTestApp({ periods: [P, '2026Q2'] });
    const rev = (unit: string, period: string, revision: number, more: Record<string, unknown>) => ({
      unit, period, revision, values: {}, source: 'api', submittedBy: 'admin', submittedAt: new Date('2026-10-01T00:00:00Z'), file: null, review: null, ...more,
    });
    await ReturnRevision.collection.insertMany([
      // stored out of order on purpose: the read may not rely on insertion order
      rev('A', P, 2, { committed: true, batch: null }),
      rev('A', P, 3, { committed: false, batch: inFlight }),
      rev('A', P, 1, { committed: true, batch: null }),
      rev('B', P, 1, { committed: true, batch: null }),
      rev('C', P, 1, { committed: true, batch: null }),
      rev('C', P, 2, { committed: false, batch: committedBatch }),
      rev('D', '2026Q2', 7, { committed: true, batch: null }),
      ...Array.from({ length: 12 }, (_, i) => rev('E', P, 12 - i, { committed: true, batch: null })),
    ]);
  });
  after(() => t.stop());

  const plain = (m: Map<string, { unit: string; revision: number; committed: boolean; batch?: Types.ObjectId | null }>) =>
    Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { unit: v.unit, revision: v.revision, committed: v.committed, batch: v.batch ? String(v.batch) : null }]));

  it('for every unit of the period', async () => {
    expect(plain(await currentTops(P))).to.deep.equal({
      A: { unit: 'A', revision: 3, committed: false, batch: String(inFlight) },
      B: { unit: 'B', revision: 1, committed: true, batch: null },
      C: { unit: 'C', revision: 2, committed: false, batch: String(committedBatch) },
      E: { unit: 'E', revision: 12, committed: true, batch: null },
    });
  });

  it('for some units only (other periods and units left out)', async () => {
    expect(plain(await currentTops(P, ['C', 'E', 'D', 'Z']))).to.deep.equal({
      C: { unit: 'C', revision: 2, committed: false, batch: String(committedBatch) },
      E: { unit: 'E', revision: 12, committed: true, batch: null },
    });
  });
});
