import type { Handler } from './types.ts';

// Sessions carry no server state here (no transactions, no retryable writes on a standalone).
export const endSessions: Handler = () => ({ ok: 1 });
