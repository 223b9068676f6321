// MongoDB wire protocol framing: OP_MSG (kind 0 body + kind 1 document sequences,
// checksumPresent / moreToCome flags) and the legacy OP_QUERY handshake answered with OP_REPLY.
import { serialize } from 'bson';
import { rawBatch } from './cursors.ts';
import { wireBytes } from './store.ts';
import { decodeBson, isPlainObject, type Doc } from './bsonutil.ts';

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

/** A malformed message: the connection that sent it is closed. parseMessage throws nothing else. */
export class ProtocolError extends Error {}

/** A command body or a document of a sequence is at most this (MongoDB's BSONObjMaxInternalSize). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 + 16 * 1024;
/** Documents in one OP_MSG document sequence, at most (hello's maxWriteBatchSize). */
export const MAX_SEQUENCE_DOCUMENTS = 100_000;
/** Flag bits 0–15 are "required": a bit the server does not know makes the message invalid (16, exhaustAllowed, is optional). */
const REQUIRED_FLAG_BITS = 0xffff;

function fail(message: string): never {
  throw new ProtocolError(message);
}

/** The int32 at p, which must lie wholly before end. */
function int32At(b: Buffer, p: number, end: number, what: string): number {
  if (p < 0 || p + 4 > end) fail(`${what}: truncated at offset ${p}`);
  return b.readInt32LE(p);
}

/**
 * The BSON document at p, whose declared size must lie within [5, end - p] and MAX_DOCUMENT_BYTES.
 * The bytes are decoded by the bson library (which checks every nested length against them);
 * whatever it throws — including a stack overflow on absurd nesting — becomes a ProtocolError.
 */
function documentAt(b: Buffer, p: number, end: number, what: string): { doc: Doc; raw: Buffer } {
  const size = int32At(b, p, end, what);
  if (size < 5 || size > end - p) fail(`${what}: size ${size} out of range (5..${end - p})`);
  if (size > MAX_DOCUMENT_BYTES) fail(`${what}: ${size} bytes, more than ${MAX_DOCUMENT_BYTES}`);
  if (b[p + size - 1] !== 0) fail(`${what}: not terminated by a NUL byte`);
  const raw = b.subarray(p, p + size);
  let doc: Doc;
  try {
    doc = decodeBson(raw);
  } catch (e) {
    fail(`${what}: invalid BSON (${e instanceof RangeError ? 'nested too deeply' : (e as Error)?.message})`);
  }
  return { doc, raw };
}

/** End of a BSON element's value starting at p (exclusive), or -1 when unknown or not within end. */
function valueEnd(b: Buffer, type: number, p: number, end: number): number {
  const len = () => (p + 4 <= end ? b.readInt32LE(p) : -1);
  let next: number;
  switch (type) {
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      next = p + 8;
      break;
    case 0x02: // string
    case 0x0d: // code
    case 0x0e: // symbol
      next = len() >= 1 ? p + 4 + len() : -1;
      break;
    case 0x03: // document
    case 0x04: // array
      next = len() >= 5 ? p + len() : -1;
      break;
    case 0x05: // binary
      next = len() >= 0 ? p + 5 + len() : -1;
      break;
    case 0x07: // ObjectId
      next = p + 12;
      break;
    case 0x08: // boolean
      next = p + 1;
      break;
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // MaxKey
    case 0xff: // MinKey
      next = p;
      break;
    case 0x10: // int32
      next = p + 4;
      break;
    case 0x13: // decimal128
      next = p + 16;
      break;
    default:
      return -1;
  }
  return next > end ? -1 : next;
}

/**
 * The bytes of each element of the `documents` array of an insert command's body (kind 0
 * section), or null when the body is not laid out as expected (then nothing is reused).
 * Total: any byte string gives null or slices of `body`, in time linear in its length.
 */
