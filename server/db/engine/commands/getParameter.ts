import type { Handler } from './types.ts';

export const getParameter: Handler = (cmd) => {
  const out: Record<string, unknown> = { ok: 1 };
  if (cmd.featureCompatibilityVersion) out.featureCompatibilityVersion = { version: '7.0' };
  return out;
};
