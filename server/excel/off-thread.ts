// Reads users' workbooks off the event loop (SPEC §6: "reading a file never stalls the server";
// issue 12 item 1). Each read runs in its own worker thread (node:worker_threads) with a memory
// limit (resourceLimits) and a time budget: past the budget the worker is terminated and the file is
// refused (422 upload_too_complex) — never fatal to the server; a worker whose read failed is never
// used again. A worker whose read succeeded is kept warm for the next reads (see `warm` below); when
// none is warm, one standby worker is started ahead, so that a read does not wait for a worker's
// start-up. At most READ_CONCURRENCY reads at once (the rest wait, up to 200; more → 503 upload_busy).
//
// The worker is TypeScript like the rest: it is started through a small ESM bootstrap that registers
// tsx's loader in the worker (workers do not inherit the main thread's loader hooks).

import { Worker } from 'node:worker_threads';
import { AppError, type ErrorStatus } from '../domain/errors.ts';
import type { UploadLimits } from './upload-check.ts';
import type { ParseContext, ParseResult, UnitInfo } from './upload-parse.ts';
import type { UnitListResult } from './unit-list.ts';
import type { UserListResult } from './user-list.ts';
import type { SheetLimits } from './xlsx-reader.ts';

export interface ReadBudget {
  /** Wall-clock budget of one read, ms. Default 20 000 (UPLOAD_READ_TIMEOUT_MS). */
  timeoutMs: number;
  /** Heap of the reading worker, MB. Default 512 (UPLOAD_READ_MEMORY_MB). */
  maxMemoryMb: number;
  /** Reads at once. Default 2. */
  concurrency: number;
  /** Reads waiting for a slot before new ones get 503. Default 200 (each waiting upload is already in memory, ≤ UPLOAD_MAX_BYTES). */
  queue: number;
}

const envInt = (name: string, dflt: number, min: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= min ? v : dflt;
};

let budget: ReadBudget = {
  timeoutMs: envInt('UPLOAD_READ_TIMEOUT_MS', 20_000, 100),
  maxMemoryMb: envInt('UPLOAD_READ_MEMORY_MB', 512, 32),
  concurrency: 2,
  queue: 200,
};

/** The current budget; with an argument, changes it (tests, tools) and returns the previous one. */
export function readBudget(change?: Partial<ReadBudget>): ReadBudget {
  const prev = { ...budget };
  if (change) budget = { ...budget, ...change };
  return prev;
}

type ReturnsCtx = Omit<ParseContext, 'units' | 'knownNames'> & {
  units: [string, UnitInfo][];
  knownNames?: [string, string][];
};

export type ReadTask =
  | { kind: 'returns'; data: Uint8Array; ctx: ReturnsCtx }
  | { kind: 'units'; data: Uint8Array; opts: { limits?: Partial<UploadLimits>; sheetLimits?: Partial<SheetLimits> } }
  | { kind: 'users'; data: Uint8Array; opts: { limits?: Partial<UploadLimits>; sheetLimits?: Partial<SheetLimits> } };

const WORKER_URL = new URL('./read-worker.ts', import.meta.url);

