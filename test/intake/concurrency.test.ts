// Simultaneous submissions for the same unit and period: every one acknowledged keeps its revision,
// numbers are 1..n with no gap and no duplicate, in submission order, also when many-unit uploads
// race with single PUTs.
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.ts';
import { buildWorkbook, createUnits, startWithAdmin, vals } from './helpers.ts';

describe('concurrent submissions', () => {
  let t: TestApp;
  let admin: string;
  before(async () => {
    ({ t, admin } = await startWithAdmin());
    await createUnits(t, admin);
  });
  after(async () => {
    await t?.stop();
  });

  it('many simultaneous PUTs for one unit and period → revisions 1..n, none lost', async () => {
    const n = 16;
    const rep = await t.tokenFor('reporter', 'D001');
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => t.api(i % 2 ? rep : admin).put('/api/v1/returns/2026Q4/D001', { values: vals(i) })),
    );
    for (const r of results) expect(r.status, r.text).to.equal(200);
    const numbers = results.map((r) => r.body.revision as number).sort((a, b) => a - b);
    expect(numbers).to.deep.equal(Array.from({ length: n }, (_, i) => i + 1));
    const hist = await t.api(admin).get('/api/v1/returns/2026Q4/D001/revisions');
    expect(hist.body.map((h: { revision: number }) => h.revision)).to.deep.equal(numbers);
    // Each acknowledged number holds exactly the values that request sent.
    results.forEach((r, i) => {
      const stored = hist.body.find((h: { revision: number }) => h.revision === r.body.revision);
      expect(stored.values).to.deep.equal(vals(i));
    });
    // In order: submission times never go backwards as numbers go up.
    const times = hist.body.map((h: { submittedAt: string }) => Date.parse(h.submittedAt));
    expect(times).to.deep.equal([...times].sort((a, b) => a - b));
    expect((await t.api(admin).get('/api/v1/returns/2026Q4/D001')).body.revision).to.equal(n);
  });

  it('many-unit uploads racing with PUTs on the same units: gapless per unit, every file whole', async () => {
    const codes = ['D001', 'D002', 'D003', 'C0571', 'X330102'];
    const P = '2026Q3';
    const files = await Promise.all(
      Array.from({ length: 4 }, (_, k) => buildWorkbook((k % 2 ? [...codes].reverse() : codes).map((code) => ({ code, values: vals(100 + k) })))),
    );
    const jobs: Promise<{ status: number; body: any; text: string }>[] = [];
    files.forEach((f, k) => jobs.push(t.api(admin).postFile(`/api/v1/returns/upload?period=${P}`, 'file', f, `f${k}.xlsx`)));
    for (let i = 0; i < 10; i++) jobs.push(t.api(admin).put(`/api/v1/returns/${P}/${codes[i % codes.length]}`, { values: vals(i) }));
    const results = await Promise.all(jobs);
    for (const r of results) expect(r.status, r.text).to.equal(200);
    for (const code of codes) {
      const hist = (await t.api(admin).get(`/api/v1/returns/${P}/${code}/revisions`)).body as { revision: number; values: { systems_total: number } }[];
      const puts = Array.from({ length: 10 }, (_, i) => i).filter((i) => codes[i % codes.length] === code).length;
      expect(hist.map((h) => h.revision)).to.deep.equal(Array.from({ length: 4 + puts }, (_, i) => i + 1));
    }
    // Every upload's accepted numbers point at its own values.
    for (let k = 0; k < 4; k++) {
      for (const a of results[k]!.body.accepted as { unit: string; revision: number }[]) {
        const hist = (await t.api(admin).get(`/api/v1/returns/${P}/${a.unit}/revisions`)).body as { revision: number; values: unknown }[];
        expect(hist.find((h) => h.revision === a.revision)!.values).to.deep.equal(vals(100 + k));
      }
    }
  });
});
