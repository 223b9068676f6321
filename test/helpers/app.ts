// The shared test harness: the real app on the embedded engine, over real HTTP.
//
//   const t = await startTestApp();            // fresh engine on a temp dir + the app on an ephemeral port
//   const admin = await t.tokenFor('admin');    // creates a user with that role, returns a bearer token
//   const rep = await t.tokenFor('reporter', 'D001');   // (does not create unit D001)
//   const r = await t.api(admin).put('/api/v1/units/D001', { name: '…', category: 'department' });
//   expect(r.status).to.equal(200); r.body …
//   await t.api(rep).postFile('/api/v1/returns/upload?period=2026Q3', 'file', buf, 'r.xlsx');
//   const w = t.web(); await w.login(username, password); const page = await w.get('/');
//   await t.stop();
//
// One app per test file (before/after). Starting a new app stops the previous one of this process.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/app.ts';
import { clock } from '../../server/clock.ts';
import { loadConfig, type Config } from '../../server/config.ts';
import { connectDb, ensureIndexes, type DbHandle } from '../../server/db/connect.ts';
import type { Role } from '../../server/domain/fields.ts';
import { setLogLevel } from '../../server/log.ts';
import { createUser } from '../../server/services/users.ts';
import { prepareDatabase } from '../../server/boot.ts';
import { openForAssessment } from '../../server/results/publication.ts';
import { FreshnessWorker, startFreshness } from '../../jobs/freshness.ts';

export interface HttpResult<T = any> {
  status: number;
  /** Parsed JSON when the response is JSON, else the text (or null for binary types). */
  body: T;
  text: string;
  /** The raw bytes (downloads: xlsx …). */
  buffer: Buffer;
  headers: Headers;
}

