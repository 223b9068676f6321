import { checkFields, checkHint, collName, ensureColl, getColl, SLICE_DOCS, writeErrorOf, type Ctx, type Handler } from './types.ts';
import { applyUpdateDiff, checkUpdateSpec, upsertDoc } from '../update.ts';
import { checkCollationUse, matchDocs, parseCollation, parseLet, withCommandSteps } from '../query.ts';
import { isPlainObject, type Doc } from '../bsonutil.ts';
import { CommandError, err } from '../errors.ts';

/** The fields of an update statement MongoDB 7.0 knows (anything else: 40415). */
const STATEMENT = new Set(['q', 'u', 'c', 'upsert', 'multi', 'arrayFilters', 'hint', 'collation', 'upsertSupplied']);

interface Counts {
  n: number;
  nModified: number;
  upserted: Doc[];
}

function* runStatement(ctx: Ctx, name: string, i: number, st: Doc, vars: Doc | null, out: Counts): Generator<void, void, void> {
  const { q, u, upsert, multi, arrayFilters, hint } = st;
  if (!isPlainObject(q)) throw err('TypeMismatch', "BSON field 'update.updates.q' is the wrong type, expected type 'object'");
  if (!isPlainObject(u) && !Array.isArray(u)) throw err('TypeMismatch', "BSON field 'update.updates.u' is the wrong type, expected type 'object'");
  if (multi && !Array.isArray(u) && !Object.keys(u).some((k) => k.startsWith('$')) && Object.keys(u).length) {
    throw err('FailedToParse', 'multi update is not supported for replacement-style update');
  }
  checkUpdateSpec(u, arrayFilters);
  const collation = parseCollation(st.collation);
  if (collation) checkCollationUse({ filter: q, pipeline: Array.isArray(u) ? u : undefined });
  const stVars = st.c !== undefined ? { ...(vars ?? {}), ...(parseLet(st.c) ?? {}) } : vars;
  const c = getColl(ctx, name);
  checkHint(c, hint);
  yield* withCommandSteps({ collation, vars: stVars }, function* () {
    let matches = matchDocs(c, q);
    if (!multi) matches = matches.slice(0, 1);
    if (matches.length === 0) {
      if (upsert) {
        const coll = ensureColl(ctx, name);
        const doc = upsertDoc(q, u, arrayFilters);
        ctx.batch.insert(coll, doc);
        out.upserted.push({ index: i, _id: doc._id });
        out.n++;
      }
      return;
    }
    for (const [k, old] of matches) {
      const r = applyUpdateDiff(old, u, { filter: q, arrayFilters });
      if (++out.n % SLICE_DOCS === 0) yield;
      if (r.modified) {
        ctx.batch.replace(c!, k, r.doc, r.changed);
        out.nModified++;
      }
    }
  });
}

export const update: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'update');
  const updates = cmd.updates;
  if (!Array.isArray(updates)) throw err('FailedToParse', "BSON field 'update.updates' is missing but a required field");
  for (const st of updates) if (isPlainObject(st)) checkFields(st, STATEMENT, 'update.updates');
  const ordered = cmd.ordered !== false;
  const vars = parseLet(cmd.let);
  const counts: Counts = { n: 0, nModified: 0, upserted: [] };
  const writeErrors: Doc[] = [];
  for (let i = 0; i < updates.length; i++) {
    try {
      if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
      yield* runStatement(ctx, name, i, updates[i] ?? {}, vars, counts);
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      writeErrors.push(writeErrorOf(i, e));
      if (ordered) break;
    }
  }
  const reply: Doc = { n: counts.n, nModified: counts.nModified };
  if (counts.upserted.length) reply.upserted = counts.upserted;
  if (writeErrors.length) reply.writeErrors = writeErrors;
  reply.ok = 1;
  return reply;
};
