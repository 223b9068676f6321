import { collName, ensureColl, SLICE_DOCS, writeErrorOf, type Handler } from './types.ts';
import { prepareInsert } from '../update.ts';
import { CommandError, err } from '../errors.ts';

export const insert: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'insert');
  const docs = cmd.documents;
  if (!Array.isArray(docs)) throw err('FailedToParse', "BSON field 'insert.documents' is missing but a required field");
  const ordered = cmd.ordered !== false;
  const c = ensureColl(ctx, name);
  let n = 0;
  const writeErrors = [];
  for (let i = 0; i < docs.length; i++) {
    if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
    try {
      ctx.batch.insert(c, prepareInsert(docs[i]));
      n++;
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      writeErrors.push(writeErrorOf(i, e));
      if (ordered) break;
    }
  }
  return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
};