export interface ApiClient {
  get<T = any>(p: string, headers?: Record<string, string>): Promise<HttpResult<T>>;
  delete<T = any>(p: string, headers?: Record<string, string>): Promise<HttpResult<T>>;
  post<T = any>(p: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult<T>>;
  put<T = any>(p: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult<T>>;
  patch<T = any>(p: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult<T>>;
  /** multipart/form-data with one file field (and optional text fields). */
  postFile<T = any>(p: string, field: string, data: Buffer | Uint8Array, filename: string, fields?: Record<string, string>, headers?: Record<string, string>): Promise<HttpResult<T>>;
  /** Any request: raw body (string / Buffer) and headers as given. */
  raw<T = any>(method: string, p: string, init?: { body?: string | Buffer; headers?: Record<string, string> }): Promise<HttpResult<T>>;
}

export interface WebClient {
  /** GET without following redirects; `location` is set on 3xx. */
  get(p: string): Promise<HttpResult<string> & { location: string | null }>;
  /** POST an urlencoded form; the CSRF token is added unless `csrf: false` (or a string to send instead). */
  postForm(p: string, fields: Record<string, string>, opts?: { csrf?: boolean | string }): Promise<HttpResult<string> & { location: string | null }>;
  /** The session's CSRF token (read from a page's <meta name="csrf-token">). */
  csrfToken(): Promise<string>;
  /** Logs in through the login form; throws unless it redirects. */
  login(username: string, password: string): Promise<void>;
  /** Calls the JSON API with this browser session (cookie + X-CSRF-Token), as page scripts do. */
  api(): ApiClient;
  /** The session cookie's value (null when none). */
  cookie(): string | null;
  /** Every cookie of the jar as a Cookie header value ('' when none). */
  cookies(): string;
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: Role;
  unit?: string;
  token: string;
}

export interface TestApp {
  baseUrl: string;
  config: Config;
  db: DbHandle;
  dataDir: string;
  /** JSON API client; pass a bearer token or nothing (anonymous). */
  api(token?: string | null): ApiClient;
  /** Creates an active user of the role (reporters need a unit code; the unit itself is not created) and returns a bearer token. */
  tokenFor(role: Role, unit?: string): Promise<string>;
  /** Same, returning the whole user (username, password, token …). */
  userFor(role: Role, unit?: string, opts?: { username?: string; password?: string }): Promise<TestUser>;
  /** A browser-like client with its own cookie jar. */
  web(): WebClient;
  /** The recomputation worker of this app (jobs/freshness.ts). */
  freshness: FreshnessWorker;
  /** Waits until provisional results have caught up with every change made so far. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export interface TestAppOptions {
  /** Extra environment for loadConfig (e.g. { UPLOAD_MAX_BYTES: '2048' }). */
  env?: Record<string, string>;
  /**
   * Periods opened (as an admin would, with their first results) before the test starts; default
   * DEFAULT_TEST_PERIODS (none on a given `dataDir`). Pass [] to start with no period opened (the calendar tests).
   */
  periods?: readonly string[];
  /** Whether clients wait for pending recomputations before each request (default true). */
  settle?: boolean;
  /** Start on this (existing, e.g. restored) data directory instead of a fresh one; it is kept on stop. */
  dataDir?: string;
}

/** The quarters the tests use; opened by default in every test app. */
export const DEFAULT_TEST_PERIODS: readonly string[] = ['2025Q4', '2026Q1', '2026Q2', '2026Q3', '2026Q4'];

export const TEST_PASSWORD = 'test-password-1';

let current: TestApp | null = null;
let userSeq = 0;

async function toResult(res: Response): Promise<HttpResult> {
  const buffer = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  const text = /^(text\/|application\/(json|xml|javascript))/.test(type) || type === '' ? buffer.toString('utf8') : '';
  let body: unknown = text;
  if (type.includes('application/json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  } else if (!text && buffer.length) body = null;
  return { status: res.status, body, text, buffer, headers: res.headers };
}

function makeApi(baseUrl: string, baseHeaders: () => Promise<Record<string, string>>, settle: () => Promise<void> = async () => {}): ApiClient {
  const send = async (method: string, p: string, init: { body?: string | Buffer | FormData; headers?: Record<string, string> } = {}) => {
    await settle();
    const res = await fetch(baseUrl + p, {
      method,
      headers: { ...(await baseHeaders()), ...init.headers },
      body: init.body as BodyInit | undefined,
      redirect: 'manual',
    });
    return toResult(res);
  };
  const json = (method: string) => (p: string, body?: unknown, headers?: Record<string, string>) =>
    send(method, p, body === undefined ? { headers } : { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return {
    get: (p, headers) => send('GET', p, { headers }),
    delete: (p, headers) => send('DELETE', p, { headers }),
    post: json('POST'),
    put: json('PUT'),
    patch: json('PATCH'),
    postFile: (p, field, data, filename, fields = {}, headers) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append(field, new Blob([new Uint8Array(data)]), filename);
      return send('POST', p, { body: form, headers });
    },
    raw: (method, p, init = {}) => send(method, p, init),
  } as ApiClient;
}

function makeWeb(baseUrl: string, settle: () => Promise<void> = async () => {}): WebClient {
  // A cookie jar: the session (`sid`) and the login form's CSRF cookie, as a browser keeps them.
  const jar = new Map<string, string>();
  const absorb = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const m = /^([^=;\s]+)=([^;]*)/.exec(c);
      if (!m) continue;
      if (m[2] === '' || /expires=Thu, 01 Jan 1970/i.test(c) || /max-age=0\b/i.test(c)) jar.delete(m[1]!);
      else jar.set(m[1]!, m[2]!);
    }
  };
  const cookieHeader = (): Record<string, string> => (jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {});
  const sidOf = () => jar.get('sid') ?? null;
  const withLocation = async (res: Response) => {
    absorb(res);
    const r = await toResult(res);
    return { ...r, body: r.text, location: res.headers.get('location') };
  };
  const client: WebClient = {
    async get(p) {
      await settle();
      return withLocation(await fetch(baseUrl + p, { headers: { accept: 'text/html', ...cookieHeader() }, redirect: 'manual' }));
    },
    async csrfToken() {
      const page = await client.get('/login');
      let m = /<meta name="csrf-token" content="([^"]*)"/.exec(page.text);
      if (!m || !m[1]) {
        const other = await client.get('/admin');
        m = /<meta name="csrf-token" content="([^"]*)"/.exec(other.text);
      }
      if (!m || !m[1]) throw new Error('no CSRF token found in the page');
      return m[1];
    },
    async postForm(p, fields, opts = {}) {
      const form = new URLSearchParams(fields);
      if (opts.csrf !== false) form.set('_csrf', typeof opts.csrf === 'string' ? opts.csrf : await client.csrfToken());
      await settle();
      return withLocation(
        await fetch(baseUrl + p, {
          method: 'POST',
          headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', ...cookieHeader() },
          body: form.toString(),
          redirect: 'manual',
        }),
      );
    },
    async login(username, password) {
      const r = await client.postForm('/login', { username, password });
      if (r.status !== 303) throw new Error(`login failed: ${r.status}`);
    },
    api() {
      return makeApi(baseUrl, async () => ({ ...cookieHeader(), 'x-csrf-token': sidOf() ? await client.csrfToken() : '' }), settle);
    },
    cookie: () => sidOf(),
    cookies: () => cookieHeader().cookie ?? '',
  };
  return client;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  if (current) await current.stop();
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    BCRYPT_ROUNDS: '4',
    TZ: 'Asia/Shanghai',
    RECOMPUTE_DELAY_MS: '0',
    ...opts.env,
  });
  setLogLevel(config.logLevel);
  const db = await connectDb({ dataDir, dbName: config.dbName });
  let server: http.Server;
  let freshness: FreshnessWorker;
  try {
    const app = await createApp({ config });
    await ensureIndexes();
    await prepareDatabase();
    for (const p of opts.periods ?? (opts.dataDir ? [] : DEFAULT_TEST_PERIODS)) await openForAssessment({ username: 'test-setup', role: 'admin' }, p);
    freshness = startFreshness({ delayMs: config.recomputeDelayMs });
    server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await db.close();
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settle = opts.settle === false ? async () => {} : () => freshness.idle();

  let stopped: Promise<void> | null = null;
  const t: TestApp = {
    baseUrl,
    config,
    db,
    dataDir,
    freshness,
    settle: () => freshness.idle(),
    api: (token) => makeApi(baseUrl, async (): Promise<Record<string, string>> => (token ? { authorization: `Bearer ${token}` } : {}), settle),
    async userFor(role, unit, o = {}) {
      const username = o.username ?? `${role}${unit ? `-${unit}` : ''}-${++userSeq}`;
      const password = o.password ?? TEST_PASSWORD;
      const u = await createUser({ username, password, role, unit }, { checkUnit: false });
      const r = await t.api().post('/api/v1/auth/token', { username, password });
      if (r.status !== 200) throw new Error(`token for ${username}: ${r.status} ${r.text}`);
      return { id: u.id, username, password, role, unit, token: r.body.token as string };
    },
    async tokenFor(role, unit) {
      return (await t.userFor(role, unit)).token;
    },
    web: () => makeWeb(baseUrl, settle),
    stop() {
      stopped ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await freshness.stop();
        await db.close();
        clock.set(null);
        if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
        if (current === t) current = null;
      })();
      return stopped;
    },
  };
  current = t;
  return t;
}
