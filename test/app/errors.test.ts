// Error shapes over real HTTP: {error: {code, message}} with 400 / 401 / 403 / 404 / 409 / 413,
// 500 without leaking internals, and healthz (200, then 503 once the database is gone).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import mongoose from 'mongoose';
import { AppError } from '../../server/domain/errors.ts';
import { errorHandler } from '../../server/http/errors.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';

function expectError(res: { status: number; body: any; text: string }, status: number, code: string) {
  expect(res.status, res.text).to.equal(status);
  expect(res.body).to.be.an('object');
  expect(res.body.error).to.include({ code });
  expect(res.body.error.message).to.be.a('string').and.not.empty;
  expect(res.text).to.not.match(/at .*\.ts:\d+|node_modules|Error:/);
}

describe('app: error shapes and health', function () {
  this.timeout(30_000);
  let t: TestApp;
  let admin: string;
  before(async () => {
    t = await startTestApp({ env: { BODY_MAX_BYTES: '4096' } });
    admin = await t.tokenFor('admin');
  });
  after(async () => {
    await t?.stop();
  });

  it('GET /healthz → 200 {status: ok} while the database answers', async () => {
    const r = await t.api().get('/healthz');
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ status: 'ok', db: 'up' });
    expect(r.headers.get('cache-control')).to.equal('no-store');
  });

  it('401 without credentials, 403 for the wrong role', async () => {
    expectError(await t.api().get('/api/v1/users'), 401, 'unauthorized');
    expectError(await t.api(await t.tokenFor('office')).get('/api/v1/users'), 403, 'forbidden');
  });

  it('404 JSON for unknown API paths and unknown ids', async () => {
    expectError(await t.api(admin).get('/api/v1/nothing/here'), 404, 'not_found');
    expectError(await t.api().get('/api/v2/users'), 404, 'not_found');
    expectError(await t.api(admin).get('/api/v1/users/000000000000000000000000'), 404, 'user_not_found');
    expectError(await t.api(admin).get('/api/v1/users/not-an-id'), 404, 'user_not_found');
  });

  it('400 for malformed JSON', async () => {
    const r = await t.api(admin).raw('POST', '/api/v1/users', { body: '{"username": "x",', headers: { 'content-type': 'application/json' } });
    expectError(r, 400, 'invalid_json');
  });

  it('413 for a body over the limit', async () => {
    const big = JSON.stringify({ username: 'x', password: 'p'.repeat(8000), role: 'office' });
    expectError(await t.api(admin).raw('POST', '/api/v1/users', { body: big, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large');
  });

  it('409 for a duplicate', async () => {
    const b = { username: 'twice', password: 'password-123', role: 'office' };
    expect((await t.api(admin).post('/api/v1/users', b)).status).to.equal(201);
    expectError(await t.api(admin).post('/api/v1/users', b), 409, 'username_taken');
  });

  it('the error middleware: AppError details, mongoose validation → 400, duplicate key → 409, anything else → 500 without internals', async () => {
    const app = express();
    app.use(express.json());
    app.get('/api/app-error', () => {
      throw new AppError(422, 'bad_file', '文件有误', { errors: [{ row: 5 }] });
    });
    app.get('/api/validation', async () => {
      const M = mongoose.models.ErrTest ?? mongoose.model('ErrTest', new mongoose.Schema({ n: { type: Number, required: true, min: 0 } }));
      await new M({ n: -1 }).validate();
    });
    app.get('/api/dup', () => {
      throw Object.assign(new Error('E11000 duplicate key error collection: assessment.users'), { code: 11000 });
    });
    app.get('/api/boom', () => {
      throw new Error('secret internal detail at /srv/app.ts:12');
    });
    app.use(errorHandler);
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (p: string) => {
      const res = await fetch(base + p);
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text) };
    };
    try {
      const a = await get('/api/app-error');
      expect(a.status).to.equal(422);
      expect(a.body).to.deep.equal({ error: { code: 'bad_file', message: '文件有误', details: { errors: [{ row: 5 }] } } });
      const v = await get('/api/validation');
      expectError(v, 400, 'validation_failed');
      expect(v.body.error.details).to.have.property('n');
      expectError(await get('/api/dup'), 409, 'duplicate');
      const boom = await get('/api/boom');
      expectError(boom, 500, 'internal');
      expect(boom.text).to.not.contain('secret');
    } finally {
      server.close();
    }
  });

  it('GET /healthz → 503 once the database is gone', async () => {
    await mongoose.disconnect();
    const r = await t.api().get('/healthz');
    expect(r.status).to.equal(503);
    expect(r.body.error.code).to.equal('db_unavailable');
  });
});
