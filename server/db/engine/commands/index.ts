// The dispatch table: one handler per command, as MongoDB names them.
import type { Handler } from './types.ts';
import { hello } from './hello.ts';
import { ping } from './ping.ts';
import { buildInfo } from './buildInfo.ts';
import { endSessions } from './endSessions.ts';
import { getParameter } from './getParameter.ts';
import { create } from './create.ts';
import { drop } from './drop.ts';
import { dropDatabase } from './dropDatabase.ts';
import { listCollections } from './listCollections.ts';
import { createIndexes } from './createIndexes.ts';
import { listIndexes } from './listIndexes.ts';
import { dropIndexes } from './dropIndexes.ts';
import { insert } from './insert.ts';
import { update } from './update.ts';
import { del } from './delete.ts';
import { findAndModify } from './findAndModify.ts';
import { find } from './find.ts';
import { getMore } from './getMore.ts';
import { killCursors } from './killCursors.ts';
import { aggregate } from './aggregate.ts';
import { count } from './count.ts';
import { distinct } from './distinct.ts';

export const COMMANDS: Record<string, Handler> = {
  hello,
  isMaster: hello,
  ismaster: hello,
  ping,
  buildInfo,
  buildinfo: buildInfo,
  endSessions,
  getParameter,
  create,
  drop,
  dropDatabase,
  listCollections,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: dropIndexes,
  insert,
  update,
  delete: del,
  findAndModify,
  findandmodify: findAndModify,
  find,
  getMore,
  killCursors,
  aggregate,
  count,
  distinct,
};
