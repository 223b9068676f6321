// Login throttling that protects without locking out (issue 12, item 5; OWASP): failures counted per
// (account, address) and per address across accounts, with real connections from several loopback
// source addresses (127.0.0.2 … bind on Linux loopback) and a fake clock for the windows.
import http from 'node:http';
import { expect } from 'chai';
import { clock } from '../../server/clock.ts';
import { LoginAttempt } from '../../server/models/login-attempt.ts';
import { throttleAddress } from '../../server/http/client.ts';
import { THROTTLE } from '../../server/services/auth.ts';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
}

/** One request over a connection from source address `from`. */
function send(t: TestApp, from: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(t.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, localAddress: from, agent: false, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json')) parsed = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const tokenFrom = (t: TestApp, from: string, username: string, password: string, headers: Record<string, string> = {}) =>
  send(t, from, 'POST', '/api/v1/auth/token', JSON.stringify({ username, password }), { 'content-type': 'application/json', ...headers });

/** The web login form from `from`: GET /login (its cookies and CSRF token), then POST it. */
async function formLogin(t: TestApp, from: string, username: string, password: string): Promise<Reply> {
  const page = await send(t, from, 'GET', '/login', undefined, { accept: 'text/html' });
  const cookies = (page.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).join('; ');
  const token = /<input type="hidden" name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (!token) throw new Error('no CSRF field on /login');
  const form = new URLSearchParams({ username, password, _csrf: token }).toString();
  return send(t, from, 'POST', '/login', form, { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', ...(cookies ? { cookie: cookies } : {}) });
}

describe('login throttling: protects without locking out', function () {
  this.timeout(60_000);
  let t: TestApp;
  let now: number;
  const advance = (ms: number) => {
    now += ms;
  };

  before(async () => {
    t = await startTestApp();
  });
  beforeEach(() => {
    now = Date.now();
    clock.set(() => new Date(now));
  });
  afterEach(() => clock.set(null));
  after(async () => {
    clock.set(null);
    await t?.stop();
  });

  /** Checked failures of `u` from `from` until the pair is refused, waiting out each slow-down. */
  async function failUntilRefused(u: { username: string }, from: string): Promise<number> {
    let checked = 0;
    for (let i = 0; i < 20; i++) {
      const r = await tokenFrom(t, from, u.username, `wrong-${i}`);
      if (r.status === 401) {
        checked++;
        continue;
      }
      expect(r.status, r.text).to.equal(429);
      const wait = Number(r.headers['retry-after']);
      if (wait >= 60) return checked; // refused until the window ends
      advance(wait * 1000);
    }
    throw new Error('never refused');
  }

  it('a guesser slows down, then is refused for that account from that address; the owner logs in from another address', async () => {
    const victim = await t.userFor('admin');
    const G = '127.0.0.2';
    expect((await tokenFrom(t, G, victim.username, 'wrong-1')).status).to.equal(401);
    expect((await tokenFrom(t, G, victim.username, 'wrong-2')).status).to.equal(401);
    // Slow-down: the next attempt (even with the right password) must wait, and is told how long.
    const slow = await tokenFrom(t, G, victim.username, victim.password);
    expect(slow.status).to.equal(429);
    expect(slow.body.error.code).to.equal('too_many_attempts');
    expect(slow.body.error.message).to.match(/秒后再试/);
    expect(Number(slow.headers['retry-after'])).to.be.within(1, THROTTLE.slowDownMs / 1000);
    advance(THROTTLE.slowDownMs);
    expect((await tokenFrom(t, G, victim.username, 'wrong-3')).status).to.equal(401);
    // Waiting out every slow-down, the guesser gets perPair checks in all, then is refused until the window ends.
    const more = await failUntilRefused(victim, G);
    expect(3 + more).to.equal(THROTTLE.perPair);
    const refused = await tokenFrom(t, G, victim.username, victim.password);
    expect(refused.status).to.equal(429);
    expect(refused.body.error.message).to.match(/分钟后再试/);
    expect(Number(refused.headers['retry-after'])).to.be.within(60, THROTTLE.windowMs / 1000);

    // The owner, from another address, is not locked out; nor is another user at the guessing address.
    expect((await tokenFrom(t, '127.0.0.1', victim.username, victim.password)).status).to.equal(200);
    const bystander = await t.userFor('office');
    expect((await tokenFrom(t, G, bystander.username, bystander.password)).status).to.equal(200);
    // The window ends: the guessing address may try that account again.
    advance(THROTTLE.windowMs + 1000);
    expect((await tokenFrom(t, G, victim.username, victim.password)).status).to.equal(200);
  });

  it('60 parallel guesses get at most perPair passwords checked (slots taken atomically before the check)', async () => {
    const victim = await t.userFor('reviewer');
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => tokenFrom(t, '127.0.0.3', victim.username, `parallel-${i}`)));
    const checked = replies.filter((r) => r.status === 401).length;
    const refused = replies.filter((r) => r.status === 429).length;
    expect(checked + refused, replies.map((r) => r.status).join(',')).to.equal(60);
    expect(checked).to.be.within(1, THROTTLE.perPair);
    const pair = await LoginAttempt.findOne({ key: `pair:${victim.username.toLowerCase()}|127.0.0.3` }).lean();
    expect(pair!.count).to.equal(checked);
    const addr = await LoginAttempt.findOne({ key: 'ip:127.0.0.3' }).lean();
    expect(addr!.count).to.equal(checked);
    // And the owner elsewhere is unaffected.
    expect((await tokenFrom(t, '127.0.0.1', victim.username, victim.password)).status).to.equal(200);
  });

  it('an address that sprays many accounts is refused for every account, there only, until its window ends', async () => {
    const S = '127.0.0.4';
    const bystander = await t.userFor('office');
    for (let i = 0; i < THROTTLE.perAddress; i++) {
      expect((await tokenFrom(t, S, `sprayed-${i}`, 'nope-nope')).status).to.equal(401);
      if (i === 10) expect((await tokenFrom(t, S, bystander.username, bystander.password)).status, 'a few failures do not lock the address').to.equal(200);
    }
    const r = await tokenFrom(t, S, bystander.username, bystander.password);
    expect(r.status).to.equal(429);
    expect((await tokenFrom(t, '127.0.0.1', bystander.username, bystander.password)).status).to.equal(200);
    advance(THROTTLE.windowMs + 1000);
    expect((await tokenFrom(t, S, bystander.username, bystander.password)).status).to.equal(200);
  });

  it('hammering a refused pair is not counted: it never locks the address for its other users', async () => {
    const H = '127.0.0.5';
    const victim = await t.userFor('admin');
    const checked = await failUntilRefused(victim, H);
    expect(checked).to.equal(THROTTLE.perPair);
    for (let i = 0; i < THROTTLE.perAddress * 2; i++) expect((await tokenFrom(t, H, victim.username, `again-${i}`)).status).to.equal(429);
    expect((await LoginAttempt.findOne({ key: `ip:${H}` }).lean())!.count).to.equal(THROTTLE.perPair);
    const colleague = await t.userFor('reviewer');
    expect((await tokenFrom(t, H, colleague.username, colleague.password)).status).to.equal(200);
  });

  it("a correct password clears the pair's failures and gives the address its slot back", async () => {
    const A = '127.0.0.6';
    const u = await t.userFor('office');
    expect((await tokenFrom(t, A, u.username, 'typo-1')).status).to.equal(401);
    expect((await tokenFrom(t, A, u.username, u.password)).status).to.equal(200);
    expect(await LoginAttempt.countDocuments({ key: `pair:${u.username.toLowerCase()}|${A}` })).to.equal(0);
    expect((await LoginAttempt.findOne({ key: `ip:${A}` }).lean())!.count).to.equal(1);
    // Usernames are matched ignoring case and spaces for counting: " NAME " is the same pair.
    expect((await tokenFrom(t, A, ` ${u.username.toUpperCase()} `, 'typo-2')).status).to.equal(401);
    expect((await LoginAttempt.findOne({ key: `pair:${u.username.toLowerCase()}|${A}` }).lean())!.count).to.equal(1);
  });

  it('without TRUST_PROXY, X-Forwarded-For is not believed: a guesser cannot pick the address it is counted against', async () => {
    const victim = await t.userFor('admin');
    const G = '127.0.0.7';
    let checked = 0;
    for (let i = 0; i < 20; i++) {
      const r = await tokenFrom(t, G, victim.username, `spoof-${i}`, { 'x-forwarded-for': `203.0.113.${i + 1}` });
      if (r.status === 401) checked++;
      else if (Number(r.headers['retry-after']) < 60) advance(Number(r.headers['retry-after']) * 1000);
      else break;
    }
    expect(checked).to.equal(THROTTLE.perPair);
    expect(await LoginAttempt.countDocuments({ key: /^ip:203\.0\.113\./ })).to.equal(0);
  });

  it('the web login form is throttled the same way: 429, a Chinese message and Retry-After', async () => {
    const victim = await t.userFor('office');
    const G = '127.0.0.8';
    await failUntilRefused(victim, G);
    const page = await formLogin(t, G, victim.username, victim.password);
    expect(page.status).to.equal(429);
    expect(page.text).to.contain('登录失败次数过多');
    expect(Number(page.headers['retry-after'])).to.be.greaterThan(0);
    const elsewhere = await formLogin(t, '127.0.0.1', victim.username, victim.password);
    expect(elsewhere.status, elsewhere.text.slice(0, 200)).to.equal(303);
  });
});

describe('login throttling behind the reverse proxy named by TRUST_PROXY', function () {
  this.timeout(60_000);
  let t: TestApp;
  let victim: TestUser;
  let now: number;

  before(async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '127.0.0.9' } });
    victim = await t.userFor('admin');
  });
  beforeEach(() => {
    now = Date.now();
    clock.set(() => new Date(now));
  });
  after(async () => {
    clock.set(null);
    await t?.stop();
  });

  it("counts the client the proxy names in X-Forwarded-For: a guesser behind the proxy is refused, the owner behind the same proxy is not", async () => {
    const PROXY = '127.0.0.9';
    let checked = 0;
    for (let i = 0; i < 20; i++) {
      const r = await tokenFrom(t, PROXY, victim.username, `guess-${i}`, { 'x-forwarded-for': '198.51.100.7' });
      if (r.status === 401) checked++;
      else if (Number(r.headers['retry-after']) < 60) now += Number(r.headers['retry-after']) * 1000;
      else break;
    }
    expect(checked).to.equal(THROTTLE.perPair);
    expect(await LoginAttempt.countDocuments({ key: `pair:${victim.username.toLowerCase()}|198.51.100.7` })).to.equal(1);
    // Another client behind the proxy, with the right password.
    expect((await tokenFrom(t, PROXY, victim.username, victim.password, { 'x-forwarded-for': '198.51.100.8' })).status).to.equal(200);
    // A client spoofing X-Forwarded-For but not connecting through the proxy is counted by its own address.
    const direct = await tokenFrom(t, '127.0.0.10', victim.username, 'direct-1', { 'x-forwarded-for': '198.51.100.8' });
    expect(direct.status).to.equal(401);
    expect(await LoginAttempt.countDocuments({ key: `pair:${victim.username.toLowerCase()}|127.0.0.10` })).to.equal(1);
  });

  it('counts IPv6 clients by their /64: rotating addresses inside it does not reset the count', async () => {
    const u = await t.userFor('reviewer');
    let checked = 0;
    for (let i = 0; i < 20; i++) {
      const r = await tokenFrom(t, '127.0.0.9', u.username, `v6-${i}`, { 'x-forwarded-for': `2001:db8:1:2::${(i + 1).toString(16)}` });
      if (r.status === 401) checked++;
      else if (Number(r.headers['retry-after']) < 60) now += Number(r.headers['retry-after']) * 1000;
      else break;
    }
    expect(checked).to.equal(THROTTLE.perPair);
    expect((await tokenFrom(t, '127.0.0.9', u.username, u.password, { 'x-forwarded-for': '2001:db8:1:3::1' })).status).to.equal(200);
    expect(throttleAddress('2001:DB8:1:2:0:0:0:ff')).to.equal('2001:db8:1:2::/64');
    expect(throttleAddress('::ffff:10.1.2.3')).to.equal('10.1.2.3');
    expect(throttleAddress('10.1.2.3')).to.equal('10.1.2.3');
  });
});
