// Crash test: a child process writes continuously through the driver and prints every
// acknowledged write; we SIGKILL it at random moments, restart, and check that every
// acknowledged write survived and the store is intact.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MongoClient } from 'mongodb';
import { startEngine } from '../../server/db/engine/index.ts';
import { REAL, tempDir } from './harness.ts';
import { runAndKill } from './fixtures/run-and-kill.ts';

const ROUNDS = 4;

(REAL ? describe.skip : describe)('engine: crash safety (SIGKILL)', function () {
  this.timeout(90_000);
  let dir: string;
  before(() => {
    dir = tempDir('engine-crash-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loses no acknowledged write across repeated SIGKILLs', async () => {
    const acked: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const r = await runAndKill(dir, round * 1_000_000, 150 + Math.floor(Math.random() * 900));
      acked.push(...r);
    }
    expect(acked.length).to.be.greaterThan(ROUNDS); // the writer made progress in the rounds

    // The store must be intact at the SQLite level.
    const sql = new Database(path.join(dir, 'engine.sqlite3'));
    expect(sql.pragma('integrity_check', { simple: true })).to.equal('ok');
    sql.close();

    const e = await startEngine({ dataDir: dir });
    const client = await new MongoClient(e.uri).connect();
    try {
      const c = client.db('crash').collection('w');
      const present = new Set((await c.find({}, { projection: { _id: 0, n: 1 } }).toArray()).map((d) => d.n));
      const missing = acked.filter((n) => !present.has(n) || (n % 3 === 2 && !present.has(n + 0.5)));
      expect(missing, 'acknowledged writes missing after crash').to.deep.equal([]);
      // unique index still consistent: no duplicates, and it still rejects one
      const all = await c.find().toArray();
      expect(new Set(all.map((d) => d.n)).size).to.equal(all.length);
      const dup: any = await c.insertOne({ n: acked[0] }).catch((x) => x);
      expect(dup.code).to.equal(11000);
      // multi-document inserts are atomic: a pair is either wholly there or wholly absent
      for (const d of all) if (Number.isInteger(d.n) && d.n % 3 === 2) expect(present.has(d.n + 0.5)).to.equal(true);
      const last = await client.db('crash').collection('counters').findOne({ _id: 'last' as any });
      expect(last!.n).to.be.at.least(Math.max(...acked.filter((n) => n >= (ROUNDS - 1) * 1_000_000), 0) || 0);
    } finally {
      await client.close();
      await e.stop();
    }
  });
});
