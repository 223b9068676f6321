// Upload reads run in worker threads (server/excel/off-thread.ts). A worker whose read succeeded is
// kept warm for the next read (a cold worker's first read took about twice as long at 5 000 rows);
// one whose read failed, timed out or ran out of memory is never used again, and results are the same
// from a warm worker as from a fresh one or the main thread.
import { expect } from 'chai';
import { scaleReturns, scaleUnits, scaleWorkbook } from '../../bench/scale.ts';
import { parseReturnsOffThread, readBudget, readWorkerStats, stopReadWorkers } from '../../server/excel/off-thread.ts';
import { parseReturnsWorkbook } from '../../server/excel/upload-parse.ts';

describe('scale: warm upload-reading workers', function () {
  this.timeout(60_000);
  const units = scaleUnits(400);
  const lookup = new Map(units.map((u) => [u.code, { code: u.code, name: u.name }]));
  let file: Buffer;
  let other: Buffer;

  before(async () => {
    stopReadWorkers();
    file = await scaleWorkbook(scaleReturns(units, { seed: 1 }));
    other = await scaleWorkbook(scaleReturns(units, { seed: 2 }).slice(0, 100));
  });
  after(() => stopReadWorkers());

  it('reuses the worker of a successful read, with the same results as the main thread', async () => {
    const first = await parseReturnsOffThread(file, { units: lookup });
    expect(first.ok).to.equal(true);
    const s1 = readWorkerStats();
    expect(s1.warm).to.equal(1);
    const second = await parseReturnsOffThread(other, { units: lookup });
    const s2 = readWorkerStats();
    expect(s2.threadIds).to.deep.equal(s1.threadIds); // the same thread read the second file
    expect(second).to.deep.equal(await parseReturnsWorkbook(other, { units: lookup }));
    expect(await parseReturnsOffThread(file, { units: lookup })).to.deep.equal(first);
    expect(first).to.deep.equal(await parseReturnsWorkbook(file, { units: lookup }));
  });

  it('a read that fails its budget terminates its worker: it is never handed another file', async () => {
    await parseReturnsOffThread(file, { units: lookup });
    const before = readWorkerStats();
    expect(before.warm).to.equal(1);
    const prev = readBudget({ timeoutMs: 100 });
    let code: string | null = null;
    try {
      // The warm worker takes this read; 100 ms is far too short for 19 000 rows: refused.
      const big = await scaleWorkbook(scaleReturns(scaleUnits(19_000), { seed: 3 }));
      await parseReturnsOffThread(big, { units: lookup }).catch((e: { code: string }) => (code = e.code));
    } finally {
      readBudget(prev);
    }
    expect(code).to.equal('upload_too_complex');
    expect(readWorkerStats().threadIds).to.not.include(before.threadIds[0]);
    // And the next read is served as usual.
    expect((await parseReturnsOffThread(other, { units: lookup })).ok).to.equal(true);
  });
});
