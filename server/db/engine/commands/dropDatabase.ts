import type { Handler } from './types.ts';

export const dropDatabase: Handler = (_cmd, ctx) => {
  for (const c of [...(ctx.store.dbs.get(ctx.db)?.values() ?? [])]) ctx.batch.dropCollection(c);
  return { dropped: ctx.db, ok: 1 };
};
