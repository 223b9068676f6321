// The engine's crash test at a larger count (issue 6 part 3), as a soak script rather than a CI test:
//   npx tsx bench/soak-crash.ts [--rounds 50] [--max-ms 3000]
// Repeatedly starts the engine's writer fixture (test/engine/fixtures/writer.ts: single inserts,
// two-document inserts and counter updates through the driver, printing every acknowledged write),
// SIGKILLs it at a random moment, and finally checks on the restarted engine: SQLite integrity, every
// acknowledged write present, no duplicates under the unique index (and it still rejects one), every
// two-document insert whole, the counter at least the last acknowledged value. Exit code 1 on a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MongoClient } from 'mongodb';
import { startEngine } from '../server/db/engine/index.ts';
import { runAndKill } from '../test/engine/fixtures/run-and-kill.ts';


function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const ROUNDS = arg('--rounds', 50);
const MAX_MS = arg('--max-ms', 3000);


const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-soak-'));
const problems: string[] = [];
const acked: number[] = [];
const t0 = Date.now();
try {
  for (let round = 0; round < ROUNDS; round++) {
    const r = await runAndKill(dir, round * 1_000_000, Math.floor(Math.random() * MAX_MS));
    acked.push(...r);
    if ((round + 1) % 10 === 0) console.log(`  ${round + 1}/${ROUNDS} kills, ${acked.length} acknowledged writes`);
  }
  const sql = new Database(path.join(dir, 'engine.sqlite3'));
  const integrity = sql.pragma('integrity_check', { simple: true });
  sql.close();
  if (integrity !== 'ok') problems.push(`SQLite integrity_check: ${String(integrity)}`);

  const e = await startEngine({ dataDir: dir });
  const client = await new MongoClient(e.uri).connect();
  try {
    const c = client.db('crash').collection('w');
    const all = await c.find({}, { projection: { _id: 0, n: 1 } }).toArray();
    const present = new Set(all.map((d) => d.n as number));
    const missing = acked.filter((n) => !present.has(n) || (n % 3 === 2 && !present.has(n + 0.5)));
    if (missing.length) problems.push(`${missing.length} acknowledged writes missing, e.g. ${missing.slice(0, 5).join(', ')}`);
    if (present.size !== all.length) problems.push(`duplicates under the unique index: ${all.length - present.size}`);
    const dup = (await c.insertOne({ n: acked[0] ?? 0 }).catch((x) => x)) as { code?: number };
    if (acked.length && dup.code !== 11000) problems.push('the unique index no longer rejects a duplicate');
    for (const d of all) if (Number.isInteger(d.n) && d.n % 3 === 2 && !present.has(d.n + 0.5)) problems.push(`half of pair ${d.n} missing`);
    const last = await client.db('crash').collection('counters').findOne({ _id: 'last' as never });
    const lastAcked = Math.max(...acked.filter((n) => n >= (ROUNDS - 1) * 1_000_000), 0);
    if (acked.length && (last?.n ?? -1) < lastAcked) problems.push(`counter ${last?.n} behind the last acknowledged ${lastAcked}`);
  } finally {
    await client.close();
    await e.stop();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`${ROUNDS} SIGKILLs, ${acked.length} acknowledged writes, ${((Date.now() - t0) / 1000).toFixed(0)} s: ${problems.length ? 'FAILED' : 'ok'}`);
for (const p of problems) console.log(`  - ${p}`);
process.exit(problems.length ? 1 : 0);
