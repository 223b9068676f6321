import { collName, getColl, type Handler } from './types.ts';
import { err } from '../errors.ts';
import { canon, isPlainObject } from '../bsonutil.ts';

export const dropIndexes: Handler = (cmd, ctx) => {
  const name = collName(cmd, 'dropIndexes');
  const c = getColl(ctx, name);
  if (!c) throw err('NamespaceNotFound', `ns not found ${ctx.db}.${name}`);
  const was = c.indexes.length;
  const target = cmd.index;
  let drop: typeof c.indexes;
  if (target === '*') {
    drop = c.indexes.filter((i) => !i.isId);
  } else {
    const names = Array.isArray(target) ? target : [target];
    drop = names.map((t) => {
      const found = isPlainObject(t)
        ? c.indexes.find((i) => canon(i.spec.key) === canon(t))
        : c.indexes.find((i) => i.spec.name === t);
      if (!found) {
        throw err('IndexNotFound', isPlainObject(t) ? `can't find index with key: ${JSON.stringify(t)}` : `index not found with name [${String(t)}]`);
      }
      if (found.isId) throw err('InvalidOptions', 'cannot drop _id index');
      return found;
    });
  }
  if (drop.length) {
    const old = c.indexes;
    c.indexes = c.indexes.filter((i) => !drop.includes(i));
    ctx.batch.undo.push(() => {
      c.indexes = old;
    });
    ctx.batch.saveMeta(c);
  }
  return { nIndexesWas: was, ok: 1 };
};
