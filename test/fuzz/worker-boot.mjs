// Loads the TypeScript fuzz worker inside a worker thread (tsx's loader must be registered per thread).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
