// The pure scoring core: import everything from here. See README.md in this folder.
export * from './scheme.ts';
export * from './score.ts';
export * from './ranking.ts';
export * from './annual.ts';
export * from './accountability.ts';
export * from './whatif.ts';
export { Rational } from './rational.ts';
export * from './improve.ts';
