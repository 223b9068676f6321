import { Long } from 'bson';
import { collName, num, type Handler } from './types.ts';
import { err } from '../errors.ts';

export const getMore: Handler = (cmd, ctx) => {
  const id = cmd.getMore;
  if (!Long.isLong(id)) throw err('TypeMismatch', "BSON field 'getMore.getMore' is the wrong type, expected type 'long'");
  const coll = collName(cmd, 'collection');
  return ctx.cursors.getMore(id, `${ctx.db}.${coll}`, num(cmd.batchSize, undefined));
};
