// Work in slices (issue 19): a long computation is a generator that yields between slices; whoever
// runs it (the dispatcher, runInSlices) decides at each yield whether to give the event loop back. The
// same generator, drained, is the synchronous form, so a sliced and an unsliced run are one code path.
// Dependency-free; the app's own long computations (scoring) use it too, through server/steps.ts.

/** A computation in slices: yields between two of them, returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Documents (or values) processed between two yields. */
export const SLICE_DOCS = 256;

/** Comparisons of a merge between two yields. */
const SLICE_MERGE = 4096;

/** Length of the runs sortedIndexSteps sorts whole before merging them. */
const RUN = 1024;

/** Work (ms) a sliced computation does before runInSlices lets the event loop run. */
export const SLICE_MS = 8;

/** Runs a sliced computation to its end, synchronously. */
export function drain<T>(g: Steps<T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

/**
 * The indexes 0 … n-1 in the order of `cmp`, in slices: runs of RUN indexes sorted whole, then
 * merged pairwise (bottom-up), yielding between runs and every SLICE_MERGE comparisons. `cmp`
 * must be a strict total order — never 0 for two different indexes (break ties by index) — so
 * that there is only one sorted order: the one `Array.prototype.sort` gives with the same `cmp`.
 */
export function* sortedIndexSteps(n: number, cmp: (a: number, b: number) => number): Steps<number[]> {
  let src = new Array<number>(n);
  for (let i = 0; i < n; i++) src[i] = i;
  if (n <= RUN) return src.sort(cmp);
  for (let lo = 0; lo < n; lo += RUN) {
    const run = src.slice(lo, lo + RUN).sort(cmp);
    for (let i = 0; i < run.length; i++) src[lo + i] = run[i];
    yield;
  }
  let dst = new Array<number>(n);
  let work = 0;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        dst[k++] = cmp(src[i], src[j]) < 0 ? src[i++] : src[j++];
        if (++work === SLICE_MERGE) {
          work = 0;
          yield;
        }
      }
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    [src, dst] = [dst, src];
  }
  return src;
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * Runs a sliced computation to its end on the event loop: whenever it has worked `sliceMs` since the
 * last turn, the loop runs (timers, I/O, other requests) before it goes on. `onSlice` gets each
 * slice's duration (ms).
 */
export async function runInSlices<T>(g: Steps<T>, opts: { sliceMs?: number; onSlice?: (ms: number) => void } = {}): Promise<T> {
  const sliceMs = opts.sliceMs ?? SLICE_MS;
  let start = performance.now();
  for (;;) {
    const r = g.next();
    if (r.done) {
      opts.onSlice?.(performance.now() - start);
      return r.value;
    }
    if (performance.now() - start >= sliceMs) {
      opts.onSlice?.(performance.now() - start);
      await nextTurn();
      start = performance.now();
    }
  }
}
