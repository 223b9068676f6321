// Accounts and API tokens over real HTTP: issue, expiry, revocation, deactivation, password reset,
// users API validation (login throttling: login-throttle.test.ts).
import { expect } from 'chai';
import { clock } from '../../server/clock.ts';
import { Unit } from '../../server/models/unit.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

function expectError(res: { status: number; body: any }, status: number, code?: string) {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.body).to.have.property('error');
  expect(res.body.error.code).to.be.a('string');
  expect(res.body.error.message).to.be.a('string').and.not.empty;
  if (code) expect(res.body.error.code).to.equal(code);
}

describe('auth: API tokens and users', function () {
  this.timeout(30_000);
  let t: TestApp;
  let admin: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor('admin');
    await Unit.create({ code: 'D001', name: '省发展改革委', category: 'department' });
  });
  after(async () => {
    clock.set(null);
    await t?.stop();
  });

  it('issues a signed, expiring token for good credentials', async () => {
    const u = await t.userFor('office');
    const r = await t.api().post('/api/v1/auth/token', { username: u.username, password: u.password });
    expect(r.status).to.equal(200);
    expect(r.body.token).to.be.a('string').and.match(/^[\w-]+\.[\w-]+$/);
    const ttl = new Date(r.body.expiresAt).getTime() - Date.now();
    expect(ttl).to.be.greaterThan(11 * 3600 * 1000).and.at.most(12 * 3600 * 1000);
    const me = await t.api(r.body.token).get('/api/v1/auth/me');
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ username: u.username, role: 'office' });
    expect(me.body).to.not.have.property('unit');
  });

  it('refuses bad credentials with 401 and missing ones with 400', async () => {
    const u = await t.userFor('reviewer');
    expectError(await t.api().post('/api/v1/auth/token', { username: u.username, password: 'wrong-password' }), 401, 'invalid_credentials');
    expectError(await t.api().post('/api/v1/auth/token', { username: 'ghost', password: 'whatever-123' }), 401, 'invalid_credentials');
    expectError(await t.api().post('/api/v1/auth/token', { username: u.username }), 400, 'missing_credentials');
  });

  it('answers 401 without a token, with a malformed one and with a tampered one', async () => {
    expectError(await t.api().get('/api/v1/auth/me'), 401, 'unauthorized');
    expectError(await t.api('not-a-token').get('/api/v1/auth/me'), 401, 'unauthorized');
    expectError(await t.api().get('/api/v1/auth/me', { authorization: 'Basic YWRtaW46eA==' }), 401, 'unauthorized');
    const u = await t.userFor('office');
    const [body, sig] = u.token.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, exp: payload.exp + 3600 })).toString('base64url');
    expectError(await t.api(`${forged}.${sig}`).get('/api/v1/auth/me'), 401);
    const flipped = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA');
    expectError(await t.api(`${body}.${flipped}`).get('/api/v1/auth/me'), 401);
    expect((await t.api(u.token).get('/api/v1/auth/me')).status).to.equal(200);
  });

  it('tokens expire', async () => {
    const u = await t.userFor('office');
    expect((await t.api(u.token).get('/api/v1/auth/me')).status).to.equal(200);
    const base = Date.now();
    clock.set(() => new Date(base + t.config.tokenTtlSeconds * 1000 + 1000));
    try {
      expectError(await t.api(u.token).get('/api/v1/auth/me'), 401);
    } finally {
      clock.set(null);
    }
    expect((await t.api(u.token).get('/api/v1/auth/me')).status).to.equal(200);
  });

  it('DELETE /auth/token revokes that token only', async () => {
    const u = await t.userFor('reviewer');
    const second = (await t.api().post('/api/v1/auth/token', { username: u.username, password: u.password })).body.token;
    const del = await t.api(u.token).delete('/api/v1/auth/token');
    expect(del.status).to.equal(204);
    expectError(await t.api(u.token).get('/api/v1/auth/me'), 401);
    expect((await t.api(second).get('/api/v1/auth/me')).status).to.equal(200);
  });

  it('deactivating a user revokes their tokens and refuses their login; reactivation allows a new login', async () => {
    const u = await t.userFor('office');
    const off = await t.api(admin).patch(`/api/v1/users/${u.id}`, { active: false });
    expect(off.status).to.equal(200);
    expect(off.body.active).to.equal(false);
    expectError(await t.api(u.token).get('/api/v1/auth/me'), 401);
    expectError(await t.api().post('/api/v1/auth/token', { username: u.username, password: u.password }), 401, 'invalid_credentials');
    expect((await t.api(admin).patch(`/api/v1/users/${u.id}`, { active: true })).status).to.equal(200);
    expectError(await t.api(u.token).get('/api/v1/auth/me'), 401); // revoked for good
    const again = await t.api().post('/api/v1/auth/token', { username: u.username, password: u.password });
    expect(again.status).to.equal(200);
  });

  it('an admin cannot deactivate themself', async () => {
    const me = (await t.api(admin).get('/api/v1/auth/me')).body;
    expectError(await t.api(admin).patch(`/api/v1/users/${me.id}`, { active: false }), 400, 'cannot_deactivate_self');
  });

  it('resetting a password revokes the tokens; only the new password works', async () => {
    const u = await t.userFor('reviewer');
    expect((await t.api(admin).patch(`/api/v1/users/${u.id}`, { password: 'brand-new-pass' })).status).to.equal(200);
    expectError(await t.api(u.token).get('/api/v1/auth/me'), 401);
    expectError(await t.api().post('/api/v1/auth/token', { username: u.username, password: u.password }), 401);
    expect((await t.api().post('/api/v1/auth/token', { username: u.username, password: 'brand-new-pass' })).status).to.equal(200);
  });

  describe('POST /api/v1/users', () => {
    it('creates users of every role (reporters bound to an existing unit) → 201', async () => {
      for (const role of ['admin', 'reviewer', 'office']) {
        const r = await t.api(admin).post('/api/v1/users', { username: `new-${role}`, password: 'password-123', role });
        expect(r.status, r.text).to.equal(201);
        expect(r.body).to.include({ username: `new-${role}`, role, active: true, unit: null });
        expect(r.body).to.not.have.property('passwordHash');
      }
      const rep = await t.api(admin).post('/api/v1/users', { username: 'new-reporter', password: 'password-123', role: 'reporter', unit: 'D001' });
      expect(rep.status).to.equal(201);
      expect(rep.body.unit).to.equal('D001');
      const tok = await t.api().post('/api/v1/auth/token', { username: 'new-reporter', password: 'password-123' });
      expect((await t.api(tok.body.token).get('/api/v1/auth/me')).body).to.include({ role: 'reporter', unit: 'D001' });
      const list = await t.api(admin).get('/api/v1/users');
      expect(list.body.map((u: { username: string }) => u.username)).to.include.members(['new-admin', 'new-reporter']);
    });

    it('refuses bad input with 400 and a taken name with 409', async () => {
      const post = (b: object) => t.api(admin).post('/api/v1/users', b);
      expectError(await post({ username: 'r1', password: 'password-123', role: 'reporter' }), 400, 'unit_required');
      expectError(await post({ username: 'r1', password: 'password-123', role: 'reporter', unit: 'X999' }), 400, 'unknown_unit');
      expectError(await post({ username: 'o1', password: 'password-123', role: 'office', unit: 'D001' }), 400, 'unit_not_allowed');
      expectError(await post({ username: 'o1', password: 'short', role: 'office' }), 400, 'weak_password');
      expectError(await post({ username: 'o1', password: 'password-123', role: 'boss' }), 400, 'invalid_role');
      expectError(await post({ username: 'a b', password: 'password-123', role: 'office' }), 400, 'invalid_username');
      expect((await post({ username: 'dup', password: 'password-123', role: 'office' })).status).to.equal(201);
      expectError(await post({ username: 'dup', password: 'password-123', role: 'reviewer' }), 409, 'username_taken');
    });

    it('is for admins only: 401 anonymous, 403 other roles', async () => {
      const body = { username: 'x-user', password: 'password-123', role: 'office' };
      expectError(await t.api().post('/api/v1/users', body), 401, 'unauthorized');
      for (const role of ['reviewer', 'office'] as const) expectError(await t.api(await t.tokenFor(role)).post('/api/v1/users', body), 403, 'forbidden');
      expectError(await t.api(await t.tokenFor('reporter', 'D001')).post('/api/v1/users', body), 403, 'forbidden');
    });
  });
});

// Login throttling: test/api/login-throttle.test.ts.
