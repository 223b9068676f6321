import { collName, getColl, type Handler } from './types.ts';
import { checkCollationUse, matchDocs, parseCollation, withCommand } from '../query.ts';
import { canon, compareValues, pathValues } from '../bsonutil.ts';
import { err } from '../errors.ts';

export const distinct: Handler = (cmd, ctx) => {
  const name = collName(cmd, 'distinct');
  if (typeof cmd.key !== 'string') throw err('TypeMismatch', "BSON field 'distinct.key' is the wrong type, expected type 'string'");
  const collation = parseCollation(cmd.collation);
  if (collation) checkCollationUse({ filter: cmd.query });
  return withCommand({ collation }, () => {
    const seen = new Map<string, unknown>();
    for (const [, d] of matchDocs(getColl(ctx, name), cmd.query)) {
      for (const v of pathValues(d, cmd.key)) {
        for (const x of Array.isArray(v) ? v : [v]) {
          if (x === undefined) continue;
          const k = canon(x);
          if (!seen.has(k)) seen.set(k, x);
        }
      }
    }
    // sorted in the collation's order; values equal under it are one value (the first seen)
    const values = [...seen.values()].sort(compareValues);
    const out = collation ? values.filter((v, i) => i === 0 || compareValues(values[i - 1], v) !== 0) : values;
    return { values: out, ok: 1 };
  });
};
