import { Long } from 'bson';
import { collName, type Handler } from './types.ts';
import { err } from '../errors.ts';

export const killCursors: Handler = (cmd, ctx) => {
  collName(cmd, 'killCursors');
  if (!Array.isArray(cmd.cursors)) throw err('FailedToParse', "BSON field 'killCursors.cursors' is missing but a required field");
  const ids = cmd.cursors.map((c: unknown) => (Long.isLong(c) ? c : Long.fromNumber(Number(c))));
  return ctx.cursors.kill(ids);
};
