// Public entry of the embedded MongoDB-compatible engine. Self-contained: imports nothing
// else from server/.
import path from 'node:path';
import fs from 'node:fs';
import { Engine, type EngineOptions } from './engine.ts';
import { Store } from './store.ts';
import { lockDataDir } from './lock.ts';

export { DataDirInUseError } from './lock.ts';

export interface StartOptions extends EngineOptions {
  dataDir: string;
  /** 0 (default) picks a free port */
  port?: number;
  host?: string;
}

export interface RunningEngine {
  uri: string;
  port: number;
  stop(): Promise<void>;
  /** for tests and diagnostics */
  engine: Engine;
}

export async function startEngine(opts: StartOptions): Promise<RunningEngine> {
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const release = lockDataDir(dataDir);
  let store: Store | undefined;
  let engine: Engine | undefined;
  try {
    store = new Store(dataDir);
    engine = new Engine(store, opts);
    const host = opts.host ?? '127.0.0.1';
    const port = await engine.listen(opts.port ?? 0, host);
    let stopped: Promise<void> | undefined;
    const h = host.includes(':') ? `[${host}]` : host;
    return {
      uri: `mongodb://${h}:${port}/?directConnection=true`,
      port,
      engine,
      stop() {
        stopped ??= (async () => {
          await engine!.close();
          store!.close();
          release();
        })();
        return stopped;
      },
    };
  } catch (e) {
    if (engine) await engine.close().catch(() => {});
    store?.close();
    release();
    throw e;
  }
}
