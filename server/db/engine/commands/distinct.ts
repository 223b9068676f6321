import { collName, getColl, type Handler } from './types.ts';
import { checkCollationUse, matchDocsSteps, parseCollation, withCommandSteps } from '../query.ts';
import { SLICE_DOCS, sortedIndexSteps } from '../steps.ts';
import { canon, compareValues, pathValues } from '../bsonutil.ts';
import { err } from '../errors.ts';

export const distinct: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'distinct');
  if (typeof cmd.key !== 'string') throw err('TypeMismatch', "BSON field 'distinct.key' is the wrong type, expected type 'string'");
  const collation = parseCollation(cmd.collation);
  if (collation) checkCollationUse({ filter: cmd.query });
  return yield* withCommandSteps({ collation }, function* () {
    const seen = new Map<string, unknown>();
    const matches = yield* matchDocsSteps(getColl(ctx, name), cmd.query);
    for (let i = 0; i < matches.length; i++) {
      if (i % SLICE_DOCS === SLICE_DOCS - 1) yield;
      for (const v of pathValues(matches[i][1], cmd.key)) {
        for (const x of Array.isArray(v) ? v : [v]) {
          if (x === undefined) continue;
          const k = canon(x);
          if (!seen.has(k)) seen.set(k, x);
        }
      }
    }
    // sorted in the collation's order (stably: first seen first); values equal under it are one value (the first seen)
    const found = [...seen.values()];
    const order = yield* sortedIndexSteps(found.length, (a, b) => compareValues(found[a], found[b]) || a - b);
    const values = order.map((i) => found[i]);
    const out = collation ? values.filter((v, i) => i === 0 || compareValues(values[i - 1], v) !== 0) : values;
    return { values: out, ok: 1 };
  });
};
