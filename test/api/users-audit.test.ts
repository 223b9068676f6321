// User administration is audited (who created, deactivated, reactivated an account or reset its
// password, and when) — through the API and the admin pages — and the trail never holds a password.
import { expect } from 'chai';
import { clock } from '../../server/clock.ts';
import { AuditLog } from '../../server/models/audit-log.ts';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.ts';

async function entriesFor(entityId: string) {
  return AuditLog.find({ entity: 'user', entityId }).sort({ at: 1, _id: 1 }).lean();
}

describe('users: administration is in the audit trail', function () {
  this.timeout(30_000);
  let t: TestApp;
  let admin: TestUser;

  before(async () => {
    t = await startTestApp();
    admin = await t.userFor('admin', undefined, { username: 'chief-admin' });
  });
  after(async () => {
    clock.set(null);
    await t?.stop();
  });

  it('API: create, deactivate, reactivate and password reset each leave one entry by the acting admin', async () => {
    const created = await t.api(admin.token).post('/api/v1/users', { username: 'audited-office', password: 'password-123', role: 'office' });
    expect(created.status).to.equal(201);
    const id = created.body.id as string;
    expect((await t.api(admin.token).patch(`/api/v1/users/${id}`, { active: false })).status).to.equal(200);
    expect((await t.api(admin.token).patch(`/api/v1/users/${id}`, { active: true })).status).to.equal(200);
    expect((await t.api(admin.token).patch(`/api/v1/users/${id}`, { password: 'another-pass-1' })).status).to.equal(200);

    const entries = await entriesFor(id);
    expect(entries.map((e) => e.action)).to.deep.equal(['user.create', 'user.deactivate', 'user.activate', 'user.password_reset']);
    for (const e of entries) {
      expect(e.actor).to.equal('chief-admin');
      expect(e.actorRole).to.equal('admin');
    }
    expect(entries[0]!.after).to.deep.equal({ username: 'audited-office', role: 'office', unit: null, displayName: null, active: true });
    expect((entries[1]!.before as { active: boolean }).active).to.equal(true);
    expect((entries[1]!.after as { active: boolean }).active).to.equal(false);
    const text = JSON.stringify(entries);
    expect(text).not.to.match(/passwordHash|password-123|another-pass-1|\$2[aby]\$/);
  });

  it('a request that changes nothing (already active) or is refused writes no entry', async () => {
    const created = await t.api(admin.token).post('/api/v1/users', { username: 'audited-rep', password: 'password-123', role: 'office' });
    const id = created.body.id as string;
    expect((await t.api(admin.token).patch(`/api/v1/users/${id}`, { active: true })).status).to.equal(200);
    expect((await t.api(admin.token).patch(`/api/v1/users/${id}`, { password: 'x' })).status).to.equal(400);
    expect((await t.api(admin.token).post('/api/v1/users', { username: 'audited-rep', password: 'password-123', role: 'office' })).status).to.equal(409);
    expect((await entriesFor(id)).map((e) => e.action)).to.deep.equal(['user.create']);
  });

  it('admin pages: deactivating a user through the form is audited with the admin as actor', async () => {
    const created = await t.api(admin.token).post('/api/v1/users', { username: 'audited-web', password: 'password-123', role: 'reviewer' });
    const id = created.body.id as string;
    const w = t.web();
    await w.login(admin.username, admin.password);
    const r = await w.postForm(`/admin/users/${id}/deactivate`, {});
    expect(r.status).to.equal(303);
    const entries = await entriesFor(id);
    expect(entries.map((e) => [e.action, e.actor])).to.deep.equal([
      ['user.create', 'chief-admin'],
      ['user.deactivate', 'chief-admin'],
    ]);
  });
});
