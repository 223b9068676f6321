// MongoDB wire protocol framing: OP_MSG (kind 0 body + kind 1 document sequences,
// checksumPresent / moreToCome flags) and the legacy OP_QUERY handshake answered with OP_REPLY.
import { serialize, deserialize } from 'bson';
import { rawBatch } from './cursors.ts';
import { DESERIALIZE_OPTS, wireBytes } from './store.ts';
import { isPlainObject, type Doc } from './bsonutil.ts';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;
export const OP_COMPRESSED = 2012;

const CHECKSUM_PRESENT = 1 << 0;
const MORE_TO_COME = 1 << 1;

export interface Request {
  requestId: number;
  opCode: number;
  /** command body, with document sequences merged in as arrays */
  body: Doc;
  moreToCome: boolean;
  /** OP_QUERY only: full collection name, e.g. "admin.$cmd" */
  fullCollectionName?: string;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export class ProtocolError extends Error {}

/** End of a BSON element's value starting at p (exclusive), or -1 for a type not handled here. */
function valueEnd(b: Buffer, type: number, p: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      return p + 8;
    case 0x02: // string
    case 0x0d: // code
    case 0x0e: // symbol
      return p + 4 + b.readInt32LE(p);
    case 0x03: // document
    case 0x04: // array
      return p + b.readInt32LE(p);
    case 0x05: // binary
      return p + 5 + b.readInt32LE(p);
    case 0x07: // ObjectId
      return p + 12;
    case 0x08: // boolean
      return p + 1;
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // MaxKey
    case 0xff: // MinKey
      return p;
    case 0x10: // int32
      return p + 4;
    case 0x13: // decimal128
      return p + 16;
  }
  return -1;
}

/**
 * The bytes of each element of the `documents` array of an insert command's body (kind 0
 * section), or null when the body is not laid out as expected (then nothing is reused).
 */
export function insertDocumentBytes(body: Buffer): Buffer[] | null {
  const end = body.length - 1;
  let o = 4;
  while (o < end) {
    const type = body[o++];
    const nul = body.indexOf(0, o);
    if (nul < 0 || nul >= end) return null;
    const name = body.toString('utf8', o, nul);
    o = nul + 1;
    if (name === 'documents') {
      if (type !== 0x04) return null;
      const arrEnd = o + body.readInt32LE(o);
      const out: Buffer[] = [];
      let q = o + 4;
      while (q < arrEnd - 1) {
        if (body[q++] !== 0x03) return null;
        const n = body.indexOf(0, q);
        if (n < 0 || n >= arrEnd || body.toString('latin1', q, n) !== String(out.length)) return null;
        q = n + 1;
        const dsize = body.readInt32LE(q);
        if (dsize < 5 || q + dsize > arrEnd - 1) return null;
        out.push(body.subarray(q, q + dsize));
        q += dsize;
      }
      return q === arrEnd - 1 && body[q] === 0 ? out : null;
    }
    const next = valueEnd(body, type, o);
    if (next < 0 || next > end) return null;
    o = next;
  }
  return null;
}

