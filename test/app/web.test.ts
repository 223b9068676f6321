// The web side over real HTTP: security headers, CSRF on every form, session login / logout,
// the layout (zh-CN, navigation by role, no inline script) and the users admin page.
import { expect } from 'chai';
import { Unit } from '../../server/models/unit.ts';
import { User } from '../../server/models/user.ts';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.ts';

const INLINE_SCRIPT = /<script(?![^>]*\bsrc=)[^>]*>/i;
const INLINE_HANDLER = /\son[a-z]+\s*=/i;

describe('web: headers, CSRF, sessions, layout, users admin', function () {
  this.timeout(30_000);
  let t: TestApp;
  let admin: TestUser;
  let reporter: TestUser;

  before(async () => {
    t = await startTestApp();
    await Unit.create({ code: 'C0571', name: '杭州市', category: 'city' });
    admin = await t.userFor('admin');
    reporter = await t.userFor('reporter', 'C0571');
  });
  after(async () => {
    await t?.stop();
  });

  it('sends a CSP without inline script, and the other helmet headers', async () => {
    for (const p of ['/login', '/api/v1/auth/me', '/healthz']) {
      const r = await t.api().get(p);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, p).to.contain("script-src 'self'");
      const scriptSrc = csp.split(';').find((d) => d.trim().startsWith('script-src ')) ?? '';
      expect(scriptSrc).to.not.contain('unsafe-inline');
      expect(csp).to.contain("frame-ancestors 'none'");
      expect(csp).to.contain("object-src 'none'");
      expect(r.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(r.headers.get('x-powered-by')).to.equal(null);
    }
  });

  it('serves the login page in Chinese with a CSRF field and no inline script', async () => {
    const w = t.web();
    const r = await w.get('/login');
    expect(r.status).to.equal(200);
    expect(r.text).to.contain('<html lang="zh-CN"');
    expect(r.text).to.contain('数据共享考核平台');
    expect(r.text).to.match(/<input type="hidden" name="_csrf" value="[0-9a-z]+\.[A-Za-z0-9_-]{43}">/);
    expect(r.text).to.not.match(INLINE_SCRIPT);
    expect(r.text).to.not.match(INLINE_HANDLER);
    // No session for an anonymous visitor: the form's token is bound to a short-lived cookie instead.
    expect(w.cookie(), 'no session cookie').to.equal(null);
    expect(w.cookies()).to.match(/(^|; )lcsrf=/);
  });

  it('pages redirect anonymous visitors to /login with the page to come back to', async () => {
    const r = await t.web().get('/admin/users');
    expect(r.status).to.equal(303);
    expect(r.location).to.equal('/login?next=%2Fadmin%2Fusers');
  });

  it('refuses a form post without a CSRF token (403), or with a wrong one', async () => {
    const w = t.web();
    await w.get('/login');
    const none = await w.postForm('/login', { username: admin.username, password: admin.password }, { csrf: false });
    expect(none.status).to.equal(403);
    expect(none.text).to.contain('页面已过期');
    const wrong = await w.postForm('/login', { username: admin.username, password: admin.password }, { csrf: 'f'.repeat(64) });
    expect(wrong.status).to.equal(403);
    // A token from another session is no good either.
    const other = t.web();
    const foreign = await other.csrfToken();
    expect((await w.postForm('/login', { username: admin.username, password: admin.password }, { csrf: foreign })).status).to.equal(403);
  });

  it('logs in (new session id, back to the page asked for), shows the user, logs out with a CSRF form', async () => {
    const w = t.web();
    await w.get('/login');
    const before = w.cookie();
    const r = await w.postForm('/login', { username: admin.username, password: admin.password, next: '/admin/users' });
    expect(r.status).to.equal(303);
    expect(r.location).to.equal('/admin/users');
    expect(w.cookie()).to.be.a('string').and.not.equal(before);
    const page = await w.get('/admin/users');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(admin.username);
    expect(page.text).to.match(/<form method="post" action="\/logout"[^>]*>\s*<input type="hidden" name="_csrf"/);
    expect(page.text).to.not.match(INLINE_SCRIPT);
    expect((await w.postForm('/logout', {}, { csrf: false })).status).to.equal(403);
    const out = await w.postForm('/logout', {});
    expect(out.status).to.equal(303);
    expect(out.location).to.equal('/login');
    expect((await w.get('/admin/users')).status).to.equal(303);
  });

  it('never redirects off-site after login', async () => {
    const w = t.web();
    const r = await w.postForm('/login', { username: admin.username, password: admin.password, next: '//evil.example/x' });
    expect(r.status).to.equal(303);
    expect(r.location).to.equal('/');
  });

  it('a wrong password re-renders the form with a Chinese message (401)', async () => {
    const r = await t.web().postForm('/login', { username: reporter.username, password: 'wrong-one' });
    expect(r.status).to.equal(401);
    expect(r.text).to.contain('用户名或密码错误');
    expect(r.text).to.contain(`value="${reporter.username}"`);
  });

  it('shows navigation by role; a reporter gets 403 on admin pages', async () => {
    const a = t.web();
    await a.login(admin.username, admin.password);
    const ap = await a.get('/admin');
    expect(ap.status).to.equal(200);
    for (const href of ['/ranking', '/review', '/progress', '/accountability', '/admin']) expect(ap.text).to.contain(`href="${href}"`);
    expect(ap.text).to.contain('href="/admin/users"');

    const r = t.web();
    await r.login(reporter.username, reporter.password);
    const rp = await r.get('/admin');
    expect(rp.status).to.equal(403);
    expect(rp.text).to.contain('无权访问');
    expect(rp.text).to.contain('href="/returns"');
    expect(rp.text).to.not.contain('href="/admin"');
    expect(rp.text).to.not.contain('href="/review"');
    expect(rp.text).to.contain('C0571');
  });

  it('page scripts may call the API with the session: CSRF header required for writes', async () => {
    const w = t.web();
    await w.login(admin.username, admin.password);
    const api = w.api();
    expect((await api.get('/api/v1/auth/me')).body.username).to.equal(admin.username);
    const noHeader = await api.post('/api/v1/users', { username: 'sess-1', password: 'password-123', role: 'office' }, { 'x-csrf-token': '' });
    expect(noHeader.status).to.equal(403);
    expect(noHeader.body.error.code).to.equal('csrf_invalid');
    const ok = await api.post('/api/v1/users', { username: 'sess-2', password: 'password-123', role: 'office' });
    expect(ok.status).to.equal(201);
  });

  it('users admin page: create, deactivate (ends their session), reactivate, reset password', async () => {
    const w = t.web();
    await w.login(admin.username, admin.password);
    const created = await w.postForm('/admin/users', { username: 'zhang.san', displayName: '张三', password: 'initial-pass', role: 'reporter', unit: 'C0571' });
    expect(created.status).to.equal(303);
    let page = await w.get('/admin/users');
    expect(page.text).to.contain('已创建用户 zhang.san');
    expect(page.text).to.contain('张三');
    const u = await User.findOne({ username: 'zhang.san' }).lean();
    expect(u).to.include({ role: 'reporter', unit: 'C0571', active: true });

    // A bad form is shown as a message, nothing created.
    await w.postForm('/admin/users', { username: 'li.si', password: 'initial-pass', role: 'reporter', unit: '' });
    page = await w.get('/admin/users');
    expect(page.text).to.contain('填报员必须指定所属单位');
    expect(await User.exists({ username: 'li.si' })).to.equal(null);

    const z = t.web();
    await z.login('zhang.san', 'initial-pass');
    expect((await z.get('/login')).status).to.equal(303); // signed in

    expect((await w.postForm(`/admin/users/${u!._id}/deactivate`, {})).status).to.equal(303);
    expect((await User.findById(u!._id).lean())!.active).to.equal(false);
    const kicked = await z.get('/admin');
    expect(kicked.status).to.equal(303);
    expect(kicked.location).to.match(/^\/login/);

    expect((await w.postForm(`/admin/users/${u!._id}/activate`, {})).status).to.equal(303);
    expect((await w.postForm(`/admin/users/${u!._id}/password`, { password: 'second-pass' })).status).to.equal(303);
    const z2 = t.web();
    expect((await z2.postForm('/login', { username: 'zhang.san', password: 'initial-pass' })).status).to.equal(401);
    await z2.login('zhang.san', 'second-pass');
  });

  it('serves the stylesheets and Chart.js locally', async () => {
    const css = await t.api().get('/public/css/app.css');
    expect(css.status).to.equal(200);
    expect(css.headers.get('content-type')).to.contain('text/css');
    const print = await t.api().get('/public/css/print.css');
    expect(print.text).to.contain('@page');
    const chart = await t.api().get('/vendor/chart.js/chart.umd.min.js');
    expect(chart.status).to.equal(200);
    expect(chart.headers.get('content-type')).to.match(/javascript/);
    expect(chart.buffer.toString('utf8', 0, 2000)).to.contain('Chart');
  });

  it('unknown pages get the Chinese 404 page', async () => {
    const w = t.web();
    await w.login(admin.username, admin.password);
    const r = await w.get('/no/such/page');
    expect(r.status).to.equal(404);
    expect(r.text).to.contain('页面不存在');
    expect(r.text).to.contain('<html lang="zh-CN"');
  });
});
