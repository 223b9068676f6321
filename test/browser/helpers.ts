// Browser test helpers: the real app as a child process (server/main.ts with DEMO_DATA=1 on a fresh
// DATA_DIR) and Debian's Chromium driven by playwright-core. Every page records console errors,
// page errors and CSP violations; tests fail on any of them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'browser');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const DEMO_PASSWORD = 'demo-browser-pass-1';

export interface RunningApp {
  baseUrl: string;
  dataDir: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `server/main.ts` with the demo province on a temp DATA_DIR; resolves once it listens. */
export async function startDemoApp(timeoutMs = 150_000): Promise<RunningApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-browser-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DEMO_DATA: '1',
      DEMO_PASSWORD,
      JOBS: '0',
      BCRYPT_ROUNDS: '4',
      LOG_LEVEL: 'warn',
      TZ: 'Asia/Shanghai',
      MONGODB_URI: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start in ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
    const check = () => {
      const m = /已启动：(http:\/\/[^\s/]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited with ${code}:\n${out.slice(-3000)}`));
    });
  });
  return {
    baseUrl,
    dataDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Chromium with a fresh profile: playwright's launch() always creates a new temporary user-data-dir
 * (and refuses --user-data-dir; that is what launchPersistentContext is for). The TMPDIR given to the
 * browser is our own temp directory, removed afterwards.
 */
export async function launchBrowser(): Promise<{ browser: Browser; userDataDir: string }> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    env: { ...process.env, TMPDIR: userDataDir },
  });
  return { browser, userDataDir };
}

/** Closes what {@link launchBrowser} started and removes its temp directory (either may be missing after a failed start). */
export async function closeBrowser(browser: Browser | undefined, userDataDir: string | undefined): Promise<void> {
  await browser?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
}

/** A page whose console errors, page errors and CSP violations are collected in `problems`. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  problems: string[];
  /** Navigates, checks the status, takes a screenshot; returns the response status. */
  visit(pathname: string, opts?: { status?: number; shot?: string; full?: boolean }): Promise<number>;
  /** Screenshot to test-artifacts/browser/<who>-<name>.png (the viewport; `full`: the whole page). */
  shot(name: string, full?: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function watchedPage(browser: Browser, baseUrl: string, who: string, opts: { javaScriptEnabled?: boolean; viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: opts.viewport ?? { width: 1366, height: 860 },
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  let expectingErrorStatus = false;
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // A navigation we expect to answer 403/404 logs "Failed to load resource" for the document itself.
    if (expectingErrorStatus && /Failed to load resource: the server responded with a status of 40[34]/.test(m.text())) return;
    problems.push(`[${who}] console error on ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`[${who}] page error on ${page.url()}: ${e.message}`));
  page.on('requestfailed', (r) => {
    const f = r.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(f)) problems.push(`[${who}] request failed ${r.url()}: ${f}`);
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const wp: WatchedPage = {
    page,
    context,
    problems,
    async visit(pathname, o = {}) {
      const want = o.status ?? 200;
      expectingErrorStatus = want >= 400;
      try {
        const res = await page.goto(pathname, { waitUntil: 'load' });
        const status = res?.status() ?? 0;
        if (status !== want) throw new Error(`[${who}] GET ${pathname}: expected ${want}, got ${status}`);
        if (o.shot !== undefined) await wp.shot(o.shot, o.full);
        return status;
      } finally {
        expectingErrorStatus = false;
      }
    },
    async shot(name, full = false) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${who}-${name}.png`), fullPage: full });
    },
    async close() {
      await context.close();
    },
  };
  return wp;
}

export async function login(wp: WatchedPage, username: string, password = DEMO_PASSWORD): Promise<void> {
  await wp.visit('/login');
  await wp.page.fill('input[name=username]', username);
  await wp.page.fill('input[name=password]', password);
  await Promise.all([wp.page.waitForURL((u) => !u.pathname.startsWith('/login')), wp.page.click('form button[type=submit]')]);
}

/** Slug for screenshot names. */
export function slug(p: string): string {
  return p.replace(/^\//, '').replace(/[^a-zA-Z0-9]+/g, '_').replace(/_+$/, '') || 'home';
}
