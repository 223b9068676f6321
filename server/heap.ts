// How far V8 lets the old generation grow past what the last full collection kept (HEAP_GROWTH_PERCENT,
// issue 19). V8's own rule grows a large heap up to 4× its live size between collections when garbage
// comes quickly, which is what an upload or a score run at national scale produces: measured at 50 000
// units (BENCH.md), a 3-file import peaked at 623–715 MB with V8's rule and at 440–442 MB with 20%, for
// ≈ 12% more time; a 5 000-row upload spent ≈ 20% more CPU. 0 leaves V8's own rule.
import v8 from 'node:v8';

/** Applied once at start-up, before any work (V8 reads the setting at each full collection). */
export function applyHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a non-negative integer, got ${percent}`);
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
