// Large reads come in replies of at most DOCS_PER_COMMAND documents (server/db/limits.ts): a reply is
// decoded by the driver on the app's event loop in one go, and MongoDB's default reply (≤ 16 MB) would be
// a whole national province of units, cases or result rows at once.
import { expect } from 'chai';
import mongoose from 'mongoose';
import { DOCS_PER_COMMAND } from '../../server/db/limits.ts';
import { Case } from '../../server/models/case.ts';
import { Unit } from '../../server/models/unit.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('scale: large reads in bounded replies', function () {
  this.timeout(120_000);
  let t: TestApp;
  const N = 2 * DOCS_PER_COMMAND + 500;

  before(async () => {
    t = await startTestApp({ periods: ['2026Q3'] });
    const units = Array.from({ length: N }, (_, i) => ({ code: `X${String(i).padStart(5, '0')}`, name: `县${i}`, category: 'county', active: true }));
    await Unit.insertMany(units, { lean: true });
    await Case.insertMany(
      units.map((u) => ({ period: '2026Q3', unit: u.code, rule: 'A1', status: 'open', openedAt: new Date('2026-10-20T02:00:00Z'), dueAt: new Date('2026-11-20T02:00:00Z') })),
      { lean: true },
    );
  });
  after(() => t?.stop());

  it('the views that read all units or all cases ask for replies of ≤ DOCS_PER_COMMAND documents, and get them', async () => {
    const finds: { collection: string; batchSize: unknown }[] = [];
    mongoose.set('debug', (collection: string, method: string, _filter: unknown, options?: { batchSize?: unknown }) => {
      if (method === 'find' && ['units', 'cases', 'notices'].includes(collection)) finds.push({ collection, batchSize: options?.batchSize });
    });
    try {
      const { listUnits } = await import('../../server/services/units.ts');
      const { annualResults } = await import('../../server/services/eligibility.ts');
      expect((await listUnits({ activeOnly: true })).length).to.equal(N);
      expect((await annualResults(2026)).results).to.deep.equal([]); // its units and the year's cases (no results yet)
      const admin = await t.userFor('admin');
      const cases = await t.api(admin.token).get('/api/v1/accountability?period=2026Q3');
      expect(cases.status, cases.text).to.equal(200);
      const web = t.web();
      await web.login(admin.username, admin.password);
      expect((await web.get('/accountability?period=2026Q3')).status).to.equal(200);
      expect((await web.get('/progress?period=2026Q3')).status).to.equal(200);
    } finally {
      mongoose.set('debug', false);
    }
    expect(finds.length).to.be.at.least(5);
    expect(finds.filter((f) => f.batchSize !== DOCS_PER_COMMAND), JSON.stringify(finds)).to.deep.equal([]);
    // The engine answers such a read in replies of that size (as MongoDB does).
    const cursor = Unit.collection.find({}, { batchSize: DOCS_PER_COMMAND });
    let n = 0;
    for await (const _ of cursor) {
      void _;
      n++;
      expect(cursor.bufferedCount()).to.be.below(DOCS_PER_COMMAND);
    }
    expect(n).to.equal(N);
  });
});