export function insertDocumentBytes(body: Buffer): Buffer[] | null {
  if (body.length < 5 || body.readInt32LE(0) !== body.length) return null;
  const end = body.length - 1;
  let o = 4;
  while (o < end) {
    const type = body[o++];
    const nul = body.indexOf(0, o);
    if (nul < 0 || nul >= end) return null;
    const name = body.toString('utf8', o, nul);
    o = nul + 1;
    if (name === 'documents') {
      if (type !== 0x04 || o + 4 > end) return null;
      const arrSize = body.readInt32LE(o);
      if (arrSize < 5 || arrSize > end - o) return null;
      const arrEnd = o + arrSize;
      const out: Buffer[] = [];
      let q = o + 4;
      while (q < arrEnd - 1) {
        if (body[q++] !== 0x03) return null;
        const n = body.indexOf(0, q);
        if (n < 0 || n >= arrEnd - 1 || body.toString('latin1', q, n) !== String(out.length)) return null;
        q = n + 1;
        if (q + 4 > arrEnd - 1) return null;
        const dsize = body.readInt32LE(q);
        if (dsize < 5 || dsize > arrEnd - 1 - q) return null;
        out.push(body.subarray(q, q + dsize));
        q += dsize;
      }
      return q === arrEnd - 1 && body[q] === 0 ? out : null;
    }
    const next = valueEnd(body, type, o, end);
    if (next < 0) return null;
    o = next;
  }
  return null;
}

/**
 * Parses one complete message (header included; the framing hands over exactly the declared
 * number of bytes). Total: any byte string either parses or throws ProtocolError, in time and
 * memory linear in its length — every length and offset is checked against the bytes that hold
 * it (message, section, document), each step consumes at least one byte, a sequence holds at most
 * MAX_SEQUENCE_DOCUMENTS documents and a document at most MAX_DOCUMENT_BYTES.
 */
export function parseMessage(msg: Buffer): Request {
  const g = parseSteps(msg);
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * parseMessage that lets the event loop run (`tick`) every few milliseconds while it decodes the
 * documents of a large message (a 20 000-document insert): same result, same errors.
 */
export async function parseMessageAsync(msg: Buffer, tick: () => Promise<void>, sliceMs = 8): Promise<Request> {
  const g = parseSteps(msg);
  let start = performance.now();
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    if (performance.now() - start >= sliceMs) {
      await tick();
      start = performance.now();
    }
  }
}

/** Documents decoded between two yields of parseSteps. */
const DECODE_SLICE = 128;

function* parseSteps(msg: Buffer): Generator<void, Request, void> {
  if (msg.length < 16) fail(`message of ${msg.length} bytes, shorter than its 16-byte header`);
  const declared = msg.readInt32LE(0);
  if (declared !== msg.length) fail(`message length ${declared} does not match the ${msg.length} bytes received`);
  const requestId = msg.readInt32LE(4);
  const opCode = msg.readInt32LE(12);
  if (opCode === OP_MSG) return yield* parseOpMsg(msg, requestId);
  if (opCode === OP_QUERY) return parseOpQuery(msg, requestId);
  fail(`unsupported opCode ${opCode}`);
}

