import { checkHint, collName, getColl, num, type Handler } from './types.ts';
import { checkCollationUse, checkPipeline, matchDocsSteps, parseCollation, parseLet, withCommandSteps } from '../query.ts';
import { runPipelineSteps } from '../pipeline.ts';
import { isPlainObject, type Doc } from '../bsonutil.ts';
import { err } from '../errors.ts';

export const aggregate: Handler = function* (cmd, ctx) {
  if (cmd.aggregate === 1) throw err('InvalidNamespace', 'database-level aggregate (aggregate: 1) is not supported by the embedded engine');
  const name = collName(cmd, 'aggregate');
  if (!Array.isArray(cmd.pipeline) || !cmd.pipeline.every(isPlainObject)) {
    throw err('TypeMismatch', "BSON field 'aggregate.pipeline' is the wrong type, expected type 'array'");
  }
  if (cmd.explain) throw err('InvalidOptions', 'explain is not supported by the embedded engine');
  if (!isPlainObject(cmd.cursor)) throw err('FailedToParse', "The 'cursor' option is required, except for aggregate with the explain argument");
  checkPipeline(cmd.pipeline);
  const collation = parseCollation(cmd.collation);
  if (collation) checkCollationUse({ pipeline: cmd.pipeline });
  const vars = parseLet(cmd.let);
  checkHint(getColl(ctx, name), cmd.hint);
  const out = yield* withCommandSteps({ collation, vars }, function* () {
    // A leading $match selects the input through matchDocs, so it can use an index.
    let pipeline: Doc[] = cmd.pipeline;
    let source: Doc[];
    if (pipeline.length && isPlainObject(pipeline[0].$match) && Object.keys(pipeline[0]).length === 1) {
      source = (yield* matchDocsSteps(getColl(ctx, name), pipeline[0].$match)).map(([, d]) => d);
      pipeline = pipeline.slice(1);
    } else {
      source = [...(getColl(ctx, name)?.docs.values() ?? [])];
    }
    const resolver = (coll: string): Doc[] => [...(ctx.store.get(ctx.db, coll)?.docs.values() ?? [])];
    return yield* runPipelineSteps(source, pipeline, resolver);
  });
  return yield* ctx.cursors.firstSteps(`${ctx.db}.${name}`, out, ctx.connId, num(cmd.cursor.batchSize, undefined));
};
