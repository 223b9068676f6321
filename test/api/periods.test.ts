// PUT /api/v1/periods/:period {deadline} (admin) and GET /api/v1/periods/:period (SPEC §2, §7).
import { expect } from 'chai';
import type { TestApp } from '../helpers/app.ts';
import { startWithAdmin } from '../intake/helpers.ts';

describe('periods API', () => {
  let t: TestApp;
  let admin: string;
  before(async () => {
    ({ t, admin } = await startWithAdmin());
  });
  after(async () => {
    await t?.stop();
  });

  it('answers the default deadline for a period never stored: 23:59:59 on the 15th of the month after, Asia/Shanghai', async () => {
    const rep = await t.tokenFor('reporter', 'D001');
    const q3 = await t.api(rep).get('/api/v1/periods/2026Q3');
    expect(q3.status).to.equal(200);
    expect(q3.body).to.deep.equal({ period: '2026Q3', deadline: '2026-10-15T15:59:59.000Z', defaultDeadline: true, closed: false, publishedAt: null });
    expect((await t.api(rep).get('/api/v1/periods/2026Q4')).body.deadline).to.equal('2027-01-15T15:59:59.000Z');
    const bad = await t.api(rep).get('/api/v1/periods/2026Q5');
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('invalid_period');
  });

  it('an admin moves a deadline (ISO 8601 with an offset); bad values are 400; others 403', async () => {
    const a = t.api(admin);
    const r = await a.put('/api/v1/periods/2026Q3', { deadline: '2026-10-20T18:00:00+08:00' });
    expect(r.status).to.equal(201);
    expect(r.body).to.include({ period: '2026Q3', deadline: '2026-10-20T10:00:00.000Z', defaultDeadline: false });
    expect((await a.put('/api/v1/periods/2026Q3', { deadline: '2026-10-21T00:00:00Z' })).status).to.equal(200);
    expect((await a.get('/api/v1/periods/2026Q3')).body.deadline).to.equal('2026-10-21T00:00:00.000Z');
    for (const deadline of ['next friday', '2026-13-45T00:00:00Z', 12345, '']) {
      const b = await a.put('/api/v1/periods/2026Q3', { deadline });
      expect(b.status, String(deadline)).to.equal(400);
      expect(b.body.error.message).to.contain('截止时间');
    }
    expect((await a.put('/api/v1/periods/2026Q3', {})).status).to.equal(400);
    expect((await a.put('/api/v1/periods/2026-3', { deadline: '2026-10-21T00:00:00Z' })).status).to.equal(400);
    expect((await t.api(await t.tokenFor('reviewer')).put('/api/v1/periods/2026Q3', { deadline: '2026-10-21T00:00:00Z' })).status).to.equal(403);
    expect((await a.get('/api/v1/periods/2026Q3')).body.deadline).to.equal('2026-10-21T00:00:00.000Z');
  });
});