/** Parses one complete message (header included). */
export function parseMessage(msg: Buffer): Request {
  const requestId = msg.readInt32LE(4);
  const opCode = msg.readInt32LE(12);
  if (opCode === OP_MSG) {
    const flags = msg.readUInt32LE(16);
    let end = msg.length;
    if (flags & CHECKSUM_PRESENT) {
      end -= 4;
      const expected = msg.readUInt32LE(end);
      if (crc32c(msg, 0, end) !== expected) throw new ProtocolError('OP_MSG checksum mismatch');
    }
    let pos = 20;
    let body: Doc | undefined;
    let bodyBytes: Buffer | undefined;
    const sequences: [string, Doc[]][] = [];
    const seqBytes = new Map<string, Buffer[]>();
    while (pos < end) {
      const kind = msg[pos++];
      if (kind === 0) {
        const size = msg.readInt32LE(pos);
        bodyBytes = msg.subarray(pos, pos + size);
        body = deserialize(bodyBytes, DESERIALIZE_OPTS);
        pos += size;
      } else if (kind === 1) {
        const size = msg.readInt32LE(pos);
        const secEnd = pos + size;
        let p = pos + 4;
        const nul = msg.indexOf(0, p);
        const id = msg.toString('utf8', p, nul);
        p = nul + 1;
        const docs: Doc[] = [];
        const raws: Buffer[] = [];
        while (p < secEnd) {
          const dsize = msg.readInt32LE(p);
          const raw = msg.subarray(p, p + dsize);
          docs.push(deserialize(raw, DESERIALIZE_OPTS));
          raws.push(raw);
          p += dsize;
        }
        sequences.push([id, docs]);
        seqBytes.set(id, raws);
        pos = secEnd;
      } else {
        throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new ProtocolError('OP_MSG without a body section');
    for (const [id, docs] of sequences) body[id] = docs;
    if (Object.keys(body)[0] === 'insert' && Array.isArray(body.documents)) {
      const seq = seqBytes.get('documents');
      const raws = seq ?? (bodyBytes ? insertDocumentBytes(bodyBytes) : null);
      if (raws && raws.length === body.documents.length) {
        for (let i = 0; i < raws.length; i++) if (isPlainObject(body.documents[i])) wireBytes.set(body.documents[i], raws[i]);
      }
    }
    return { requestId, opCode, body, moreToCome: (flags & MORE_TO_COME) !== 0 };
  }
  if (opCode === OP_QUERY) {
    let pos = 20;
    const nul = msg.indexOf(0, pos);
    const fullCollectionName = msg.toString('utf8', pos, nul);
    pos = nul + 1 + 8; // numberToSkip, numberToReturn
    const size = msg.readInt32LE(pos);
    let body = deserialize(msg.subarray(pos, pos + size), DESERIALIZE_OPTS);
    if (body.$query && typeof body.$query === 'object') body = body.$query;
    return { requestId, opCode, body, moreToCome: false, fullCollectionName };
  }
  throw new ProtocolError(`unsupported opCode ${opCode}`);
}

let nextResponseId = 1;

const cstring = (s: string) => Buffer.from(s + '\0', 'latin1');

/**
 * A cursor reply ({cursor: {firstBatch | nextBatch, …}, …}) whose batch came from Cursors:
 * the batch's documents are embedded from their bytes (serialised when the batch was cut).
 * The result is byte for byte what serialize(doc) gives. Null for any other reply.
 */
export function serializeCursorReply(doc: Doc): Uint8Array | null {
  const cursor = doc.cursor;
  if (Object.keys(doc)[0] !== 'cursor' || cursor === null || typeof cursor !== 'object') return null;
  const key = Object.keys(cursor)[0];
  if (key !== 'firstBatch' && key !== 'nextBatch') return null;
  const docs = rawBatch(cursor[key]);
  if (!docs || docs.length !== cursor[key].length) return null;
  const { [key]: _batch, ...cursorRest } = cursor;
  const { cursor: _c, ...rest } = doc;
  const cursorTail = serialize(cursorRest, { ignoreUndefined: true }); // {id, ns}: its elements are reused
  const tail = serialize(rest, { ignoreUndefined: true });
  let arrLen = 4 + 1;
  const names: Buffer[] = [];
  for (let i = 0; i < docs.length; i++) {
    const name = cstring(String(i));
    names.push(name);
    arrLen += 1 + name.length + docs[i].length;
  }
  const keyName = cstring(key);
  const cursorLen = 4 + 1 + keyName.length + arrLen + (cursorTail.length - 5) + 1;
  const cursorName = cstring('cursor');
  const total = 4 + 1 + cursorName.length + cursorLen + (tail.length - 5) + 1;
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  out.writeInt32LE(total, p);
  p += 4;
  out[p++] = 0x03;
  p += cursorName.copy(out, p);
  out.writeInt32LE(cursorLen, p);
  p += 4;
  out[p++] = 0x04;
  p += keyName.copy(out, p);
  out.writeInt32LE(arrLen, p);
  p += 4;
  for (let i = 0; i < docs.length; i++) {
    out[p++] = 0x03;
    p += names[i].copy(out, p);
    out.set(docs[i], p);
    p += docs[i].length;
  }
  out[p++] = 0;
  out.set(cursorTail.subarray(4, cursorTail.length - 1), p);
  p += cursorTail.length - 5;
  out[p++] = 0;
  out.set(tail.subarray(4, tail.length - 1), p);
  p += tail.length - 5;
  out[p++] = 0;
  if (p !== total) throw new Error(`cursor reply size mismatch (${p} != ${total})`);
  return out;
}

export function opMsgReply(responseTo: number, doc: Doc): Buffer {
  const body = serializeCursorReply(doc) ?? serialize(doc, { ignoreUndefined: true });
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(nextResponseId++ & 0x7fffffff, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(0, 16);
  header[20] = 0;
  return Buffer.concat([header, body]);
}

export function opReply(responseTo: number, doc: Doc): Buffer {
  const body = serialize(doc, { ignoreUndefined: true });
  const header = Buffer.alloc(36);
  header.writeInt32LE(36 + body.length, 0);
  header.writeInt32LE(nextResponseId++ & 0x7fffffff, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_REPLY, 12);
  header.writeInt32LE(0, 16); // responseFlags
  header.writeBigInt64LE(0n, 20); // cursorID
  header.writeInt32LE(0, 28); // startingFrom
  header.writeInt32LE(1, 32); // numberReturned
  return Buffer.concat([header, body]);
}
