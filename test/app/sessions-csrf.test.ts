// Sessions only when needed, CSRF tokens never in URLs, Secure cookies over HTTPS (issue 12, item 6).
import http from 'node:http';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { clock } from '../../server/clock.ts';
import { LOGIN_CSRF_TTL_MS } from '../../server/http/csrf.ts';
import { UploadBatch } from '../../server/models/upload-batch.ts';
import { startTestApp, type TestApp, type TestUser, type WebClient } from '../helpers/app.ts';
import { buildWorkbook, createUnits, vals } from '../intake/helpers.ts';

const sessionCount = () => mongoose.connection.db!.collection('sessions').countDocuments();

/** A raw request (no cookie jar), for headers like X-Forwarded-Proto. */
function raw(t: TestApp, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  const url = new URL(t.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, agent: false, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cookiesOf = (h: http.IncomingHttpHeaders) => h['set-cookie'] ?? [];
const tokenOf = (html: string) => /<input type="hidden" name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

describe('sessions only when needed; CSRF tokens in bodies and headers', function () {
  this.timeout(180_000);
  let t: TestApp;
  let admin: TestUser;

  before(async () => {
    t = await startTestApp();
    admin = await t.userFor('admin');
    await createUnits(t, admin.token);
  });
  afterEach(() => clock.set(null));
  after(async () => {
    await t?.stop();
  });

  it('3,000 anonymous requests (login form, redirects, 404s, failed logins) store no session', async () => {
    const before = await sessionCount();
    const paths = ['/login', '/', '/admin/users', '/no-such-page', '/login?next=%2Franking'];
    let sidCookies = 0;
    let i = 0;
    const worker = async () => {
      while (i < 3000) {
        const p = paths[i++ % paths.length]!;
        const r = await raw(t, 'GET', p, { accept: 'text/html' });
        expect(r.status).to.be.oneOf([200, 303, 404]);
        if (cookiesOf(r.headers).some((c) => c.startsWith('sid='))) sidCookies++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // A failed login with a valid form token stores nothing either.
    const w = t.web();
    const bad = await w.postForm('/login', { username: admin.username, password: 'wrong-password' });
    expect(bad.status).to.equal(401);
    expect(w.cookie()).to.equal(null);
    expect(sidCookies).to.equal(0);
    expect(await sessionCount()).to.equal(before);
  });

  it('a login stores exactly one session (a fresh id), its anonymous CSRF cookie is cleared; logout deletes the session', async () => {
    const before = await sessionCount();
    const w = t.web();
    await w.get('/login');
    expect(w.cookies()).to.contain('lcsrf=');
    await w.login(admin.username, admin.password);
    expect(w.cookie()).to.be.a('string');
    expect(w.cookies()).not.to.contain('lcsrf=');
    expect(await sessionCount()).to.equal(before + 1);
    // Pages of a signed-in user carry the session's token (not an anonymous one).
    const page = await w.get('/admin');
    expect(tokenOf(page.text)).to.match(/^[0-9a-f]{64,}$/);
    expect((await w.postForm('/logout', {})).status).to.equal(303);
    expect(await sessionCount()).to.equal(before);
  });

  it("an anonymous token works only with its own cookie, only for LOGIN_CSRF_TTL, and not once signed in", async () => {
    const a = t.web();
    const b = t.web();
    const ta = await a.csrfToken();
    await b.csrfToken();
    // b's cookie with a's token: refused (a forger's own token is no good against a victim's cookie).
    expect((await b.postForm('/login', { username: admin.username, password: admin.password }, { csrf: ta })).status).to.equal(403);
    // A token without its cookie: refused.
    const bare = await raw(t, 'POST', '/login', { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams({ username: admin.username, password: admin.password, _csrf: ta }).toString());
    expect(bare.status).to.equal(403);
    // Expired.
    const start = Date.now();
    clock.set(() => new Date(start + LOGIN_CSRF_TTL_MS + 60_000));
    expect((await a.postForm('/login', { username: admin.username, password: admin.password }, { csrf: ta })).status).to.equal(403);
    clock.set(null);
    // Signed in, the anonymous token no longer counts: the session's synchroniser token is required.
    const tb = await b.csrfToken();
    await b.login(admin.username, admin.password);
    expect((await b.postForm('/logout', {}, { csrf: tb })).status).to.equal(403);
    expect((await b.postForm('/logout', {})).status).to.equal(303);
  });

  describe('multipart forms: the token in a form field or a header, never in the URL', () => {
    let w: WebClient;
    const P = '2026Q4';
    const staged = () => UploadBatch.countDocuments({ status: 'staged' });
    const upload = async (opts: { query?: string; field?: string; header?: string; path?: string }) => {
      const form = new FormData();
      if (opts.field !== undefined) form.append('_csrf', opts.field);
      form.append('file', new Blob([new Uint8Array(await buildWorkbook([{ code: 'D001', values: vals(1) }]))]), 'r.xlsx');
      const path = opts.path ?? `/returns/upload?period=${P}&unit=D001${opts.query !== undefined ? `&_csrf=${encodeURIComponent(opts.query)}` : ''}`;
      const res = await fetch(t.baseUrl + path, {
        method: 'POST',
        body: form,
        headers: { accept: 'text/html', cookie: w.cookies(), ...(opts.header !== undefined ? { 'x-csrf-token': opts.header } : {}) },
        redirect: 'manual',
      });
      return { status: res.status, text: await res.text() };
    };

    before(async () => {
      w = t.web();
      await w.login(admin.username, admin.password);
    });

    it('the upload form carries its token as a hidden field, not in its action', async () => {
      const page = await w.get(`/returns/${P}/D001`);
      expect(page.status).to.equal(200);
      const form = /<form[^>]*action="\/returns\/upload[^"]*"[^>]*>([\s\S]*?)<\/form>/.exec(page.text);
      expect(form, 'the upload form').to.exist;
      expect(form![0]).not.to.contain('_csrf=');
      expect(form![1]).to.match(/<input type="hidden" name="_csrf" value="[0-9a-f]{64,}">/);
    });

    it('token in the query: 403, nothing staged; in the form field or the header: accepted', async () => {
      const token = await w.csrfToken();
      const n = await staged();
      const inQuery = await upload({ query: token });
      expect(inQuery.status).to.equal(403);
      expect(inQuery.text).to.contain('页面已过期');
      expect(await staged()).to.equal(n);
      expect((await upload({})).status, 'no token at all').to.equal(403);
      expect((await upload({ field: 'f'.repeat(64) })).status, 'a wrong token').to.equal(403);
      expect(await staged()).to.equal(n);
      expect((await upload({ field: token })).status).to.equal(303);
      expect((await upload({ header: token })).status).to.equal(303);
      expect(await staged()).to.equal(n + 2);
    });

    it('a multipart post to a route that does not parse multipart needs the header: a _csrf field there is not read', async () => {
      const token = await w.csrfToken();
      const out = await upload({ path: '/logout', field: token });
      expect(out.status).to.equal(403);
      expect((await w.get('/admin')).status, 'still signed in').to.equal(200);
    });
  });
});

describe('Secure cookies when the request came over HTTPS (through the trusted proxy)', function () {
  this.timeout(60_000);

  const secure = (cookies: string[], name: string) => {
    const c = cookies.find((x) => x.startsWith(`${name}=`));
    expect(c, `${name} cookie set`).to.be.a('string');
    return /;\s*secure/i.test(c!);
  };

  async function loginCookies(t: TestApp, user: TestUser, headers: Record<string, string>) {
    const page = await raw(t, 'GET', '/login', { accept: 'text/html', ...headers });
    const lcsrf = cookiesOf(page.headers);
    const cookie = lcsrf.map((c) => c.split(';')[0]).join('; ');
    const body = new URLSearchParams({ username: user.username, password: user.password, _csrf: tokenOf(page.text) }).toString();
    const r = await raw(t, 'POST', '/login', { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers }, body);
    expect(r.status, r.text.slice(0, 200)).to.equal(303);
    return { lcsrf, session: cookiesOf(r.headers) };
  }

  it('behind TRUST_PROXY, X-Forwarded-Proto: https marks the session and CSRF cookies Secure; plain HTTP does not', async () => {
    const t = await startTestApp({ env: { TRUST_PROXY: 'loopback' } });
    try {
      const u = await t.userFor('office');
      const https = await loginCookies(t, u, { 'x-forwarded-proto': 'https' });
      expect(secure(https.lcsrf, 'lcsrf')).to.equal(true);
      expect(secure(https.session, 'sid')).to.equal(true);
      const plain = await loginCookies(t, u, {});
      expect(secure(plain.lcsrf, 'lcsrf')).to.equal(false);
      expect(secure(plain.session, 'sid')).to.equal(false);
    } finally {
      await t.stop();
    }
  });

  it('without TRUST_PROXY, X-Forwarded-Proto is not believed', async () => {
    const t = await startTestApp();
    try {
      const u = await t.userFor('office');
      const r = await loginCookies(t, u, { 'x-forwarded-proto': 'https' });
      expect(secure(r.lcsrf, 'lcsrf')).to.equal(false);
      expect(secure(r.session, 'sid')).to.equal(false);
    } finally {
      await t.stop();
    }
  });
});
