// Work in slices for the app's own long computations (the score job's passes, annual results, the
// scheme preview): the embedded engine's helpers, one implementation. They live in the engine, which
// imports nothing from the rest of server/ (server/db/engine/README.md).
export { drain, runInSlices, SLICE_MS, sortedIndexSteps, type Steps } from './db/engine/steps.ts';
