// Server-side cursors: results are materialised when the cursor opens; batches are cut by count
// (101 for a default first batch) and by size, so a reply never exceeds the 16 MiB BSON limit.
import { Long, serialize } from 'bson';
import { randomBytes } from 'node:crypto';
import type { Doc } from './bsonutil.ts';
import { err } from './errors.ts';
import { drain } from './steps.ts';

const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024;
/**
 * A batch without a count limit (getMore without batchSize, what drivers send) also ends after
 * this much serialising time, so that one getMore does not hold the event loop for long; the
 * client asks for the rest (MongoDB, too, returns batches shorter than asked for).
 */
export const BATCH_MS = 25;
export const CURSOR_TIMEOUT_MS = 10 * 60 * 1000;

/** The options replies are serialised with (wire.ts). */
export const SERIALIZE_OPTS = { ignoreUndefined: true } as const;

/** Batches handed out by take() → their documents' BSON bytes, in order. */
const RAW = new WeakMap<Doc[], Uint8Array[]>();

/** The BSON bytes of the documents of a batch made by Cursors (same options as the reply). */
export function rawBatch(docs: unknown): Uint8Array[] | undefined {
  return Array.isArray(docs) ? RAW.get(docs) : undefined;
}

interface Cursor {
  id: Long;
  ns: string;
  docs: Doc[];
  pos: number;
  connId: number;
  lastUsed: number;
}

export class Cursors {
  private readonly open = new Map<string, Cursor>();

  get size(): number {
    return this.open.size;
  }

  /**
   * The next batch. Each document is serialised here, once: its size cuts the batch, and the
   * bytes are kept with the batch (rawBatch) so the reply embeds them instead of serialising
   * the documents a second time.
   */
  private take(c: { docs: Doc[]; pos: number }, n: number): Doc[] {
    return drain(this.takeSteps(c, n));
  }

  private *takeSteps(c: { docs: Doc[]; pos: number }, n: number): Generator<void, Doc[], void> {
    const out: Doc[] = [];
    const raw: Uint8Array[] = [];
    let bytes = 0;
    const until = n === Infinity ? performance.now() + BATCH_MS : Infinity;
    while (c.pos < c.docs.length && out.length < n) {
      if (out.length > 0 && (out.length & 255) === 0) {
        if (performance.now() > until) break;
        yield;
      }
      const d = c.docs[c.pos];
      const b = serialize(d, SERIALIZE_OPTS);
      if (out.length > 0 && bytes + b.length > MAX_BATCH_BYTES) break;
      bytes += b.length;
      out.push(d);
      raw.push(b);
      c.pos++;
    }
    RAW.set(out, raw);
    return out;
  }

  /** First batch of a result set; keeps a cursor open when documents remain. */
  first(ns: string, docs: Doc[], connId: number, batchSize: number | undefined, singleBatch = false): Doc {
    return drain(this.firstSteps(ns, docs, connId, batchSize, singleBatch));
  }

  /** first() as a generator: yields while serialising a large first batch (slices of SLICE documents). */
  *firstSteps(ns: string, docs: Doc[], connId: number, batchSize: number | undefined, singleBatch = false): Generator<void, Doc, void> {
    const state = { docs, pos: 0 };
    const firstBatch = yield* this.takeSteps(state, batchSize === undefined ? 101 : batchSize);
    let id = Long.ZERO;
    if (!singleBatch && state.pos < docs.length) {
      id = newId();
      this.open.set(id.toString(), { id, ns, docs, pos: state.pos, connId, lastUsed: Date.now() });
    }
    return { cursor: { firstBatch, id, ns }, ok: 1 };
  }

  getMore(id: Long, ns: string, batchSize: number | undefined): Doc {
    const c = this.open.get(id.toString());
    if (!c) throw err('CursorNotFound', `cursor id ${id.toString()} not found`);
    if (c.ns !== ns) throw err('Unauthorized', `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`);
    c.lastUsed = Date.now();
    const nextBatch = this.take(c, batchSize && batchSize > 0 ? batchSize : Infinity);
    let outId = c.id;
    if (c.pos >= c.docs.length) {
      this.open.delete(id.toString());
      outId = Long.ZERO;
    }
    return { cursor: { nextBatch, id: outId, ns }, ok: 1 };
  }

  kill(ids: Long[]): Doc {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) (this.open.delete(id.toString()) ? killed : notFound).push(id);
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  dropConnection(connId: number): void {
    for (const [k, c] of this.open) if (c.connId === connId) this.open.delete(k);
  }

  sweep(now = Date.now()): void {
    for (const [k, c] of this.open) if (now - c.lastUsed > CURSOR_TIMEOUT_MS) this.open.delete(k);
  }

  clear(): void {
    this.open.clear();
  }
}

function newId(): Long {
  // Positive 63-bit id, never 0.
  const b = randomBytes(8);
  b[7] &= 0x7f;
  const id = Long.fromBytesLE([...b]);
  return id.isZero() ? Long.ONE : id;
}
