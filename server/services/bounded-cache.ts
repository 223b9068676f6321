// A bounded cache of promised values by key, for derived data that never goes stale under its key
// (serialised results per snapshot, rendered ranking pages): least recently used out first, bounded
// by entries and by bytes; concurrent requests for a missing key share one build; a failed build is
// forgotten, so the next request tries again.
interface Entry<T> {
  value: Promise<T>;
  resolved?: T;
  bytes: number;
}

export class BoundedCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private bytes = 0;

  constructor(
    private readonly limits: { maxEntries: number; maxBytes: number },
    private readonly sizeOf: (value: T) => number,
  ) {}

  get(key: string, build: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    const entry: Entry<T> = { value: build(), bytes: 0 };
    this.entries.set(key, entry);
    // Attached before any caller gets the promise, so it runs before they see the value.
    entry.value.then(
      (v) => {
        if (this.entries.get(key) !== entry) return;
        entry.resolved = v;
        this.grow(key, entry, this.sizeOf(v));
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.evict(key);
    return entry.value;
  }

  /** Counts `n` more bytes for `value` under `key` (something made from it later), if it is still cached. */
  addBytes(key: string, value: T, n: number): void {
    const entry = this.entries.get(key);
    if (entry && entry.resolved === value) this.grow(key, entry, n);
  }

  private grow(key: string, entry: Entry<T>, n: number): void {
    entry.bytes += n;
    this.bytes += n;
    this.evict(key);
  }

  private evict(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      if (key === keep) continue;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }
}
