import { collName, getColl, type Handler } from './types.ts';
import { err } from '../errors.ts';

export const drop: Handler = (cmd, ctx) => {
  const name = collName(cmd, 'drop');
  const c = getColl(ctx, name);
  if (!c) throw err('NamespaceNotFound', 'ns not found');
  ctx.batch.dropCollection(c);
  return { ns: c.ns, nIndexesWas: c.indexes.length, ok: 1 };
};
