// freshShared: concurrent reads share one run, and a read is only ever answered by a run that began
// after it was asked for.
import { expect } from 'chai';
import { freshShared } from '../../server/services/fresh-shared.ts';

interface Run {
  key: string;
  resolve: (v: string) => void;
  reject: (e: Error) => void;
}

function harness() {
  const runs: Run[] = [];
  const read = freshShared((key: string) => new Promise<string>((resolve, reject) => runs.push({ key, resolve, reject })));
  return { runs, read };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('freshShared', () => {
  it('a read arriving while a run is under way waits for the next run, which all such reads share', async () => {
    const { runs, read } = harness();
    const first = read('2026');
    expect(runs).to.have.length(1);
    const second = read('2026');
    const third = read('2026');
    await tick();
    expect(runs, 'no run starts while one is under way').to.have.length(1);
    runs[0]!.resolve('run 1');
    expect(await first).to.equal('run 1');
    await tick();
    expect(runs).to.have.length(2);
    const fourth = read('2026'); // arrives during run 2: not answered by it
    runs[1]!.resolve('run 2');
    expect(await second).to.equal('run 2');
    expect(await third).to.equal('run 2');
    await tick();
    expect(runs).to.have.length(3);
    runs[2]!.resolve('run 3');
    expect(await fourth).to.equal('run 3');
    await tick();
    expect(runs).to.have.length(3);
    const later = read('2026'); // nothing under way: a run of its own at once
    expect(runs).to.have.length(4);
    runs[3]!.resolve('run 4');
    expect(await later).to.equal('run 4');
  });

  it('a failed run fails only the reads it answers; the waiting ones get the next run', async () => {
    const { runs, read } = harness();
    const first = read('k');
    const second = read('k');
    runs[0]!.reject(new Error('boom'));
    let error: unknown;
    await first.catch((e: unknown) => (error = e));
    expect((error as Error).message).to.equal('boom');
    await tick();
    runs[1]!.resolve('ok');
    expect(await second).to.equal('ok');
  });

  it('keys are independent', async () => {
    const { runs, read } = harness();
    const a = read('2025');
    const b = read('2026');
    expect(runs.map((r) => r.key)).to.deep.equal(['2025', '2026']);
    runs[1]!.resolve('b');
    runs[0]!.resolve('a');
    expect([await a, await b]).to.deep.equal(['a', 'b']);
  });
});