function bootUrl(): URL {
  let api: string | null = null;
  try {
    api = import.meta.resolve('tsx/esm/api');
  } catch {
    return WORKER_URL; // not running under tsx (e.g. compiled): the worker file is loadable as it is
  }
  const src = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(WORKER_URL.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(src)}`);
}
let boot: URL | null = null;

let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= budget.concurrency) {
    if (waiting.length >= budget.queue) throw new AppError(503, 'upload_busy', '当前上传的文件较多，请稍后重试');
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else running++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const next = waiting.shift();
    if (next) next(); // the slot passes on
    else running--;
  };
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} 秒`;

const tooComplex = (why: string) =>
  new AppError(422, 'upload_too_complex', `文件过于复杂，${why}，已拒绝，未保存任何数据。请只保留填报区域（删除多余的工作表、行、列和格式）后重新上传`);

// One standby worker, started ahead of need (its start-up — loader, modules — is most of a small read's
// time); each read takes it and a new standby is started. It never holds any user's data before its task.
let standby: { worker: Worker; maxMemoryMb: number } | null = null;

// A young generation of 16 MB (was an eighth of the heap, 64 MB): a worker's idle and busy RSS is
// smaller, and a 5 000-row read took the same time (310–313 ms against 314–347, bench, same run).
function resourceLimits(maxMemoryMb: number) {
  return { maxOldGenerationSizeMb: maxMemoryMb, maxYoungGenerationSizeMb: Math.min(16, Math.max(8, maxMemoryMb >> 3)), stackSizeMb: 4 };
}

function spawnStandby(maxMemoryMb: number) {
  boot ??= bootUrl();
  const worker = new Worker(boot, { workerData: null, resourceLimits: resourceLimits(maxMemoryMb), stdout: false, stderr: false });
  worker.unref(); // an idle standby never keeps the process alive
  const entry = { worker, maxMemoryMb };
  const drop = () => {
    if (standby === entry) standby = null;
  };
  worker.once('error', drop);
  worker.once('exit', drop);
  standby = entry;
}

// Warm workers: a worker whose read succeeded goes back here (at most `concurrency`, each for at most
// MAX_TASKS reads, and stopped once idle for IDLE_MS), so that the next read runs compiled, optimised
// code instead of a cold start (on a 5 000-row file a cold worker took about twice the warm read). It
// keeps nothing of a read: the parser has no state between files (no module-level caches), a task's
// data is unreachable once its result is posted, and a worker whose read failed, ran out of time or
// memory is terminated, never reused.
const MAX_TASKS = 50;
const IDLE_MS = 15_000;
interface Warm {
  worker: Worker;
  maxMemoryMb: number;
  tasks: number;
  timer: NodeJS.Timeout | null;
  onGone: () => void;
}
const warm: Warm[] = [];
const tasksOf = new WeakMap<Worker, number>();

function stopWarm(w: Warm): void {
  const i = warm.indexOf(w);
  if (i >= 0) warm.splice(i, 1);
  if (w.timer) clearTimeout(w.timer);
  w.worker.off('error', w.onGone).off('exit', w.onGone);
  void w.worker.terminate();
}

/** After a successful read: back to the warm workers, or terminated. */
function release(worker: Worker, maxMemoryMb: number): void {
  const tasks = (tasksOf.get(worker) ?? 0) + 1;
  if (tasks >= MAX_TASKS || warm.length >= budget.concurrency || maxMemoryMb !== budget.maxMemoryMb || worker.threadId < 0) {
    void worker.terminate();
    return;
  }
  tasksOf.set(worker, tasks);
  worker.unref(); // an idle worker never keeps the process alive
  // (Only our own listeners are ever removed from a worker that has run a task: removeAllListeners
  // would also drop the Worker's internal ones that keep its message port referenced.)
  const w: Warm = { worker, maxMemoryMb, tasks, timer: null, onGone: () => stopWarm(w) };
  w.timer = setTimeout(() => stopWarm(w), IDLE_MS);
  w.timer.unref();
  worker.on('error', w.onGone).on('exit', w.onGone);
  warm.push(w);
}

/** Warm workers waiting for a read, and their thread ids (tests). */
export function readWorkerStats(): { warm: number; threadIds: number[] } {
  return { warm: warm.length, threadIds: warm.map((w) => w.worker.threadId) };
}

/** Stops every warm and standby worker (tests, shutdown). */
export function stopReadWorkers(): void {
  for (const w of [...warm]) stopWarm(w);
  if (standby) void standby.worker.terminate();
  standby = null;
}

/**
 * A worker for one task: a warm one when there is one that fits the budget, else the standby, else a
 * new one; a new standby is started only when no warm worker is left for the next read.
 */
function takeWorker(task: ReadTask, maxMemoryMb: number): Worker {
  let worker: Worker | null = null;
  for (let w = warm.pop(); w; w = warm.pop()) {
    if (w.timer) clearTimeout(w.timer);
    w.worker.off('error', w.onGone).off('exit', w.onGone);
    if (w.maxMemoryMb === maxMemoryMb && w.worker.threadId >= 0) {
      worker = w.worker;
      break;
    }
    void w.worker.terminate();
  }
  if (worker) {
    worker.ref();
    worker.postMessage(task, [task.data.buffer as ArrayBuffer]);
    return worker;
  }
  const s = standby;
  standby = null;
  if (s && s.maxMemoryMb === maxMemoryMb && s.worker.threadId >= 0) { // threadId is -1 once it has exited
    worker = s.worker;
    worker.ref();
    worker.removeAllListeners();
    worker.postMessage(task, [task.data.buffer as ArrayBuffer]);
  } else {
    if (s) void s.worker.terminate();
    boot ??= bootUrl();
    worker = new Worker(boot, { workerData: task, transferList: [task.data.buffer as ArrayBuffer], resourceLimits: resourceLimits(maxMemoryMb), stdout: false, stderr: false });
  }
  try {
    if (!warm.length) spawnStandby(maxMemoryMb);
  } catch {
    standby = null;
  }
  return worker;
}

/** Runs one read in a worker within the budget. */
async function runTask<T>(task: ReadTask): Promise<T> {
  const releaseSlot = await slot();
  const { timeoutMs, maxMemoryMb } = budget;
  try {
    return await new Promise<T>((resolve, reject) => {
      let settled = false;
      const worker = takeWorker(task, maxMemoryMb);
      const done = (f: () => void, reusable = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        f();
        if (reusable) release(worker, maxMemoryMb);
        else void worker.terminate();
      };
      const timer = setTimeout(() => done(() => reject(tooComplex(`读取超过 ${seconds(timeoutMs)}仍未完成`))), timeoutMs);
      const onMessage = (m: { ok: true; result: T } | { ok: false; error: { status: ErrorStatus; code: string; message: string; details?: unknown } }) =>
        done(() => (m.ok ? resolve(m.result) : reject(new AppError(m.error.status, m.error.code, m.error.message, m.error.details))), m.ok);
      const onError = (err: Error & { code?: string }) =>
        done(() =>
          reject(
            err.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? tooComplex(`读取所需内存超过 ${maxMemoryMb} MB`)
              : new AppError(500, 'read_failed', `读取文件时出错（${String(err.message).slice(0, 120)}）`),
          ),
        );
      const onExit = (code: number) => done(() => reject(new AppError(500, 'read_failed', `读取文件的线程意外退出（${code}）`)));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  } finally {
    releaseSlot();
  }
}

/** A private copy of the bytes, to hand over to the worker (the caller keeps its buffer). */
const copyOf = (buffer: Buffer) => new Uint8Array(buffer);

/** parseReturnsWorkbook (check + parse) in a worker. The unit lookup must be a Map here. */
export function parseReturnsOffThread(buffer: Buffer, ctx: ParseContext): Promise<ParseResult> {
  if (typeof ctx.units === 'function' || typeof ctx.knownNames === 'function') throw new TypeError('parseReturnsOffThread: units and knownNames must be Maps');
  const { units, knownNames, ...rest } = ctx;
  return runTask<ParseResult>({
    kind: 'returns',
    data: copyOf(buffer),
    ctx: { ...rest, units: [...(units as ReadonlyMap<string, UnitInfo>)], ...(knownNames ? { knownNames: [...(knownNames as ReadonlyMap<string, string>)] } : {}) },
  });
}

/** readUnitList (check + read) in a worker. */
export function readUnitListOffThread(buffer: Buffer, opts: { limits?: Partial<UploadLimits>; sheetLimits?: Partial<SheetLimits> } = {}): Promise<UnitListResult> {
  return runTask<UnitListResult>({ kind: 'units', data: copyOf(buffer), opts });
}

/** readUserList (check + read) in a worker: the bulk user import's account list. */
export function readUserListOffThread(buffer: Buffer, opts: { limits?: Partial<UploadLimits>; sheetLimits?: Partial<SheetLimits> } = {}): Promise<UserListResult> {
  return runTask<UserListResult>({ kind: 'users', data: copyOf(buffer), opts });
}
