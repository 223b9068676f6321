// Worker-thread entry of off-thread.ts: reads users' workbooks one at a time (check + bounded streaming parse)
// and posts back the plain result, or the AppError it threw as {status, code, message, details}.
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../domain/errors.ts';
import type { ReadTask } from './off-thread.ts';
import { parseReturnsWorkbook, type UnitInfo } from './upload-parse.ts';
import { readUnitList } from './unit-list.ts';
import { readUserList } from './user-list.ts';

async function run(task: ReadTask): Promise<unknown> {
  const buffer = Buffer.from(task.data);
  if (task.kind === 'returns') {
    const { units, knownNames, ...rest } = task.ctx;
    return parseReturnsWorkbook(buffer, {
      ...rest,
      units: new Map<string, UnitInfo>(units),
      ...(knownNames ? { knownNames: new Map(knownNames) } : {}),
    });
  }
  if (task.kind === 'units') return readUnitList(buffer, task.opts);
  if (task.kind === 'users') return readUserList(buffer, task.opts);
  throw new Error(`unknown task ${(task as { kind: string }).kind}`);
}

function runOnce(task: ReadTask) {
  run(task).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (x: unknown) => {
    if (x instanceof AppError) parentPort!.postMessage({ ok: false, error: { status: x.status, code: x.code, message: x.message, details: x.details } });
    else parentPort!.postMessage({ ok: false, error: { status: 500, code: 'read_failed', message: `读取文件时出错（${String((x as Error)?.message ?? x).slice(0, 120)}）` } });
  },
);
}

// A task given at start, and/or tasks posted later (a standby started ahead of need, or a warm worker
// given its next read by off-thread.ts): one at a time — the next is posted only after the result.
if (workerData) runOnce(workerData as ReadTask);
parentPort!.on('message', (task: ReadTask) => runOnce(task));
