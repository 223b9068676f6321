// MongoDB wire protocol framing: OP_MSG (kind 0 body + kind 1 document sequences,
// checksumPresent / moreToCome flags) and the legacy OP_QUERY handshake answered with OP_REPLY.
import { serialize, deserialize } from 'bson';
import { rawBatch } from './cursors.ts';
import { DESERIALIZE_OPTS } from './store.ts';
import type { Doc } from './bsonutil.ts';

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
    const sequences: [string, Doc[]][] = [];
    while (pos < end) {
      const kind = msg[pos++];
      if (kind === 0) {
        const size = msg.readInt32LE(pos);
        body = deserialize(msg.subarray(pos, pos + size), DESERIALIZE_OPTS);
        pos += size;
      } else if (kind === 1) {
        const size = msg.readInt32LE(pos);
        const secEnd = pos + size;
        let p = pos + 4;
        const nul = msg.indexOf(0, p);
        const id = msg.toString('utf8', p, nul);
        p = nul + 1;
        const docs: Doc[] = [];
        while (p < secEnd) {
          const dsize = msg.readInt32LE(p);
          docs.push(deserialize(msg.subarray(p, p + dsize), DESERIALIZE_OPTS));
          p += dsize;
        }
        sequences.push([id, docs]);
        pos = secEnd;
      } else {
        throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new ProtocolError('OP_MSG without a body section');
    for (const [id, docs] of sequences) body[id] = docs;
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
