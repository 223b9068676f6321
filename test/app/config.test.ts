// Configuration (SPEC §8): defaults, validation, and start-up failing at once with one line.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../server/config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function startMain(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('config', function () {
  this.timeout(30_000);

  it('has the defaults of SPEC §8', () => {
    const c = loadConfig({});
    expect(c.port).to.equal(3000);
    expect(c.mongodbUri).to.equal(undefined);
    expect(c.dataDir).to.equal(path.resolve('./data'));
    expect(c.tz).to.equal('Asia/Shanghai');
    expect(c.demoData).to.equal(false);
    expect(c.uploadMaxBytes).to.equal(10 * 1024 * 1024);
    expect(c.logLevel).to.equal('info');
    expect(c.adminPassword).to.equal(undefined);
    expect(c.heapGrowthPercent).to.equal(20);
  });

  it('reads the environment', () => {
    const c = loadConfig({
      PORT: '8080',
      MONGODB_URI: 'mongodb://db1:27017,db2:27017/?replicaSet=rs0',
      DATA_DIR: '/var/lib/dsa',
      ADMIN_PASSWORD: 'correct horse',
      DEMO_DATA: '1',
      TZ: 'Asia/Urumqi',
      UPLOAD_MAX_BYTES: '2048',
      LOG_LEVEL: 'debug',
      SESSION_SECRET: 's'.repeat(32),
      HEAP_GROWTH_PERCENT: '0',
    });
    expect(c.heapGrowthPercent).to.equal(0);
    expect(c).to.include({ port: 8080, dataDir: '/var/lib/dsa', adminPassword: 'correct horse', demoData: true, tz: 'Asia/Urumqi', uploadMaxBytes: 2048, logLevel: 'debug' });
    expect(c.mongodbUri).to.contain('replicaSet=rs0');
    expect(c.sessionSecret).to.have.length(32);
  });

  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ TZ: 'Mars/Olympus' }, 'TZ'],
    [{ MONGODB_URI: 'http://db:27017' }, 'MONGODB_URI'],
    [{ DEMO_DATA: 'maybe' }, 'DEMO_DATA'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ UPLOAD_MAX_BYTES: '10MB' }, 'UPLOAD_MAX_BYTES'],
    [{ ADMIN_PASSWORD: 'short' }, 'ADMIN_PASSWORD'],
    [{ TOKEN_SECRET: 'tooshort' }, 'TOKEN_SECRET'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '1' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'proxy.example' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.5,,loopback' }, 'TRUST_PROXY'],
    [{ HEAP_GROWTH_PERCENT: '-5' }, 'HEAP_GROWTH_PERCENT'],
    [{ HEAP_GROWTH_PERCENT: '12.5' }, 'HEAP_GROWTH_PERCENT'],
    [{ HEAP_GROWTH_PERCENT: '401' }, 'HEAP_GROWTH_PERCENT'],
  ];

  it('TRUST_PROXY: no proxy by default; addresses, subnets and Express names of the proxy', () => {
    expect(loadConfig({}).trustProxy).to.equal(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).to.equal(false);
    expect(loadConfig({ TRUST_PROXY: '0' }).trustProxy).to.equal(false);
    expect(loadConfig({ TRUST_PROXY: 'loopback' }).trustProxy).to.equal('loopback');
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.5 , 192.168.0.0/16, fd00::/8,::1 ' }).trustProxy).to.equal('10.0.0.5,192.168.0.0/16,fd00::/8,::1');
  });
  for (const [env, key] of bad) {
    it(`refuses ${JSON.stringify(env)} with a one-line reason naming ${key}`, () => {
      expect(() => loadConfig(env)).to.throw(ConfigError, key);
      try {
        loadConfig(env);
      } catch (err) {
        expect((err as Error).message).to.not.contain('\n');
      }
    });
  }

  it('start-up with a bad configuration fails at once: exit 1, one line on stderr', async () => {
    const r = await startMain({ PORT: 'abc', DATA_DIR: '/nonexistent/never-created' });
    expect(r.code).to.equal(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.contain('配置错误').and.contain('PORT');
  });
});
