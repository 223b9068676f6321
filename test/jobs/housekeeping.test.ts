// Housekeeping (jobs/index.ts): token records long past expiry are removed; live, recently expired
// and revoked-but-unexpired ones stay (a revoked token must keep being refused until it expires).
import { expect } from 'chai';
import { housekeeping } from '../../jobs/index.ts';
import { clock } from '../../server/clock.ts';
import { AuthToken } from '../../server/models/auth-token.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

describe('jobs: housekeeping prunes expired token records', function () {
  this.timeout(30_000);
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    clock.set(null);
    await t?.stop();
  });

  it('removes records expired more than a day ago, keeps the others, and the live token still works', async () => {
    const live = await t.userFor('office');
    const old = await t.userFor('reviewer');
    const recent = await t.userFor('admin');
    const now = clock.now().getTime();
    await AuthToken.updateMany({ user: old.id }, { $set: { expiresAt: new Date(now - 25 * 3600_000) } });
    await AuthToken.updateMany({ user: recent.id }, { $set: { expiresAt: new Date(now - 3600_000) } });
    await AuthToken.updateMany({ user: live.id }, { $set: { revokedAt: null } });
    const before = await AuthToken.countDocuments({});

    await housekeeping();

    expect(await AuthToken.countDocuments({ user: old.id })).to.equal(0);
    expect(await AuthToken.countDocuments({ user: recent.id })).to.be.greaterThan(0);
    expect(await AuthToken.countDocuments({ user: live.id })).to.be.greaterThan(0);
    expect(await AuthToken.countDocuments({})).to.equal(before - 1);
    expect((await t.api(live.token).get('/api/v1/auth/me')).status).to.equal(200);
    expect((await t.api(old.token).get('/api/v1/auth/me')).status).to.equal(401);
  });
});
