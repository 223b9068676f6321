// The engine's longest unbroken piece of work per command, in CPU time (issue 19 item 2):
// benchStall measures the event loop's delay, which on a shared machine also counts the time the
// process waits for a CPU; this drives each command's slices in this thread (no client, no worker)
// as the dispatcher does — a slice ends at the first yield after SLICE_MS of CPU time — and reports
// the longest slice (the last one includes serialising the reply, as in the dispatcher), the
// minimum over --rounds runs.
//
//   npx tsx bench/engine-slices.ts [--n 100000] [--rounds 3] [--only name,name]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectId } from 'bson';
import { startEngine } from '../server/db/engine/index.ts';
import { SLICE_MS, type Engine } from '../server/db/engine/engine.ts';
import { opMsgReplyParts } from '../server/db/engine/wire.ts';
import type { Doc } from '../server/db/engine/bsonutil.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('--n', '100000'));
const ROUNDS = Number(arg('--rounds', '3'));
const DETAIL = process.argv.includes('--detail');
const ONLY = process.argv.includes('--only') ? arg('--only', '').split(',') : null;

const doc = (i: number) => ({
  _id: new ObjectId(),
  key: 'k' + i,
  grp: 'G',
  values: Object.fromEntries(Array.from({ length: 12 }, (_, j) => [`f${j}`, (i * 7 + j) % 100])),
  label: 'item ' + i,
  at: new Date(),
});

const agg = (pipeline: Doc[], batchSize?: number) => ({ aggregate: 'c', pipeline, cursor: batchSize ? { batchSize } : {} });

/** The commands of benchStall, as command documents (same work). */
const COMMANDS: Record<string, Doc> = {
  find: { find: 'c', filter: {}, batchSize: N },
  findSort: { find: 'c', filter: {}, sort: { label: -1 }, batchSize: N },
  updateMany: { update: 'c', updates: [{ q: {}, u: { $inc: { touched: 1 } }, multi: true }] },
  count: { count: 'c', query: { 'values.f0': { $gte: 0 } } },
  countDocuments: agg([{ $match: { 'values.f1': { $gte: 0 } } }, { $group: { _id: 1, n: { $sum: 1 } } }]),
  distinct: { distinct: 'c', key: 'label' },
  findOneAndUpdate: { findAndModify: 'c', query: { 'values.f2': { $gte: 0 } }, update: { $inc: { hits: 1 } }, sort: { label: 1 }, new: true },
  createIndex: { createIndexes: 'c', indexes: [{ key: { label: 1, 'values.f3': 1 }, name: 'label_f3' }] },
  groupFew: agg([{ $group: { _id: '$values.f0', n: { $sum: 1 }, s: { $sum: '$values.f1' }, hi: { $max: '$label' } } }]),
  groupOne: agg([{ $group: { _id: null, n: { $sum: 1 }, s: { $sum: '$values.f1' }, avg: { $avg: '$values.f2' }, labels: { $push: '$label' } } }]),
  groupMany: agg([{ $group: { _id: '$key', n: { $sum: 1 }, first: { $first: '$label' } } }], N),
  aggSortLimit: agg([{ $match: { grp: 'G' } }, { $addFields: { x: { $add: ['$values.f0', '$values.f1'] } } }, { $sort: { x: -1, label: 1 } }, { $limit: 10 }]),
  aggProject: agg([{ $project: { key: 1, label: 1, s: { $concat: ['$key', '-', '$label'] } } }], N),
  aggFacet: agg([{ $facet: { byF0: [{ $sortByCount: '$values.f0' }], total: [{ $count: 'n' }] } }]),
};

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Drives one command as Engine.drive does, with slices cut by CPU time; the longest slice (ms CPU) and the reply. */
async function longestSlice(engine: Engine, body: Doc): Promise<{ longest: number; slices: number; reply: Doc }> {
  const g = (engine as unknown as { runSteps(b: Doc, c: number): Generator<void, Doc, void> }).runSteps({ ...body, $db: 'stall' }, 1);
  let longest = 0;
  let slices = 0;
  let start = cpuMs();
  for (;;) {
    const r = g.next();
    if (r.done) {
      const t = cpuMs();
      opMsgReplyParts(1, r.value); // the reply is built in the last slice's turn of the event loop
      if (DETAIL) console.log(`    last slice ${(t - start).toFixed(1)} ms + reply ${(cpuMs() - t).toFixed(1)} ms`);
      longest = Math.max(longest, cpuMs() - start);
      return { longest, slices: slices + 1, reply: r.value };
    }
    if (cpuMs() - start >= SLICE_MS) {
      if (DETAIL && cpuMs() - start > 3 * SLICE_MS) console.log(`    slice ${slices}: ${(cpuMs() - start).toFixed(1)} ms`);
      longest = Math.max(longest, cpuMs() - start);
      slices++;
      await new Promise((res) => setImmediate(res));
      start = cpuMs();
    }
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-slices-'));
const running = await startEngine({ dataDir: dir });
try {
  const engine = running.engine;
  for (let i = 0; i < N; i += 10_000) {
    const r = engine.run({ insert: 'c', documents: Array.from({ length: Math.min(10_000, N - i) }, (_, j) => doc(i + j)), $db: 'stall' });
    if (r.ok !== 1) throw new Error(JSON.stringify(r));
  }
  console.log(`engine: longest slice in CPU ms (SLICE_MS = ${SLICE_MS}), ${N} documents, min over ${ROUNDS} rounds; load average ${os.loadavg()[0].toFixed(1)}`);
  for (const [name, body] of Object.entries(COMMANDS)) {
    if (ONLY && !ONLY.includes(name)) continue;
    const runs: { longest: number; slices: number }[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      const r = await longestSlice(engine, body);
      if (r.reply.ok !== 1) throw new Error(`${name}: ${JSON.stringify(r.reply)}`);
      if (name === 'createIndex') engine.run({ dropIndexes: 'c', index: 'label_f3', $db: 'stall' });
      const id = (r.reply.cursor as Doc | undefined)?.id;
      if (id && !id.isZero?.()) engine.run({ killCursors: 'c', cursors: [id], $db: 'stall' });
      runs.push(r);
    }
    const best = runs.reduce((a, b) => (b.longest < a.longest ? b : a));
    console.log(`${name.padEnd(18)} longest slice ${best.longest.toFixed(1).padStart(6)} ms CPU   (${best.slices} slices)`);
  }
} finally {
  await running.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
