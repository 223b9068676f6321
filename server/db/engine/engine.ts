// The engine: a net.Server speaking the MongoDB wire protocol in front of the command table.
// Data commands run one at a time, in arrival order, each to completion (SQLite commit included)
// before the next starts, so commands are totally ordered and a write is durable before it is
// acknowledged. A long command runs in slices (a handler or commit that is a generator yields;
// after ~SLICE_MS of work the dispatcher lets the event loop run): other connections' messages are
// received and decoded, commands that read no data (hello, ping, getMore of a materialised
// cursor, …) are answered, and the app's own requests run, in between; the next data command
// waits for the end of the current one, so nobody sees a command half done.
import net from 'node:net';
import type { Doc } from './bsonutil.ts';
import { pathValues } from './bsonutil.ts';
import { CommandError, err } from './errors.ts';
import { Store, WriteBatch } from './store.ts';
import { Cursors } from './cursors.ts';
import { drain, runInSlices } from './steps.ts';
import { COMMANDS } from './commands/index.ts';
import { OP_MSG, OP_QUERY, opMsgReplyParts, opReply, parseMessage, parseMessageAsync, ProtocolError, type Request } from './wire.ts';

const MAX_MESSAGE = 48_000_000 + 16 * 1024 * 1024;
/** Work (ms) a long command does before the dispatcher lets the event loop run. */
export { SLICE_MS } from './steps.ts';

/**
 * Commands that read no stored data and change nothing (or only read a cursor's materialised,
 * immutable result): answered at once, also while a long data command is between two slices.
 */
const FREE_COMMANDS = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'buildInfo', 'buildinfo', 'endSessions', 'getParameter', 'getMore', 'killCursors']);

const nextTick = () => new Promise<void>((r) => setImmediate(r));

