import { checkFields, checkHint, collName, getColl, SLICE_DOCS, writeErrorOf, type Handler } from './types.ts';

const STATEMENT = new Set(['q', 'limit', 'hint', 'collation']);
import { checkCollationUse, matchDocs, parseCollation, parseLet, withCommand } from '../query.ts';
import { isPlainObject } from '../bsonutil.ts';
import { CommandError, err } from '../errors.ts';

export const del: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'delete');
  const deletes = cmd.deletes;
  if (!Array.isArray(deletes)) throw err('FailedToParse', "BSON field 'delete.deletes' is missing but a required field");
  for (const st of deletes) if (isPlainObject(st)) checkFields(st, STATEMENT, 'delete.deletes');
  const ordered = cmd.ordered !== false;
  const vars = parseLet(cmd.let);
  let n = 0;
  const writeErrors = [];
  for (let i = 0; i < deletes.length; i++) {
    if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
    const { q, limit, collation: coll, hint } = deletes[i] ?? {};
    try {
      if (!isPlainObject(q)) throw err('TypeMismatch', "BSON field 'delete.deletes.q' is the wrong type, expected type 'object'");
      const lim = Number(limit ?? 0);
      if (lim !== 0 && lim !== 1) throw err('FailedToParse', `The limit field in delete objects must be 0 or 1. Got ${lim}`);
      const c = getColl(ctx, name);
      const collation = parseCollation(coll);
      if (collation) checkCollationUse({ filter: q });
      checkHint(c, hint);
      let matches = withCommand({ collation, vars }, () => matchDocs(c, q));
      if (lim === 1) matches = matches.slice(0, 1);
      for (const [k] of matches) {
        ctx.batch.delete(c!, k);
        if (++n % SLICE_DOCS === 0) yield;
      }
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      writeErrors.push(writeErrorOf(i, e));
      if (ordered) break;
    }
  }
  return writeErrors.length ? { n, writeErrors, ok: 1 } : { n, ok: 1 };
};
