// Worker thread for the wire fuzz (wire.test.ts): parses one message (or scans one insert body) and
// reports how it ended. In a worker so that the parent can enforce a per-message timeout — even
// against a synchronous infinite loop — and a heap limit (resourceLimits): a message that exceeds
// either kills the worker and fails the test with that message.
import { parentPort } from 'node:worker_threads';
import { insertDocumentBytes, parseMessage, ProtocolError } from '../../server/db/engine/wire.ts';

export type WireOutcome =
  | { kind: 'parsed'; requestId: number; opCode: number; keys: string[]; moreToCome: boolean; ns?: string }
  | { kind: 'raws'; ranges: [number, number][] | null }
  | { kind: 'protocol'; message: string }
  | { kind: 'crash'; name: string; message: string; stack: string };

export interface WireJob {
  id: number;
  mode: 'parse' | 'insertBytes';
  buf: Uint8Array;
}

function run(job: WireJob): WireOutcome {
  const buf = Buffer.from(job.buf.buffer, job.buf.byteOffset, job.buf.byteLength);
  try {
    if (job.mode === 'insertBytes') {
      const raws = insertDocumentBytes(buf);
      return { kind: 'raws', ranges: raws && raws.map((r) => [r.byteOffset - buf.byteOffset, r.length] as [number, number]) };
    }
    const r = parseMessage(buf);
    return { kind: 'parsed', requestId: r.requestId, opCode: r.opCode, keys: Object.keys(r.body), moreToCome: r.moreToCome, ns: r.fullCollectionName };
  } catch (err) {
    if (err instanceof ProtocolError) return { kind: 'protocol', message: err.message };
    const e = err as Error;
    return { kind: 'crash', name: e?.name ?? typeof err, message: String(e?.message ?? err), stack: String(e?.stack ?? '').slice(0, 1500) };
  }
}

parentPort!.on('message', (job: WireJob) => {
  parentPort!.postMessage({ id: job.id, outcome: run(job) });
});
