// Spawning and killing the fault-test children (test/faults/child.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const CHILD = path.join(import.meta.dirname, 'child.ts');

export interface Child {
  proc: ChildProcess;
  /** Resolves with the JSON after `<tag> ` of the first line with that tag (or null for a bare tag). */
  line(tag: string, timeoutMs?: number): Promise<any>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
  stderr(): string;
}

export function spawnChild(mode: string, dataDir: string, arg?: string, env: Record<string, string> = {}): Child {
  const args = ['--import', 'tsx', CHILD, mode, dataDir, ...(arg === undefined ? [] : [arg])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, LOG_LEVEL: 'silent' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const seen: string[] = [];
  const waiters: { tag: string; resolve: (x: any) => void }[] = [];
  const rl = readline.createInterface({ input: proc.stdout! });
  const match = (l: string, tag: string) => l === tag || l.startsWith(tag + ' ');
  const parse = (l: string, tag: string) => (l === tag ? null : JSON.parse(l.slice(tag.length + 1)));
  rl.on('line', (l) => {
    seen.push(l);
    for (const w of [...waiters]) {
      if (match(l, w.tag)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parse(l, w.tag));
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    exited,
    stderr: () => err,
    line(tag, timeoutMs = 90_000) {
      const already = seen.find((l) => match(l, tag));
      if (already !== undefined) return Promise.resolve(parse(already, tag));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${mode}: no ${tag} within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        waiters.push({ tag, resolve: (x) => (clearTimeout(timer), resolve(x)) });
        exited.then((code) => {
          clearTimeout(timer);
          if (waiters.some((w) => w.tag === tag)) reject(new Error(`${mode} exited (${code}) before ${tag}: ${err.slice(-3000)}`));
        });
      });
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs a child to its end and returns its `<tag>` line. */
export async function runChild(mode: string, dataDir: string, tag: string, arg?: string, env: Record<string, string> = {}): Promise<any> {
  const c = spawnChild(mode, dataDir, arg, env);
  try {
    const x = await c.line(tag);
    const code = await c.exited;
    if (code !== 0) throw new Error(`${mode} exited ${code}: ${c.stderr().slice(-2000)}`);
    return x;
  } finally {
    await c.kill();
  }
}

export function tempRoot(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Copies a data directory (the engine holding it must be stopped). */
export function copyDir(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  for (const f of fs.readdirSync(to)) if (/\.lock$|^LOCK$/i.test(f)) fs.rmSync(path.join(to, f), { force: true });
  return to;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const randomBetween = (a: number, b: number) => a + Math.floor(Math.random() * (b - a));
