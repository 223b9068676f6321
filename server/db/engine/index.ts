// Public entry of the embedded MongoDB-compatible engine. Self-contained: imports nothing
// else from server/.
//
// Access (SPEC §8: connections from the app's own OS user only): the engine listens on a Unix
// domain socket, never on TCP. The socket lives in DATA_DIR/engine-socket/, a directory of mode
// 0700 owned by the engine's user, so the kernel refuses every other user (root aside) at connect();
// no credentials exist to leak. DATA_DIR itself is made 0700 too (the database file is in it).
// See README.md, "Access".
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { Engine, type EngineOptions } from './engine.ts';
import { Store } from './store.ts';
import { lockDataDir } from './lock.ts';

export { DataDirInUseError } from './lock.ts';

export interface StartOptions extends EngineOptions {
  dataDir: string;
  /**
   * Kept for existing callers: 0 or absent. The engine offers no TCP port (SPEC §8), so any other
   * value is refused rather than silently ignored.
   */
  port?: number;
  /** Kept for existing callers: absent or a loopback address (the socket is narrower still). */
  host?: string;
}

export interface RunningEngine {
  /** `mongodb://<socket path, URI-encoded>/?directConnection=true`: usable as is by any MongoDB driver run by the same OS user. */
  uri: string;
  /** The Unix domain socket the engine listens on. */
  socketPath: string;
  stop(): Promise<void>;
  /** for tests and diagnostics */
  engine: Engine;
}

/** The directory under DATA_DIR holding the engine's socket (mode 0700). */
export const SOCKET_DIR = 'engine-socket';
/** The socket's file name; the MongoDB drivers recognise a socket host by its ".sock" ending. */
export const SOCKET_NAME = 'engine.sock';
/** sun_path holds 108 bytes on Linux, 104 on macOS (NUL included): longer paths cannot be bound. */
const MAX_SOCKET_PATH_BYTES = 103;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export class EngineAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineAccessError';
  }
}

/**
 * Creates (or takes over) a directory only this OS user may enter: a real directory (no symlink),
 * owned by this user, mode 0700. Refuses one owned by someone else — they could watch or replace
 * the socket.
 */
function privateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new EngineAccessError(`引擎套接字目录 ${dir} 不是目录（可能是符号链接），已拒绝启动 (engine socket directory is not a directory)`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new EngineAccessError(`引擎套接字目录 ${dir} 属于用户 ${st.uid}，而不是当前用户 ${uid}，已拒绝启动 (engine socket directory owned by another user)`);
  }
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

/**
 * Whether every MongoDB driver can reach a socket at this path through the URI: short enough to
 * bind, and without "%" (the Node.js driver decodes a socket host twice, so "%20" in a directory
 * name would become a space).
 */
function usableSocketPath(p: string): boolean {
  return Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES && !p.includes('%');
}

/**
 * DATA_DIR holds the database file (and by default the backups): readable by others, it would give
 * away what the socket keeps from them. Group and other permissions are removed (mode 0700); when
 * that is impossible (not our directory), start-up is refused.
 */
function privateDataDir(dataDir: string, log: EngineOptions['log']): void {
  const st = fs.statSync(dataDir);
  if ((st.mode & 0o077) === 0) return;
  try {
    fs.chmodSync(dataDir, 0o700);
  } catch (e) {
    throw new EngineAccessError(
      `数据目录 ${dataDir} 对其他用户开放（权限 ${(st.mode & 0o777).toString(8)}），且无法改为 700：${(e as Error).message} (data directory accessible to other users)`,
    );
  }
  log?.('warn', `data directory ${dataDir} was accessible to other users (mode ${(st.mode & 0o777).toString(8)}); now 700`);
}

/** Where the socket goes: under DATA_DIR, or — if that path is not usable — in a private temp directory. */
function socketLocation(dataDir: string): { dir: string; socketPath: string; temporary: boolean } {
  const dir = path.join(dataDir, SOCKET_DIR);
  const socketPath = path.join(dir, SOCKET_NAME);
  if (usableSocketPath(socketPath)) return { dir, socketPath, temporary: false };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-')); // mkdtemp creates it with mode 0700
  const fallback = path.join(tmp, SOCKET_NAME);
  if (!usableSocketPath(fallback)) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new EngineAccessError(`无法为内置数据库引擎创建可用的套接字路径（${socketPath}：过长或含 "%"；临时目录 ${os.tmpdir()} 亦不可用） (no usable socket path)`);
  }
  return { dir: tmp, socketPath: fallback, temporary: true };
}

export function socketUri(socketPath: string): string {
  return `mongodb://${encodeURIComponent(socketPath)}/?directConnection=true`;
}

export async function startEngine(opts: StartOptions): Promise<RunningEngine> {
  if (opts.port !== undefined && opts.port !== 0) {
    throw new EngineAccessError(`内置数据库引擎只监听本用户可用的 Unix 套接字，不开放 TCP 端口 ${opts.port} (the embedded engine listens on a Unix domain socket only)`);
  }
  if (opts.host !== undefined && !LOOPBACK.has(opts.host)) {
    throw new EngineAccessError(`内置数据库引擎不监听网络地址 ${opts.host} (the embedded engine listens on a Unix domain socket only)`);
  }
  if (process.platform === 'win32') throw new EngineAccessError('内置数据库引擎需要 Unix 域套接字，Windows 上请设置 MONGODB_URI (Unix domain sockets required)');
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  privateDataDir(dataDir, opts.log);
  const release = lockDataDir(dataDir);
  let store: Store | undefined;
  let engine: Engine | undefined;
  let loc: ReturnType<typeof socketLocation> | undefined;
  const removeSocket = () => {
    if (!loc) return;
    fs.rmSync(loc.socketPath, { force: true });
    if (loc.temporary) fs.rmSync(loc.dir, { recursive: true, force: true });
  };
  try {
    loc = socketLocation(dataDir);
    privateDir(loc.dir);
    // We hold the data directory's lock: a socket file still there was left by an engine that died.
    fs.rmSync(loc.socketPath, { force: true });
    store = new Store(dataDir);
    engine = new Engine(store, opts);
    await engine.listenPath(loc.socketPath);
    fs.chmodSync(loc.socketPath, 0o600); // the directory already keeps others out; this too
    let stopped: Promise<void> | undefined;
    const socketPath = loc.socketPath;
    return {
      uri: socketUri(socketPath),
      socketPath,
      engine,
      stop() {
        stopped ??= (async () => {
          await engine!.close();
          store!.close();
          removeSocket();
          release();
        })();
        return stopped;
      },
    };
  } catch (e) {
    if (engine) await engine.close().catch(() => {});
    store?.close();
    try {
      removeSocket();
    } catch {
      /* best effort */
    }
    release();
    throw e;
  }
}
