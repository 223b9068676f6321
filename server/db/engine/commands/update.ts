import { checkFields, collName, ensureColl, getColl, writeErrorOf, type Handler } from './types.ts';

const STATEMENT = new Set(['q', 'u', 'c', 'upsert', 'multi', 'arrayFilters', 'hint', 'collation', 'upsertSupplied']);
import { applyUpdateDiff, checkUpdateSpec, upsertDoc } from '../update.ts';
import { matchDocs } from '../query.ts';
import { isPlainObject, type Doc } from '../bsonutil.ts';
import { CommandError, err } from '../errors.ts';

export const update: Handler = (cmd, ctx) => {
  const name = collName(cmd, 'update');
  const updates = cmd.updates;
  if (!Array.isArray(updates)) throw err('FailedToParse', "BSON field 'update.updates' is missing but a required field");
  for (const st of updates) if (isPlainObject(st)) checkFields(st, STATEMENT, 'update.updates');
  const ordered = cmd.ordered !== false;
  let n = 0;
  let nModified = 0;
  const upserted: Doc[] = [];
  const writeErrors: Doc[] = [];
  for (let i = 0; i < updates.length; i++) {
    const { q, u, upsert, multi, arrayFilters } = updates[i] ?? {};
    try {
      if (!isPlainObject(q)) throw err('TypeMismatch', "BSON field 'update.updates.q' is the wrong type, expected type 'object'");
      if (!isPlainObject(u) && !Array.isArray(u)) throw err('TypeMismatch', "BSON field 'update.updates.u' is the wrong type, expected type 'object'");
      if (multi && !Array.isArray(u) && !Object.keys(u).some((k) => k.startsWith('$')) && Object.keys(u).length) {
        throw err('FailedToParse', 'multi update is not supported for replacement-style update');
      }
      checkUpdateSpec(u, arrayFilters);
      const c = getColl(ctx, name);
      let matches = matchDocs(c, q);
      if (!multi) matches = matches.slice(0, 1);
      if (matches.length === 0) {
        if (upsert) {
          const coll = ensureColl(ctx, name);
          const doc = upsertDoc(q, u, arrayFilters);
          ctx.batch.insert(coll, doc);
          upserted.push({ index: i, _id: doc._id });
          n++;
        }
        continue;
      }
      for (const [k, old] of matches) {
        const r = applyUpdateDiff(old, u, { filter: q, arrayFilters });
        n++;
        if (r.modified) {
          ctx.batch.replace(c!, k, r.doc, r.changed);
          nModified++;
        }
      }
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      writeErrors.push(writeErrorOf(i, e));
      if (ordered) break;
    }
  }
  const reply: Doc = { n, nModified };
  if (upserted.length) reply.upserted = upserted;
  if (writeErrors.length) reply.writeErrors = writeErrors;
  reply.ok = 1;
  return reply;
};
