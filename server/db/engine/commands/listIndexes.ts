import { collName, getColl, num, type Handler } from './types.ts';
import { err } from '../errors.ts';

export const listIndexes: Handler = (cmd, ctx) => {
  const name = collName(cmd, 'listIndexes');
  const c = getColl(ctx, name);
  if (!c) throw err('NamespaceNotFound', `ns does not exist: ${ctx.db}.${name}`);
  const specs = c.indexes.map((i) => ({ ...i.spec, v: 2 }));
  return ctx.cursors.first(`${ctx.db}.$cmd.listIndexes.${name}`, specs, ctx.connId, num(cmd.cursor?.batchSize, undefined));
};
