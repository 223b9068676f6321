// A large JSON body whose bulk is one array (a whole province's results), written a chunk of items at
// a time as they are serialised, at the pace the client reads (backpressure), gzip through a streaming
// deflater — the very bytes JSON.stringify would give, without holding them whole.
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Request, Response } from 'express';

const ITEMS_PER_CHUNK = 500;

/**
 * Bodies of more than `aboveRows` rows (≈ 2.5 MB at 5 000 result rows) are streamed — and so not
 * cached — by the routes that have them (results, annual results). Exported (mutable) for tests.
 */
export const streaming = { aboveRows: 5000 };

/** The client takes a gzipped body. */
export function acceptsGzip(req: Request): boolean {
  return req.headers['accept-encoding'] !== undefined && req.acceptsEncodings('gzip', 'identity') === 'gzip';
}

/**
 * The headers of a streamed JSON body — Vary, Content-Type and, when the client takes gzip,
 * Content-Encoding: gzip — set before any status; whether it is gzipped.
 */
export function jsonStreamHeaders(req: Request, res: Response): boolean {
  const gzip = acceptsGzip(req);
  res.vary('Accept-Encoding');
  res.set('Content-Type', 'application/json; charset=utf-8');
  if (gzip) res.set('Content-Encoding', 'gzip');
  return gzip;
}

/**
 * `JSON.stringify(value)` where `value` has the array as its last property: `empty` is
 * JSON.stringify of the value with that array empty (it ends in `[]}`), `item(i)` JSON.stringify of
 * element i < count.
 */
export interface JsonArrayBody {
  empty: string;
  count: number;
  item: (i: number) => string;
}

/**
 * Answers 200 with `body`, gzipped when `gzip` (the caller has set the headers: jsonStreamHeaders). A client gone mid-way ends the response (an incomplete body); never throws.
 */
export async function sendJsonArray(req: Request, res: Response, body: JsonArrayBody, gzip: boolean): Promise<void> {
  if (!body.empty.endsWith('[]}')) throw new Error('sendJsonArray: the array must be the last property');
  res.status(200);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const head = body.empty.slice(0, -2);
  const out: Writable = gzip ? zlib.createGzip({ level: 6 }) : res;
  const piped = gzip ? pipeline(out as zlib.Gzip, res) : null;
  piped?.catch(() => undefined); // awaited below; a client gone mid-way is not an error of ours
  // Backpressure: wait for the writer to drain — or for the response to close (client gone).
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        res.off('close', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
      res.on('close', done);
    });
  // Each chunk gives the event loop a turn (other requests), also when the client reads fast.
  const write = async (text: string) => {
    if (res.destroyed || out.destroyed) throw new Error('client gone');
    if (!out.write(text)) await drained();
    else await new Promise<void>((resolve) => setImmediate(resolve));
  };
  try {
    let chunk = head;
    for (let i = 0; i < body.count; i += ITEMS_PER_CHUNK) {
      const part: string[] = [];
      for (let j = i; j < Math.min(i + ITEMS_PER_CHUNK, body.count); j++) part.push(body.item(j));
      chunk += (i === 0 ? '' : ',') + part.join(',');
      await write(chunk);
      chunk = '';
    }
    out.end(chunk + body.empty.slice(-2));
    if (piped) await piped;
  } catch (err) {
    // Headers are gone: a failed stream can only be cut short (the client sees an incomplete body).
    out.destroy();
    res.destroy(err as Error);
  }
}
