// Test harness: the embedded engine by default, a real MongoDB when TEST_MONGODB_URI is set.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEngine, type RunningEngine } from '../../server/db/engine/index.ts';

export const REAL = process.env.TEST_MONGODB_URI;

export function tempDir(prefix = 'engine-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Target {
  uri: string;
  /** unique database name for this suite */
  dbName: string;
  embedded: RunningEngine | null;
  dataDir: string | null;
  close(): Promise<void>;
}

let counter = 0;

export async function startTarget(opts: { ttlIntervalMs?: number } = {}): Promise<Target> {
  const dbName = `conf_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  if (REAL) {
    return { uri: REAL, dbName, embedded: null, dataDir: null, close: async () => {} };
  }
  const dataDir = tempDir();
  const embedded = await startEngine({ dataDir, ttlIntervalMs: opts.ttlIntervalMs });
  return {
    uri: embedded.uri,
    dbName,
    embedded,
    dataDir,
    async close() {
      await embedded.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
