// The real entry point (tsx server/main.ts) on a temp DATA_DIR: first admin from ADMIN_PASSWORD,
// tokens that survive a restart, and graceful shutdown — SIGTERM while a slow request is in
// flight: no new connections, the request completes, the process exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Running {
  child: ChildProcess;
  baseUrl: string;
  out: string[];
  exited: Promise<number | null>;
  /** Resolves when a stdout line matches. */
  waitFor(re: RegExp): Promise<string>;
}

function start(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      out.push(line);
      for (const w of [...waiters]) if (w.re.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = out.find((l) => re.test(l));
      if (seen) return resolve(seen);
      waiters.push({ re, resolve });
      void exited.then((code) => reject(new Error(`exited (${code}) before ${re}: ${stderr}\n${out.join('\n')}`)));
    });
  return waitFor(/已启动：http:\/\/\S+/).then((line) => ({
    child,
    baseUrl: /http:\/\/[^/\s]+/.exec(line)![0].replace('localhost', '127.0.0.1'),
    out,
    exited,
    waitFor,
  }));
}

describe('main: start-up and graceful shutdown', function () {
  this.timeout(90_000);
  let dataDir: string;
  let running: Running | null = null;

  before(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-main-'));
  });
  after(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the first admin, and a SIGTERM lets an in-flight request finish before exiting 0; tokens survive a restart', async () => {
    // A high bcrypt cost makes logging in a genuinely slow request.
    const env = { DATA_DIR: dataDir, ADMIN_PASSWORD: 'first-admin-pw', BCRYPT_ROUNDS: '13', JOBS: '1' };
    running = await start(env);
    expect(running.out.join('\n')).to.contain('已创建管理员账号 admin');
    expect((await fetch(`${running.baseUrl}/healthz`)).status).to.equal(200);

    const events: string[] = [];
    const slow = fetch(`${running.baseUrl}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'first-admin-pw' }),
    }).then(async (r) => {
      events.push('response');
      return { status: r.status, body: (await r.json()) as { token: string } };
    });
    await new Promise((r) => setTimeout(r, 500));
    running.child.kill('SIGTERM');
    await running.waitFor(/shutting down/);
    events.push('shutdown started');
    // No new connections once shutting down.
    let refused = false;
    try {
      await fetch(`${running.baseUrl}/healthz`);
    } catch {
      refused = true;
    }
    expect(refused, 'new connections are refused during shutdown').to.equal(true);
    const res = await slow;
    expect(res.status).to.equal(200);
    expect(res.body.token).to.be.a('string');
    expect(events).to.deep.equal(['shutdown started', 'response']);
    expect(await running.exited).to.equal(0);
    expect(running.out.join('\n')).to.contain('"msg":"stopped"');

    // Restart on the same data: the token issued before still works (secrets kept in the database),
    // and no second admin is created.
    running = await start(env);
    expect(running.out.join('\n')).to.not.contain('已创建管理员账号');
    const me = await fetch(`${running.baseUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${res.body.token}` } });
    expect(me.status).to.equal(200);
    expect(((await me.json()) as { username: string }).username).to.equal('admin');
    running.child.kill('SIGINT');
    expect(await running.exited).to.equal(0);
  });
});
