import { collName, type Handler } from './types.ts';
import { err } from '../errors.ts';
import { parseCollation } from '../query.ts';

const UNSUPPORTED = ['capped', 'viewOn', 'pipeline', 'timeseries', 'clusteredIndex', 'validator', 'changeStreamPreAndPostImages', 'encryptedFields'];

export const create: Handler = (cmd, ctx) => {
  const name = collName(cmd, 'create');
  for (const opt of UNSUPPORTED) {
    if (cmd[opt] !== undefined && cmd[opt] !== false) {
      throw err('InvalidOptions', `create option '${opt}' is not supported by the embedded engine`);
    }
  }
  if (parseCollation(cmd.collation)) {
    throw err('InvalidOptions', 'a collection default collation is not supported by the embedded engine (its indexes would carry it; give the collation per command instead)');
  }
  if (ctx.store.get(ctx.db, name)) throw err('NamespaceExists', `Collection ${ctx.db}.${name} already exists.`);
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cmd)) {
    if (k === 'create' || k.startsWith('$') || k === 'lsid' || k === 'writeConcern' || k === 'comment') continue;
    options[k] = v;
  }
  ctx.batch.createCollection(ctx.db, name, options);
  return { ok: 1 };
};
