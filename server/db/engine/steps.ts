// The engine's slices (server/steps.ts): how many documents a long command handles between two yields.
export { drain, sortedIndexSteps, type Steps } from '../../steps.ts';

/** Documents (or values) processed between two yields. */
export const SLICE_DOCS = 256;
