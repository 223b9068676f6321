// The engine: a net.Server speaking the MongoDB wire protocol in front of the command table.
// Every command runs synchronously to completion (SQLite commit included) before the next one
// starts, so commands are totally ordered and a write is durable before it is acknowledged.
import net from 'node:net';
import type { Doc } from './bsonutil.ts';
import { pathValues } from './bsonutil.ts';
import { CommandError, err } from './errors.ts';
import { Store, WriteBatch } from './store.ts';
import { Cursors } from './cursors.ts';
import { COMMANDS } from './commands/index.ts';
import { OP_MSG, OP_QUERY, opMsgReply, opReply, parseMessage, ProtocolError } from './wire.ts';

const MAX_MESSAGE = 48_000_000 + 16 * 1024 * 1024;
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
    if (ttl > 0) this.timers.push(setInterval(() => this.expireTtl(), ttl).unref());
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
        let out: Buffer | null;
        try {
          out = this.handleMessage(msg, connId);
        } catch (e) {
          this.opts.log?.('error', `wire protocol error: ${(e as Error).message}; connection closed`);
          sock.destroy();
          return;
        }
        if (out) sock.write(out);
      }
    });
    const cleanup = () => {
      this.sockets.delete(sock);
      this.cursors.dropConnection(connId);
    };
    sock.on('close', cleanup);
    sock.on('error', () => sock.destroy());
  }

  handleMessage(msg: Buffer, connId: number): Buffer | null {
    const req = parseMessage(msg);
    if (req.opCode === OP_QUERY) {
      const name = Object.keys(req.body)[0];
      if (!req.fullCollectionName?.endsWith('.$cmd') || !['isMaster', 'ismaster', 'hello'].includes(name)) {
        return opReply(req.requestId, { ok: 0, errmsg: 'OP_QUERY is only supported for the hello/isMaster handshake', code: 352, codeName: 'UnsupportedOpQueryCommand' });
      }
      const db = req.fullCollectionName.slice(0, -'.$cmd'.length);
      return opReply(req.requestId, this.run({ ...req.body, $db: db }, connId));
    }
    if (req.opCode !== OP_MSG) throw new ProtocolError(`unsupported opCode ${req.opCode}`);
    const reply = this.run(req.body, connId);
    if (req.moreToCome) return null;
    if (TRACE) {
      const t0 = performance.now();
      const out = opMsgReply(req.requestId, reply);
      process.stderr.write(`ENGINE_TRACE reply ${Object.keys(req.body)[0]} handler=${(performance.now() - t0).toFixed(2)} commit=0\n`);
      return out;
    }
    return opMsgReply(req.requestId, reply);
  }

  /** Runs one command document and returns the reply document (never throws). */
  run(body: Doc, connId = 0): Doc {
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
      if (TRACE) {
        const t0 = performance.now();
        const reply = handler(body, { store: this.store, batch, cursors: this.cursors, db, connId, startedAt: new Date() });
        const t1 = performance.now();
        batch.commit();
        const t2 = performance.now();
        process.stderr.write(`ENGINE_TRACE ${name} ${String(body[name])} handler=${(t1 - t0).toFixed(2)} commit=${(t2 - t1).toFixed(2)}\n`);
        return reply;
      }
      const reply = handler(body, { store: this.store, batch, cursors: this.cursors, db, connId, startedAt: new Date() });
      batch.commit();
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
    this.cursors.clear();
  }
}
