import { checkHint, collName, ensureColl, getColl, type Ctx, type Handler } from './types.ts';
import { applyUpdateDiff, checkUpdateSpec, upsertDoc } from '../update.ts';
import { checkCollationUse, matchDocsSteps, parseCollation, parseLet, project, sortDocsSteps, withCommandSteps } from '../query.ts';
import { isPlainObject, type Doc } from '../bsonutil.ts';
import { err } from '../errors.ts';

// The match and the sort run in slices; the write (at most one document) is made after them, in
// the command's one transaction, so an error anywhere leaves nothing written.
export const findAndModify: Handler = function* (cmd, ctx) {
  const collation = parseCollation(cmd.collation);
  if (collation) checkCollationUse({ filter: cmd.query, pipeline: Array.isArray(cmd.update) ? cmd.update : undefined });
  const vars = parseLet(cmd.let);
  return yield* withCommandSteps({ collation, vars }, () => run(cmd, ctx));
};

function* run(cmd: Doc, ctx: Ctx): Generator<void, Doc, void> {
  const name = collName(cmd, Object.keys(cmd)[0]);
  const query = cmd.query ?? {};
  if (!isPlainObject(query)) throw err('TypeMismatch', "BSON field 'findAndModify.query' is the wrong type, expected type 'object'");
  const remove = !!cmd.remove;
  const u = cmd.update;
  if (remove && u !== undefined) throw err('FailedToParse', 'Cannot specify both an update and remove=true');
  if (!remove && u === undefined) throw err('FailedToParse', 'Either an update or remove=true must be specified');
  if (remove && cmd.upsert) throw err('FailedToParse', 'Cannot specify both upsert=true and remove=true');
  if (!remove) {
    if (!isPlainObject(u) && !Array.isArray(u)) throw err('FailedToParse', 'Update argument must be either an object or an array');
    checkUpdateSpec(u, cmd.arrayFilters);
  }
  const c = getColl(ctx, name);
  checkHint(c, cmd.hint);
  let matches = yield* matchDocsSteps(c, query);
  if (cmd.sort && Object.keys(cmd.sort).length) {
    matches = yield* sortDocsSteps(matches, cmd.sort, (m) => m[1]);
  }
  const hit = matches[0];
  const shape = (d: Doc | null) => (d && cmd.fields && Object.keys(cmd.fields).length ? project([d], cmd.fields, query)[0] : d);
  if (remove) {
    if (!hit) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    ctx.batch.delete(c!, hit[0]);
    return { lastErrorObject: { n: 1 }, value: shape(hit[1]), ok: 1 };
  }
  if (!isPlainObject(u) && !Array.isArray(u)) throw err('FailedToParse', 'Update argument must be either an object or an array');
  if (!hit) {
    if (!cmd.upsert) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
    const coll = ensureColl(ctx, name);
    const doc = upsertDoc(query, u, cmd.arrayFilters);
    ctx.batch.insert(coll, doc);
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
      value: cmd.new ? shape(doc) : null,
      ok: 1,
    };
  }
  const [k, old] = hit;
  const r = applyUpdateDiff(old, u, { filter: query, arrayFilters: cmd.arrayFilters });
  const next = r.doc;
  if (r.modified) ctx.batch.replace(c!, k, next, r.changed);
  return { lastErrorObject: { n: 1, updatedExisting: true }, value: shape(cmd.new ? next : old), ok: 1 };
}
