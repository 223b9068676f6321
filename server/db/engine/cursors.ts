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

/**
 * A batch's documents as the elements of a BSON array, already encoded: each is the type byte of
 * a document (0x03), its index as a C string and the document's bytes; `chunks` hold them in
 * order, one chunk per slice of serialising, so that the reply copies a few hundred chunks
 * rather than encoding every element of a large batch at once (wire.ts).
 */
export interface RawBatch {
  chunks: Uint8Array[];
  /** bytes of all the elements */
  bytes: number;
  /** documents encoded */
  count: number;
}

/** Batches handed out by take() → their encoded elements. */
const RAW = new WeakMap<Doc[], RawBatch>();

/** The encoded array elements of a batch made by Cursors (same options as the reply). */
export function rawBatch(docs: unknown): RawBatch | undefined {
  return Array.isArray(docs) ? RAW.get(docs) : undefined;
}

/** Documents' bytes as consecutive BSON array elements, the first with index `first`. */
function encodeElements(docs: Uint8Array[], first: number): Uint8Array {
  let size = 0;
  for (let i = 0; i < docs.length; i++) size += 2 + String(first + i).length + docs[i].length;
  const out = new Uint8Array(size);
  let p = 0;
  for (let i = 0; i < docs.length; i++) {
    out[p++] = 0x03;
    const name = String(first + i);
    for (let c = 0; c < name.length; c++) out[p++] = name.charCodeAt(c);
    out[p++] = 0;
    out.set(docs[i], p);
    p += docs[i].length;
  }
  return out;
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
    const batch: RawBatch = { chunks: [], bytes: 0, count: 0 };
    let pending: Uint8Array[] = [];
    const flush = () => {
      if (!pending.length) return;
      const chunk = encodeElements(pending, batch.count);
      batch.chunks.push(chunk);
      batch.bytes += chunk.length;
      batch.count += pending.length;
      pending = [];
    };
    let bytes = 0;
    const until = n === Infinity ? performance.now() + BATCH_MS : Infinity;
    while (c.pos < c.docs.length && out.length < n) {
      if (out.length > 0 && (out.length & 255) === 0) {
        if (performance.now() > until) break;
        flush();
        yield;
      }
      const d = c.docs[c.pos];
      const b = serialize(d, SERIALIZE_OPTS);
      if (out.length > 0 && bytes + b.length > MAX_BATCH_BYTES) break;
      bytes += b.length;
      out.push(d);
      pending.push(b);
      c.pos++;
    }
    flush();
    RAW.set(out, batch);
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
