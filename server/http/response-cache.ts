// Response bodies that are pure functions of their key (a results body per snapshot and pointer state,
// a ranking page body per snapshot, view and viewer kind), kept as bytes with a strong ETag and, on first
// demand, their gzip (made in the thread pool, never on the event loop). Bounded by entries and bytes
// (lru-cache); concurrent requests for a missing key share one build; a failed build is forgotten.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { LRUCache } from 'lru-cache';

const gzipAsync = promisify(zlib.gzip);
const GZIP_MIN_BYTES = 1024;

export const etagOf = (bytes: Buffer): string => `"${crypto.createHash('sha256').update(bytes).digest('base64url')}"`;

export interface CachedBody {
  body: Buffer;
  etag: string;
  /** The gzip of `body` with its own ETag (another representation); absent for small bodies. */
  gzipped?: () => Promise<{ body: Buffer; etag: string }>;
}

/** A body with its ETag and a memoised gzip (`onGzip` is told its size once made). */
export function cachedBody(body: Buffer, onGzip?: (bytes: number) => void): CachedBody {
  const out: CachedBody = { body, etag: etagOf(body) };
  if (body.length < GZIP_MIN_BYTES) return out;
  let gz: Promise<{ body: Buffer; etag: string }> | null = null;
  out.gzipped = () => {
    if (!gz) {
      const made = gzipAsync(body, { level: 6 }).then((z) => {
        onGzip?.(z.length);
        return { body: z, etag: etagOf(z) };
      });
      made.catch(() => {
        if (gz === made) gz = null;
      });
      gz = made;
    }
    return gz;
  };
  return out;
}

interface Entry {
  value: CachedBody;
  bytes: number;
}

export class ResponseCache {
  private readonly done: LRUCache<string, Entry>;
  private readonly building = new Map<string, Promise<CachedBody>>();

  constructor(limits: { maxEntries: number; maxBytes: number }) {
    this.done = new LRUCache<string, Entry>({ max: limits.maxEntries, maxSize: limits.maxBytes, sizeCalculation: (e) => Math.max(1, e.bytes) });
  }

  /** The cached body under `key`, built by `build` (bytes of the body) when missing. */
  get(key: string, build: () => Promise<Buffer>): Promise<CachedBody> {
    const hit = this.done.get(key);
    if (hit) return Promise.resolve(hit.value);
    const pending = this.building.get(key);
    if (pending) return pending;
    const made = (async () => {
      const bytes = await build();
      const entry: Entry = { value: cachedBody(bytes, (gz) => this.grow(key, entry.value, gz)), bytes: bytes.length };
      this.done.set(key, entry);
      return entry.value;
    })();
    this.building.set(key, made);
    made.then(
      () => this.building.delete(key),
      () => this.building.delete(key),
    );
    return made;
  }

  /** The cached body under `key`, if any (no build). */
  peek(key: string): CachedBody | undefined {
    return this.done.get(key)?.value;
  }

  /** Entries and bytes held (tests, bench). */
  stats(): { entries: number; bytes: number } {
    return { entries: this.done.size, bytes: this.done.calculatedSize };
  }

  private grow(key: string, value: CachedBody, by: number): void {
    const entry = this.done.peek(key);
    if (!entry || entry.value !== value) return;
    entry.bytes += by;
    // A new entry object: lru-cache keeps the size of a value that is set again unchanged.
    this.done.set(key, { ...entry });
  }
}
