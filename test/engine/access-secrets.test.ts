// What the signing secrets kept in the database are worth to an attacker (issue 12 item 3): the
// token key is in app_secrets, but a token carries no role — only {jti, sub, exp} — and every
// request reads the token record and the user record again. So a token forged with the key gets
// the role the user record has right now, only for a token record that exists, is not revoked, is
// for that user and has not expired (whatever `exp` the forger writes). Real HTTP, real app.
import { expect } from 'chai';
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { clock } from '../../server/clock.ts';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.ts';

interface Payload {
  jti: string;
  sub: string;
  exp: number;
  [k: string]: unknown;
}

describe('engine access: signing secrets in the database do not make an admin', function () {
  this.timeout(60_000);
  let t: TestApp;
  let key: string;
  let admin: TestUser;
  let reporter: TestUser;

  const decode = (token: string): Payload => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Payload;
  const forge = (payload: Payload): string => {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${crypto.createHmac('sha256', key).update(body).digest('base64url')}`;
  };
  const users = () => t.db.connection.db!.collection('users');

  before(async () => {
    t = await startTestApp();
    admin = await t.userFor('admin');
    reporter = await t.userFor('reporter', 'D001');
    // what someone with read access to the database (or a copy of DATA_DIR) has
    const secret = await t.db.connection.db!.collection('app_secrets').findOne({ name: 'token' });
    expect(secret, 'the token key is generated into the database when TOKEN_SECRET is unset').to.not.equal(null);
    key = String(secret!.value);
  });
  after(async () => {
    clock.set(null);
    await t?.stop();
  });

  it('control: the key and the format above reproduce an issued token exactly', () => {
    expect(forge(decode(reporter.token))).to.equal(reporter.token);
    expect(forge(decode(admin.token))).to.equal(admin.token);
  });

  it('a token naming the admin with a made-up jti is refused (401): no token record', async () => {
    const forged = forge({ jti: crypto.randomBytes(16).toString('base64url'), sub: admin.id, exp: Math.floor(Date.now() / 1000) + 3600 });
    expect((await t.api(forged).get('/api/v1/users')).status).to.equal(401);
    expect((await t.api(forged).get('/api/v1/units')).status).to.equal(401);
  });

  it("the reporter's own token record re-pointed at the admin (sub) is refused (401): the record names the reporter", async () => {
    const forged = forge({ ...decode(reporter.token), sub: admin.id });
    expect((await t.api(forged).get('/api/v1/users')).status).to.equal(401);
  });

  it("a role claim added to the reporter's token is ignored: still a reporter (403 on an admin route, 200 on a reporter's)", async () => {
    const forged = forge({ ...decode(reporter.token), role: 'admin', admin: true });
    expect((await t.api(forged).get('/api/v1/units')).status).to.equal(200);
    const r = await t.api(forged).get('/api/v1/users');
    expect(r.status).to.equal(403);
    expect(r.body.error.code).to.be.a('string');
  });

  it("a far-future exp does not outlive the token record's expiry (401 after it)", async () => {
    const forged = forge({ ...decode(reporter.token), exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86400 });
    expect((await t.api(forged).get('/api/v1/units')).status).to.equal(200);
    const later = new Date(Date.now() + (t.config.tokenTtlSeconds + 60) * 1000);
    clock.set(() => later);
    try {
      expect((await t.api(forged).get('/api/v1/units')).status).to.equal(401);
    } finally {
      clock.set(null);
    }
  });

  it('the role is read from the user record on every request: demoted → 403 at once, deactivated → 401, restored → 200', async () => {
    const id = new mongoose.Types.ObjectId(admin.id);
    expect((await t.api(admin.token).get('/api/v1/users')).status).to.equal(200);
    await users().updateOne({ _id: id }, { $set: { role: 'reviewer' } });
    expect((await t.api(admin.token).get('/api/v1/users')).status).to.equal(403);
    await users().updateOne({ _id: id }, { $set: { role: 'admin', active: false } });
    expect((await t.api(admin.token).get('/api/v1/users')).status).to.equal(401);
    await users().updateOne({ _id: id }, { $set: { active: true } });
    expect((await t.api(admin.token).get('/api/v1/users')).status).to.equal(200);
  });

  it('a revoked token record stays revoked for a forged copy of the token (401)', async () => {
    const victim = await t.userFor('reviewer');
    const forged = forge(decode(victim.token));
    expect((await t.api(forged).get('/api/v1/units')).status).to.equal(200);
    await t.db.connection.db!.collection('auth_tokens').updateOne({ jti: decode(victim.token).jti }, { $set: { revokedAt: new Date() } });
    expect((await t.api(forged).get('/api/v1/units')).status).to.equal(401);
  });
});
