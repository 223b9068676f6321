// Helpers for the data-safety tests: running the CLIs as child processes, reading the app's state
// through the HTTP contract, and hashing files.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiClient } from '../helpers/app.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

export const sha = (b: Buffer | string) => crypto.createHash('sha256').update(typeof b === 'string' ? fs.readFileSync(b) : b).digest('hex');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `server/cli/<name>.ts args…` with tsx; `onStdout` sees output as it comes (and may kill the child). */
export function runCli(
  name: 'backup' | 'restore' | 'migrate',
  args: string[],
  opts: { env?: Record<string, string>; onStdout?: (text: string, child: ChildProcess) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `server/cli/${name}.ts`, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TZ: 'Asia/Shanghai', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      opts.onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Everything a client can see of returns for these units and period, through the HTTP contract. */
export async function httpView(api: ApiClient, period: string, codes: string[]) {
  const units = (await api.get('/api/v1/units')).body;
  const periods = (await api.get('/api/v1/periods')).body;
  const returns: Record<string, unknown> = {};
  for (const c of codes) {
    const latest = await api.get(`/api/v1/returns/${period}/${c}`);
    const revisions = await api.get(`/api/v1/returns/${period}/${c}/revisions`);
    returns[c] = { latest: latest.status === 200 ? latest.body : latest.status, revisions: revisions.body };
  }
  const uploads = (await api.get(`/api/v1/returns/uploads?period=${period}`)).body as { id: string }[];
  const files: Record<string, string> = {};
  for (const u of Array.isArray(uploads) ? uploads : []) {
    const f = await api.get(`/api/v1/returns/uploads/${u.id}/file`);
    files[u.id] = `${f.status}:${sha(f.buffer)}`;
  }
  const results = await api.get(`/api/v1/results/${period}`);
  return { units, periods, returns, uploads, files, results: results.status === 200 ? results.body : results.status };
}
