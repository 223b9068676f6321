// A process killed (SIGKILL) at random moments while many-unit uploads are being committed:
// after a restart every batch is visible whole or not at all, no acknowledged upload is lost,
// revision numbers stay gapless, and start-up recovery leaves nothing pending or half-written.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildWorkbook, vals } from './helpers.ts';

const UNITS = 12;
const ROUNDS = 2;
const codes = Array.from({ length: UNITS }, (_, i) => `K${String(i + 1).padStart(3, '0')}`);
const CHILD = path.join(import.meta.dirname, 'kill-child.ts');

interface Child {
  proc: ChildProcess;
  base: string;
  stats: { before: Record<string, number>; recovery: { rolledForward: number; discarded: number }; after: Record<string, number> };
}

function startChild(dataDir: string): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, String(UNITS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+) (.*)\n/.exec(out);
      if (m) resolve({ proc, base: `http://127.0.0.1:${m[1]}`, stats: JSON.parse(m[2]!) });
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before READY: ${err.slice(-2000)}`)));
  });
}

const killed = (c: Child) => new Promise<void>((resolve) => (c.proc.exitCode !== null || c.proc.signalCode ? resolve() : c.proc.once('exit', () => resolve())));

async function token(base: string): Promise<string> {
  const r = await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'kill-test-password' }) });
  if (r.status !== 200) throw new Error(`token: ${r.status}`);
  return ((await r.json()) as { token: string }).token;
}

/** Batch k: every unit's systems_total is 1000 + k (identifies the batch in the stored revisions). */
const fileFor = (k: number) => buildWorkbook(codes.map((code, i) => ({ code, values: vals(i, { systems_total: 1000 + k }) })));

describe('kill during commit (SIGKILL, restart, recovery)', function () {
  this.timeout(120_000);
  let dataDir: string;
  let child: Child | null = null;

  before(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-kill-'));
  });
  after(async () => {
    if (child && child.proc.exitCode === null && !child.proc.signalCode) {
      child.proc.kill('SIGKILL');
      await killed(child);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('every batch is whole or absent; acknowledged uploads survive; numbering stays gapless', async () => {
    const acked = new Set<number>();
    const attempted = new Set<number>();
    let next = 1;
    let interrupted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      child = await startChild(dataDir);
      if (round > 0) {
        // Start-up recovery leaves nothing pending, unfinalized or invisible.
        expect(child.stats.after, JSON.stringify(child.stats)).to.deep.equal({ pending: 0, unfinalized: 0, invisible: 0 });
      }
      const tok = await token(child.base);
      const c = child;
      let alive = true;
      let firstAck: () => void = () => {};
      const warm = new Promise<void>((r) => (firstAck = r));
      // Two upload streams in parallel, until the child dies.
      const stream = async () => {
        while (alive) {
          const k = next++;
          const buf = await fileFor(k);
          attempted.add(k);
          const form = new FormData();
          form.append('file', new Blob([new Uint8Array(buf)]), `k${k}.xlsx`);
          try {
            const r = await fetch(`${c.base}/api/v1/returns/upload?period=2026Q4`, { method: 'POST', headers: { authorization: `Bearer ${tok}` }, body: form });
            const body = (await r.json()) as { accepted?: { unit: string; revision: number }[] };
            if (process.env.KDEBUG) console.log("upload", k, r.status, JSON.stringify(body).slice(0, 120));
            if (r.status === 200) {
              expect(body.accepted).to.have.length(UNITS);
              acked.add(k);
              firstAck();
            }
          } catch (e) {
            if (process.env.KDEBUG) console.log("interrupted", k, String(e));
            interrupted++;
            return; // connection dropped: the child is gone; the outcome of k is unknown
          }
        }
      };
      const streams = [stream(), stream()];
      // Once this process has committed one upload (warm), let it run a random while (at least one commit usually under way), then SIGKILL.
      // (an upload of this size takes roughly 0.5–1.5 s here; the window covers several commits)
      await Promise.race([warm, new Promise((r) => setTimeout(r, 30_000))]);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 2500)));
      alive = false;
      c.proc.kill('SIGKILL');
      await killed(c);
      await Promise.all(streams);
    }

    // Restart once more and look at everything through the API.
    child = await startChild(dataDir);
    expect(child.stats.after).to.deep.equal({ pending: 0, unfinalized: 0, invisible: 0 });
    const tok = await token(child.base);
    const seen = new Map<number, string[]>();
    for (const code of codes) {
      const r = await fetch(`${child.base}/api/v1/returns/2026Q4/${code}/revisions`, { headers: { authorization: `Bearer ${tok}` } });
      const hist = (await r.json()) as { revision: number; values: { systems_total: number } }[];
      expect(hist.map((h) => h.revision), code).to.deep.equal(hist.map((_, i) => i + 1));
      for (const h of hist) {
        const k = h.values.systems_total - 1000;
        seen.set(k, [...(seen.get(k) ?? []), code]);
      }
    }
    for (const [k, units] of seen) {
      expect(attempted.has(k)).to.equal(true);
      expect(units.sort(), `batch ${k} is partly visible`).to.deep.equal([...codes].sort());
    }
    for (const k of acked) expect(seen.has(k), `acknowledged batch ${k} lost`).to.equal(true);
    expect(acked.size).to.be.greaterThan(0);
    // Whatever was interrupted is either whole or gone — checked above; report for the log.
    console.log(`      ${attempted.size} uploads attempted, ${acked.size} acknowledged, ${seen.size} visible, ${interrupted} interrupted`);
    child.proc.kill('SIGKILL');
    await killed(child);
  });
});