function* parseOpMsg(msg: Buffer, requestId: number): Generator<void, Request, void> {
  if (msg.length < 21) fail('OP_MSG without flags and a section');
  const flags = msg.readUInt32LE(16);
  const unknown = flags & REQUIRED_FLAG_BITS & ~(CHECKSUM_PRESENT | MORE_TO_COME);
  if (unknown) fail(`OP_MSG with unknown required flag bits 0x${unknown.toString(16)}`);
  let end = msg.length;
  if (flags & CHECKSUM_PRESENT) {
    if (msg.length < 25) fail('OP_MSG too short to hold a section and its checksum');
    end -= 4;
    const expected = msg.readUInt32LE(end);
    if (crc32c(msg, 0, end) !== expected) fail('OP_MSG checksum mismatch');
  }
  let pos = 20;
  let body: Doc | undefined;
  let bodyBytes: Buffer | undefined;
  const sequences = new Map<string, { docs: Doc[]; raws: Buffer[] }>();
  while (pos < end) {
    const kind = msg[pos++];
    if (kind === 0) {
      if (body) fail('OP_MSG with more than one body section');
      const { doc, raw } = documentAt(msg, pos, end, 'OP_MSG body');
      body = doc;
      bodyBytes = raw;
      pos += raw.length;
    } else if (kind === 1) {
      const size = int32At(msg, pos, end, 'OP_MSG document sequence');
      // size field, an identifier of at least one byte and its NUL
      if (size < 6 || size > end - pos) fail(`OP_MSG document sequence: size ${size} out of range (6..${end - pos})`);
      const secEnd = pos + size;
      const nul = msg.indexOf(0, pos + 4);
      if (nul < 0 || nul >= secEnd) fail('OP_MSG document sequence: identifier not terminated within the section');
      if (nul === pos + 4) fail('OP_MSG document sequence: empty identifier');
      const id = msg.toString('utf8', pos + 4, nul);
      if (sequences.has(id)) fail(`OP_MSG with two document sequences "${id}"`);
      const docs: Doc[] = [];
      const raws: Buffer[] = [];
      let p = nul + 1;
      while (p < secEnd) {
        if (docs.length >= MAX_SEQUENCE_DOCUMENTS) fail(`OP_MSG document sequence "${id}" holds more than ${MAX_SEQUENCE_DOCUMENTS} documents`);
        const { doc, raw } = documentAt(msg, p, secEnd, `document ${docs.length} of OP_MSG document sequence "${id}"`);
        docs.push(doc);
        raws.push(raw);
        p += raw.length;
        if (docs.length % DECODE_SLICE === 0) yield;
      }
      sequences.set(id, { docs, raws });
      pos = secEnd;
    } else {
      fail(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) fail('OP_MSG without a body section');
  for (const [id, { docs }] of sequences) {
    if (Object.prototype.hasOwnProperty.call(body, id)) fail(`OP_MSG field "${id}" both in the body and as a document sequence`);
    // defineProperty: an identifier "__proto__" becomes a field, not the body's prototype
    Object.defineProperty(body, id, { value: docs, enumerable: true, writable: true, configurable: true });
  }
  if (Object.keys(body)[0] === 'insert' && Array.isArray(body.documents)) {
    const seq = sequences.get('documents')?.raws;
    const raws = seq ?? (bodyBytes ? insertDocumentBytes(bodyBytes) : null);
    if (raws && raws.length === body.documents.length) {
      for (let i = 0; i < raws.length; i++) if (isPlainObject(body.documents[i])) wireBytes.set(body.documents[i], raws[i]);
    }
  }
  return { requestId, opCode: OP_MSG, body, moreToCome: (flags & MORE_TO_COME) !== 0 };
}

function parseOpQuery(msg: Buffer, requestId: number): Request {
  // header, flags, fullCollectionName (cstring), numberToSkip, numberToReturn, query[, returnFieldsSelector]
  let pos = 20;
  const nul = pos < msg.length ? msg.indexOf(0, pos) : -1;
  if (nul < 0) fail('OP_QUERY: collection name not terminated');
  const fullCollectionName = msg.toString('utf8', pos, nul);
  pos = nul + 1 + 8;
  if (pos > msg.length) fail('OP_QUERY: truncated before numberToSkip/numberToReturn');
  const query = documentAt(msg, pos, msg.length, 'OP_QUERY query');
  pos += query.raw.length;
  if (pos < msg.length) pos += documentAt(msg, pos, msg.length, 'OP_QUERY returnFieldsSelector').raw.length;
  if (pos !== msg.length) fail('OP_QUERY: bytes after its documents');
  let body = query.doc;
  if (isPlainObject(body.$query)) body = body.$query as Doc;
  return { requestId, opCode: OP_QUERY, body, moreToCome: false, fullCollectionName };
}

let nextResponseId = 1;

const cstring = (s: string) => Buffer.from(s + '\0', 'latin1');

/**
 * A cursor reply ({cursor: {firstBatch | nextBatch, …}, …}) whose batch came from Cursors:
 * the batch's array elements are its encoded chunks (made when the batch was cut). The result
 * is byte for byte what serialize(doc) gives. Null for any other reply.
 */
export function serializeCursorReply(doc: Doc): Uint8Array | null {
  const parts = cursorReplyParts(doc, 0);
  return parts && Buffer.concat(parts);
}

/**
 * serializeCursorReply as the parts to write in order — the reply's start (after `reserve` bytes
 * left for the message header), the batch's chunks themselves, its end — so that a large batch
 * is neither copied again nor allocated as one more large buffer.
 */
function cursorReplyParts(doc: Doc, reserve: number): Buffer[] | null {
  const cursor = doc.cursor;
  if (Object.keys(doc)[0] !== 'cursor' || cursor === null || typeof cursor !== 'object') return null;
  const key = Object.keys(cursor)[0];
  if (key !== 'firstBatch' && key !== 'nextBatch') return null;
  const raw = rawBatch(cursor[key]);
  if (!raw || raw.count !== cursor[key].length) return null;
  const { [key]: _batch, ...cursorRest } = cursor;
  const { cursor: _c, ...rest } = doc;
  const cursorTail = serialize(cursorRest, { ignoreUndefined: true }); // {id, ns}: its elements are reused
  const tail = serialize(rest, { ignoreUndefined: true });
  const arrLen = 4 + raw.bytes + 1;
  const keyName = cstring(key);
  const cursorLen = 4 + 1 + keyName.length + arrLen + (cursorTail.length - 5) + 1;
  const cursorName = cstring('cursor');
  const total = 4 + 1 + cursorName.length + cursorLen + (tail.length - 5) + 1;
  const head = Buffer.allocUnsafe(reserve + 4 + 1 + cursorName.length + 4 + 1 + keyName.length + 4);
  let p = reserve;
  head.writeInt32LE(total, p);
  p += 4;
  head[p++] = 0x03;
  p += cursorName.copy(head, p);
  head.writeInt32LE(cursorLen, p);
  p += 4;
  head[p++] = 0x04;
  p += keyName.copy(head, p);
  head.writeInt32LE(arrLen, p);
  const end = Buffer.allocUnsafe(1 + (cursorTail.length - 5) + 1 + (tail.length - 5) + 1);
  p = 0;
  end[p++] = 0;
  end.set(cursorTail.subarray(4, cursorTail.length - 1), p);
  p += cursorTail.length - 5;
  end[p++] = 0;
  end.set(tail.subarray(4, tail.length - 1), p);
  p += tail.length - 5;
  end[p++] = 0;
  const parts = [head, ...raw.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)), end];
  const size = parts.reduce((n, b) => n + b.length, 0);
  if (size !== reserve + total) throw new Error(`cursor reply size mismatch (${size - reserve} != ${total})`);
  return parts;
}

const MSG_HEADER = 21;

function writeMsgHeader(out: Buffer, length: number, responseTo: number): void {
  out.writeInt32LE(length, 0);
  out.writeInt32LE(nextResponseId++ & 0x7fffffff, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(OP_MSG, 12);
  out.writeUInt32LE(0, 16);
  out[20] = 0;
}

export function opMsgReply(responseTo: number, doc: Doc): Buffer {
  return Buffer.concat(opMsgReplyParts(responseTo, doc));
}

/** opMsgReply as parts to write in order (their concatenation is the message): see cursorReplyParts. */
export function opMsgReplyParts(responseTo: number, doc: Doc): Buffer[] {
  const parts = cursorReplyParts(doc, MSG_HEADER);
  if (parts) {
    writeMsgHeader(parts[0], parts.reduce((n, b) => n + b.length, 0), responseTo);
    return parts;
  }
  const body = serialize(doc, { ignoreUndefined: true });
  const out = Buffer.allocUnsafe(MSG_HEADER + body.length);
  writeMsgHeader(out, out.length, responseTo);
  out.set(body, MSG_HEADER);
  return [out];
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
