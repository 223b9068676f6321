import { compileFilter } from '../query.ts';
import { Binary } from 'bson';
import { num, type Handler } from './types.ts';

export const listCollections: Handler = (cmd, ctx) => {
  const pred = compileFilter(cmd.filter);
  const out = [];
  for (const c of ctx.store.dbs.get(ctx.db)?.values() ?? []) {
    const info = {
      name: c.name,
      type: 'collection',
      options: c.options,
      info: { readOnly: false, uuid: new Binary(c.uuid, 4) },
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
    };
    if (!pred(info)) continue;
    out.push(cmd.nameOnly ? { name: c.name, type: 'collection' } : info);
  }
  out.sort((a, b) => (a.name < b.name ? -1 : 1));
  return ctx.cursors.first(`${ctx.db}.$cmd.listCollections`, out, ctx.connId, num(cmd.cursor?.batchSize, undefined));
};
