import { checkHint, collName, getColl, num, type Handler } from './types.ts';
import { checkCollationUse, matchDocsSteps, parseCollation, withCommandSteps } from '../query.ts';

export const count: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'count');
  const c = getColl(ctx, name);
  const skip = num(cmd.skip, 0)!;
  const limit = Math.abs(num(cmd.limit, 0)!);
  const collation = parseCollation(cmd.collation);
  if (collation) checkCollationUse({ filter: cmd.query });
  checkHint(c, cmd.hint);
  let n: number;
  if (!cmd.query || Object.keys(cmd.query).length === 0) n = c?.docs.size ?? 0;
  else n = (yield* withCommandSteps({ collation }, () => matchDocsSteps(c, cmd.query))).length;
  n = Math.max(0, n - skip);
  if (limit) n = Math.min(n, limit);
  return { n, ok: 1 };
};
