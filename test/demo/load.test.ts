// loadDemoData on a database that is not empty does nothing (the full load is exercised by the
// browser suite, which starts the real app with DEMO_DATA=1 and checks the province through the API).
import { expect } from 'chai';
import { Unit } from '../../server/models/unit.ts';
import { User } from '../../server/models/user.ts';
import { ReturnRevision } from '../../server/models/return-revision.ts';
import { loadDemoData } from '../../server/services/demo.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('demo loader', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.stop();
  });

  it('does nothing on a database that already has units', async () => {
    await Unit.create({ code: 'D900', name: '已有单位', category: 'department' });
    const users = await User.countDocuments({});
    const r = await loadDemoData();
    expect(r.loaded).to.equal(false);
    expect(r.reason).to.include('已有单位');
    expect(await Unit.countDocuments({})).to.equal(1);
    expect(await User.countDocuments({})).to.equal(users);
    expect(await ReturnRevision.countDocuments({})).to.equal(0);
  });
});
