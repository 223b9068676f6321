import type { Handler } from './types.ts';

export const MAX_WIRE_VERSION = 21; // MongoDB 7.0; the 7.8 driver needs >= 9

export const hello: Handler = (cmd, ctx) => {
  const reply: Record<string, unknown> = {
    ismaster: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
  if ('hello' in cmd) {
    delete reply.ismaster;
    reply.isWritablePrimary = true;
  }
  if (cmd.helloOk) reply.helloOk = true;
  return reply;
};
