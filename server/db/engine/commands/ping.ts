import type { Handler } from './types.ts';

export const ping: Handler = () => ({ ok: 1 });