function isGenerator(v: unknown): v is Generator<void, Doc, void> {
  return typeof (v as { next?: unknown })?.next === 'function' && typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** ENGINE_TRACE=1: one stderr line per command (name, collection, handler ms, commit ms). Off: no cost. */
const TRACE = process.env.ENGINE_TRACE === '1';

export interface EngineOptions {
  /** How often expired TTL documents are removed (ms); 0 disables. Default 60 s. */
  ttlIntervalMs?: number;
  /** Called for internal errors and unknown commands. */
  log?: (level: 'warn' | 'error', msg: string) => void;
}

export class Engine {
  readonly cursors = new Cursors();
  readonly unknownCommands = new Set<string>();
  private nextConnId = 1;
  private readonly sockets = new Set<net.Socket>();
  private timers: NodeJS.Timeout[] = [];
  readonly server: net.Server;

  constructor(
    readonly store: Store,
    private readonly opts: EngineOptions = {},
  ) {
    this.server = net.createServer((sock) => this.onConnection(sock));
    const ttl = opts.ttlIntervalMs ?? 60_000;
    if (ttl > 0) this.timers.push(setInterval(() => void this.exclusive(() => this.expireTtl()), ttl).unref());
    this.timers.push(setInterval(() => this.cursors.sweep(), 60_000).unref());
  }

  private onConnection(sock: net.Socket): void {
    const connId = this.nextConnId++;
    this.sockets.add(sock);
    sock.setNoDelay(true);
    // Received bytes are kept as a list of chunks and joined once per message (joining on every
    // chunk would copy a large message over and over while it trickles in).
    let chunks: Buffer[] = [];
    let have = 0;
    let need = -1; // declared length of the message being received; -1 until its first 4 bytes are in
    let pending: Promise<void> = Promise.resolve();
    sock.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      while (!sock.destroyed) {
        if (need < 0) {
          if (have < 4) return;
          if (chunks[0].length < 4) chunks = [Buffer.concat(chunks, have)];
          need = chunks[0].readInt32LE(0);
          if (need < 16 || need > MAX_MESSAGE) {
            this.opts.log?.('error', `wire protocol error: message length ${need} out of range (16..${MAX_MESSAGE}); connection closed`);
            sock.destroy();
            return;
          }
        }
        if (have < need) return;
        const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
        const msg = all.subarray(0, need);
        const rest = all.subarray(need);
        chunks = rest.length ? [rest] : [];
        have = rest.length;
        need = -1;
        // one message at a time per connection, in order (replies in request order)
        pending = pending.then(async () => {
          if (sock.destroyed) return;
          let out: Buffer[] | null;
          try {
            out = await this.handleMessageAsync(msg, connId);
          } catch (e) {
            this.opts.log?.('error', `wire protocol error: ${(e as Error).message}; connection closed`);
            sock.destroy();
            return;
          }
          if (out && !sock.destroyed) {
            sock.cork();
            for (const part of out) sock.write(part);
            sock.uncork();
          }
        });
      }
    });
    const cleanup = () => {
      this.sockets.delete(sock);
      this.cursors.dropConnection(connId);
    };
    sock.on('close', cleanup);
    sock.on('error', () => sock.destroy());
  }

  /**
   * handleMessage with the command run by runAsync (sliced, queued behind other data commands);
   * the reply as parts to write in order (a large batch is not copied into one buffer).
   */
  async handleMessageAsync(msg: Buffer, connId: number): Promise<Buffer[] | null> {
    const req = await parseMessageAsync(msg, nextTick);
    if (req.opCode === OP_QUERY) return [this.answerQuery(req, connId)];
    return this.answer(req, await this.runAsync(req.body, connId));
  }

  handleMessage(msg: Buffer, connId: number): Buffer | null {
    const req = parseMessage(msg);
    if (req.opCode === OP_QUERY) return this.answerQuery(req, connId);
    const parts = this.answer(req, this.run(req.body, connId));
    return parts && Buffer.concat(parts);
  }

  /** The legacy OP_QUERY handshake (hello / isMaster on *.$cmd), answered with OP_REPLY. */
  private answerQuery(req: Request, connId: number): Buffer {
    const name = Object.keys(req.body)[0];
    if (!req.fullCollectionName?.endsWith('.$cmd') || !['isMaster', 'ismaster', 'hello'].includes(name)) {
      return opReply(req.requestId, { ok: 0, errmsg: 'OP_QUERY is only supported for the hello/isMaster handshake', code: 352, codeName: 'UnsupportedOpQueryCommand' });
    }
    const db = req.fullCollectionName.slice(0, -'.$cmd'.length);
    return opReply(req.requestId, this.run({ ...req.body, $db: db }, connId));
  }

  /** The OP_MSG reply (none for moreToCome), as parts to write in order. */
  private answer(req: Request, reply: Doc): Buffer[] | null {
    if (req.opCode !== OP_MSG) throw new ProtocolError(`unsupported opCode ${req.opCode}`);
    if (req.moreToCome) return null;
    if (TRACE) {
      const t0 = performance.now();
      const out = opMsgReplyParts(req.requestId, reply);
      process.stderr.write(`ENGINE_TRACE reply ${Object.keys(req.body)[0]} handler=${(performance.now() - t0).toFixed(2)} commit=0\n`);
      return out;
    }
    return opMsgReplyParts(req.requestId, reply);
  }

  /** Runs one command document to completion, synchronously, and returns the reply document (never throws). */
  run(body: Doc, connId = 0): Doc {
    return drain(this.runSteps(body, connId));
  }

  /**
   * Statistics of sliced commands (diagnostics, tests, bench): slices run, the longest (ms), and
   * commands answered while a data command was between two of its slices.
   */
  readonly sliceStats = { slices: 0, longestMs: 0, servedBetween: 0 };
  /** The data command in progress (between its slices), or null. */
  private busy: string | null = null;

  /**
   * Runs one command as run() does, letting the event loop run every SLICE_MS of work. Data
   * commands wait for the one before them (see the file comment); FREE_COMMANDS do not.
   */
  runAsync(body: Doc, connId = 0): Promise<Doc> {
    const name = Object.keys(body)[0];
    if (FREE_COMMANDS.has(name)) {
      if (this.busy) this.sliceStats.servedBetween++;
      return Promise.resolve(this.run(body, connId));
    }
    return this.exclusive(async () => {
      this.busy = name;
      try {
        return await this.drive(this.runSteps(body, connId));
      } finally {
        this.busy = null;
      }
    });
  }

  /** The tail of the queue of data commands (and TTL passes): each runs when the previous ends. */
  private queue: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every data command queued before it, alone. */
  exclusive<T>(task: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  private drive<T>(g: Generator<void, T, void>): Promise<T> {
    return runInSlices(g, { onSlice: (ms) => this.noteSlice(ms) });
  }

  private noteSlice(ms: number): void {
    this.sliceStats.slices++;
    if (ms > this.sliceStats.longestMs) this.sliceStats.longestMs = ms;
  }

  /** One command as a generator of slices: the handler's, then the commit's. Never throws. */
  private *runSteps(body: Doc, connId: number): Generator<void, Doc, void> {
    const name = Object.keys(body)[0];
    const db = typeof body.$db === 'string' ? body.$db : 'admin';
    const batch = new WriteBatch(this.store);
    try {
      if (body.txnNumber !== undefined || body.startTransaction || body.autocommit === false) {
        throw err('IllegalOperation', 'Transaction numbers are only allowed on a replica set member or mongos');
      }
      const handler = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
      if (!handler) {
        if (!this.unknownCommands.has(name)) this.opts.log?.('warn', `unknown command: ${name}`);
        this.unknownCommands.add(name);
        throw err('CommandNotFound', `no such command: '${name}'`);
      }
      if (db.length === 0 || /[/\\. "$\0]/.test(db)) throw err('InvalidNamespace', `Invalid database name: '${db}'`);
      const t0 = TRACE ? performance.now() : 0;
      const out = handler(body, { store: this.store, batch, cursors: this.cursors, db, connId, startedAt: new Date() });
      const reply = isGenerator(out) ? yield* out : out;
      const t1 = TRACE ? performance.now() : 0;
      yield* batch.commitSteps();
      if (TRACE) process.stderr.write(`ENGINE_TRACE ${name} ${String(body[name])} handler=${(t1 - t0).toFixed(2)} commit=${(performance.now() - t1).toFixed(2)}\n`);
      return reply;
    } catch (e) {
      batch.rollback();
      if (e instanceof CommandError) return { ok: 0, errmsg: e.message, code: e.code, codeName: e.codeName, ...e.extra };
      this.opts.log?.('error', `command ${name} failed: ${(e as Error).stack ?? e}`);
      return { ok: 0, errmsg: `internal error: ${(e as Error).message}`, code: 1, codeName: 'InternalError' };
    }
  }

  /** Deletes documents whose TTL index date is older than expireAfterSeconds. */
  expireTtl(now = Date.now()): number {
    const batch = new WriteBatch(this.store);
    let n = 0;
    try {
      for (const dbm of this.store.dbs.values()) {
        for (const c of dbm.values()) {
          for (const idx of c.indexes) {
            const secs = idx.spec.expireAfterSeconds;
            if (secs === undefined || idx.fields.length !== 1) continue;
            for (const [k, d] of [...c.docs]) {
              const dates = pathValues(d, idx.fields[0])
                .flatMap((v) => (Array.isArray(v) ? v : [v]))
                .filter((v): v is Date => v instanceof Date);
              if (!dates.length) continue;
              const min = Math.min(...dates.map((x) => x.getTime()));
              if (min + secs * 1000 <= now) {
                batch.delete(c, k);
                n++;
              }
            }
          }
        }
      }
      batch.commit();
    } catch (e) {
      batch.rollback();
      this.opts.log?.('error', `TTL expiry failed: ${(e as Error).message}`);
      return 0;
    }
    return n;
  }

  /**
   * Listens on a Unix domain socket at `socketPath` (what startEngine does: see index.ts for the
   * directory that guards it). Resolves once listening.
   */
  listenPath(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Listens on TCP without any access control — for tests of the engine alone; startEngine never does. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
    await this.queue; // a command between two slices finishes (or is undone) first
    this.cursors.clear();
  }
}
