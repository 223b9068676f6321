// Loads the TypeScript wire-parser worker inside a worker thread (tsx's loader must be registered per thread).
import { register } from 'tsx/esm/api';

register();
await import('./wire-worker.ts');
