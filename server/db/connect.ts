// Connects mongoose: to MONGODB_URI when set, otherwise to the embedded engine started on DATA_DIR
// (a Unix domain socket in DATA_DIR/engine-socket/, which only this OS user can open: SPEC §8).
import mongoose from 'mongoose';
import { log } from '../log.ts';
import { startEngine } from './engine/index.ts';

interface EngineHandle {
  uri: string;
  socketPath: string;
  stop(): Promise<void>;
}

export interface DbOptions {
  mongodbUri?: string;
  dataDir: string;
  dbName?: string;
}

export interface DbHandle {
  /** The URI mongoose is connected to (the engine's socket URI when embedded). */
  uri: string;
  embedded: boolean;
  connection: mongoose.Connection;
  /** Disconnects mongoose, then stops the embedded engine (if any). Idempotent. */
  close(): Promise<void>;
}

export async function startEmbeddedEngine(dataDir: string): Promise<EngineHandle> {
  // The engine's own warnings and errors (malformed messages, internal errors, DATA_DIR made private) go to the app's log.
  return startEngine({ dataDir, log: (level, msg) => log[level]({ component: 'engine' }, msg) });
}

export async function connectDb(opts: DbOptions): Promise<DbHandle> {
  const dbName = opts.dbName ?? 'assessment';
  let engine: EngineHandle | null = null;
  let uri: string;
  if (opts.mongodbUri) {
    uri = opts.mongodbUri;
  } else {
    engine = await startEmbeddedEngine(opts.dataDir);
    uri = engine.uri;
    log.info({ dataDir: opts.dataDir, uri }, 'embedded engine started');
  }
  try {
    await mongoose.connect(uri, { dbName, serverSelectionTimeoutMS: engine ? 5000 : 30000 });
  } catch (err) {
    if (engine) await engine.stop().catch(() => {});
    throw err;
  }
  let closed: Promise<void> | null = null;
  return {
    uri,
    embedded: engine !== null,
    connection: mongoose.connection,
    close() {
      closed ??= (async () => {
        await mongoose.disconnect().catch((err) => log.warn({ err }, 'mongoose disconnect failed'));
        if (engine) await engine.stop();
      })();
      return closed;
    },
  };
}

/** Builds every registered model's indexes (and collections); rejects if one fails (e.g. duplicates under a unique index). */
export async function ensureIndexes(): Promise<void> {
  const conn = mongoose.connection;
  await Promise.all(conn.modelNames().map((name) => conn.model(name).init()));
}

/** Pings the database; false when it does not answer within `timeoutMs`. */
export async function pingDb(timeoutMs = 2000): Promise<boolean> {
  const conn = mongoose.connection;
  if (conn.readyState !== 1 || !conn.db) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const ping = conn.db
      .admin()
      .command({ ping: 1 })
      .then(() => true)
      .catch(() => false);
    return await Promise.race([ping, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
