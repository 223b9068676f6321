// Worker thread for the fuzz test: runs the upload pre-checks and the parser on one file and reports
// how it ended. Runs in a worker so that the parent can enforce a per-case timeout (even against a
// synchronous hang) and a heap limit (resourceLimits) — a case that exceeds either kills the worker.
import { parentPort } from 'node:worker_threads';
import { AppError } from '../../server/domain/errors.ts';
import { checkUpload } from '../../server/excel/upload-check.ts';
import { parseReturnsWorkbook } from '../../server/excel/upload-parse.ts';
import { unitMap } from '../fixtures/units.ts';

export type Outcome =
  | { kind: 'parsed'; rows: { unit: string; values: Record<string, number> }[] }
  | { kind: 'errors'; errors: { sheet: string | null; row: number | null; column: string | null; field: string | null; message: string }[] }
  | { kind: 'refused'; status: number; code: string; message: string }
  | { kind: 'crash'; name: string; message: string; stack: string };

const units = unitMap();

async function run(buf: Buffer): Promise<Outcome> {
  try {
    checkUpload(buf);
    const r = await parseReturnsWorkbook(buf, { units });
    if (r.ok) return { kind: 'parsed', rows: r.rows.map((x) => ({ unit: x.unit, values: x.values })) };
    return { kind: 'errors', errors: r.errors };
  } catch (err) {
    if (err instanceof AppError) return { kind: 'refused', status: err.status, code: err.code, message: err.message };
    const e = err as Error;
    return { kind: 'crash', name: e?.name ?? typeof err, message: String(e?.message ?? err), stack: String(e?.stack ?? '').slice(0, 1500) };
  }
}

parentPort!.on('message', async (msg: { id: number; file: Uint8Array }) => {
  const outcome = await run(Buffer.from(msg.file.buffer, msg.file.byteOffset, msg.file.byteLength));
  parentPort!.postMessage({ id: msg.id, outcome, heapMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20) });
});
