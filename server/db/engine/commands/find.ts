import { checkHint, collName, getColl, num, SLICE_DOCS, type Handler } from './types.ts';
import { checkCollationUse, matchDocsSteps, parseCollation, parseLet, project, sortDocsSteps, withCommandSteps } from '../query.ts';
import { isPlainObject } from '../bsonutil.ts';
import { err } from '../errors.ts';

export const find: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'find');
  if (cmd.filter !== undefined && !isPlainObject(cmd.filter)) throw err('TypeMismatch', "BSON field 'FindCommandRequest.filter' is the wrong type, expected type 'object'");
  const skip = num(cmd.skip, 0)!;
  let limit = num(cmd.limit, 0)!;
  let singleBatch = !!cmd.singleBatch;
  if (skip < 0) throw err('BadValue', `BSON field 'skip' value must be >= 0, actual value '${skip}'`);
  if (limit < 0) {
    limit = -limit;
    singleBatch = true;
  }
  const collation = parseCollation(cmd.collation);
  if (collation) checkCollationUse({ filter: cmd.filter });
  const vars = parseLet(cmd.let);
  const c = getColl(ctx, name);
  checkHint(c, cmd.hint);
  if (cmd.min !== undefined || cmd.max !== undefined) throw err('InvalidOptions', 'find min / max (index bounds) is not supported by the embedded engine');
  if (cmd.tailable || cmd.awaitData) throw err('BadValue', 'error processing query: tailable cursor requested on non capped collection');
  if (cmd.returnKey || cmd.showRecordId) throw err('InvalidOptions', 'find returnKey / showRecordId is not supported by the embedded engine');
  // slices: the match, the sort, the projection
  const docs = yield* withCommandSteps({ collation, vars }, function* () {
    let docs = (yield* matchDocsSteps(c, cmd.filter)).map(([, d]) => d);
    if (cmd.sort && Object.keys(cmd.sort).length) docs = yield* sortDocsSteps(docs, cmd.sort, (d) => d);
    if (skip) docs = docs.slice(skip);
    if (limit) docs = docs.slice(0, limit);
    if (!cmd.projection || docs.length <= SLICE_DOCS) return project(docs, cmd.projection, cmd.filter);
    const out: typeof docs = [];
    for (let i = 0; i < docs.length; i += SLICE_DOCS) {
      yield;
      out.push(...project(docs.slice(i, i + SLICE_DOCS), cmd.projection, cmd.filter));
    }
    return out;
  });
  let batchSize = num(cmd.batchSize, undefined);
  if (limit && (batchSize === undefined || batchSize > limit)) batchSize = limit;
  return yield* ctx.cursors.firstSteps(`${ctx.db}.${name}`, docs, ctx.connId, batchSize, singleBatch);
};
