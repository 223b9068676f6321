// Only the app may talk to the embedded engine (issue 12 item 3, SPEC §8). The engine listens on a
// Unix domain socket in DATA_DIR/engine-socket/ (mode 0700, this user's): no TCP port is opened, and
// another OS user's connect() is refused by the kernel. The URI startEngine returns is used as is
// by the driver, by mongoose and by other processes (MONGODB_URI).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import mongoose from 'mongoose';
import { startEngine, SOCKET_DIR, SOCKET_NAME, EngineAccessError, type RunningEngine } from '../../server/db/engine/index.ts';
import { loadConfig } from '../../server/config.ts';
import { tempDir } from './harness.ts';

const LINUX = process.platform === 'linux' && fs.existsSync('/proc/net/tcp');
const ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

/** Inodes of the TCP sockets in LISTEN state that this process holds (Linux /proc). */
function listeningTcpInodes(): Set<string> {
  const mine = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m) mine.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  const out = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[3] === '0A' && mine.has(cols[9]!)) out.add(cols[9]!);
    }
  }
  return out;
}

/** Runs a small script as another OS user that tries each action (connect to a socket, read a file); resolves with each outcome. */
function actAs(uid: number, actions: ['connect' | 'read', string][]): Promise<string[]> {
  const script = `
    const net = require('node:net');
    const fs = require('node:fs');
    const actions = JSON.parse(process.argv[1]);
    Promise.all(actions.map(([what, p]) => new Promise((resolve) => {
      if (what === 'read') {
        try { fs.readFileSync(p); resolve('read'); } catch (e) { resolve(e.code || e.message); }
        return;
      }
      const s = net.connect({ path: p });
      s.on('connect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e) => resolve(e.code || e.message));
    }))).then((r) => process.stdout.write(JSON.stringify(r)));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify(actions)], { uid, gid: uid, cwd: '/', env: { PATH: process.env.PATH ?? '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}
const connectAs = (uid: number, paths: string[]) => actAs(uid, paths.map((p) => ['connect', p] as ['connect', string]));

describe('engine access: only the app\'s OS user can talk to the embedded engine', function () {
  this.timeout(30_000);
  const dirs: string[] = [];
  const engines: RunningEngine[] = [];
  const dir = (prefix = 'access-') => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  const start = async (dataDir: string) => {
    const e = await startEngine({ dataDir });
    engines.push(e);
    return e;
  };
  after(async () => {
    for (const e of engines) await e.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('listens on a Unix socket in DATA_DIR/engine-socket/ and opens no TCP port; the URI works as is', async function () {
    if (!LINUX) this.skip();
    // The detector sees a TCP listener of this process (so that its silence below means something).
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const withProbe = listeningTcpInodes();
    await new Promise<void>((r) => probe.close(() => r()));
    const before = listeningTcpInodes();
    expect(withProbe.size).to.equal(before.size + 1);

    const d = dir();
    const e = await start(d);
    expect([...listeningTcpInodes()].filter((i) => !before.has(i)), 'TCP listeners opened by startEngine').to.deep.equal([]);
    expect(e.socketPath).to.equal(path.join(d, SOCKET_DIR, SOCKET_NAME));
    expect(e.engine.server.address()).to.equal(e.socketPath);
    expect(e.uri).to.equal(`mongodb://${encodeURIComponent(e.socketPath)}/?directConnection=true`);
    expect(fs.lstatSync(e.socketPath).isSocket()).to.equal(true);

    const client = await new MongoClient(e.uri).connect();
    try {
      await client.db('a').collection('c').insertOne({ _id: 'x' as never, v: 1 });
      expect(await client.db('a').collection('c').findOne({ _id: 'x' as never })).to.deep.equal({ _id: 'x', v: 1 });
    } finally {
      await client.close();
    }
    const conn = await mongoose.createConnection(e.uri, { dbName: 'a' }).asPromise();
    try {
      expect(await conn.db!.collection('c').countDocuments()).to.equal(1);
    } finally {
      await conn.close();
    }
    // Tools hand the URI to other processes as MONGODB_URI (bench --engine separate, fault tests).
    expect(loadConfig({ MONGODB_URI: e.uri }).mongodbUri).to.equal(e.uri);
  });

  it('DATA_DIR is made 0700 (the database file is in it); the socket directory is a real directory of this user with mode 0700, the socket 0600', async () => {
    const d = dir();
    fs.chmodSync(d, 0o755);
    const logged: string[] = [];
    const e = await startEngine({ dataDir: d, log: (_l, m) => logged.push(m) });
    engines.push(e);
    expect(fs.statSync(d).mode & 0o777).to.equal(0o700);
    expect(logged.join('\n')).to.match(/accessible to other users \(mode 755\); now 700/);
    const st = fs.lstatSync(path.dirname(e.socketPath));
    expect(st.isDirectory()).to.equal(true);
    expect(st.mode & 0o777).to.equal(0o700);
    expect(st.uid).to.equal(process.getuid!());
    expect(fs.lstatSync(e.socketPath).mode & 0o777).to.equal(0o600);
  });

  it('another OS user cannot read the database file (EACCES), while it can read one in an open directory (control)', async function () {
    if (!ROOT) this.skip(); // switching users needs root; the mode checks above still run
    const d = dir();
    fs.chmodSync(d, 0o755);
    await start(d);
    const dbFile = fs.readdirSync(d).find((f) => /\.sqlite3?$|\.db$/.test(f));
    expect(dbFile, fs.readdirSync(d).join(', ')).to.be.a('string');
    const openDir = dir('access-open-');
    fs.chmodSync(openDir, 0o755);
    fs.writeFileSync(path.join(openDir, 'control'), 'x', { mode: 0o644 });
    const [dbOutcome, controlOutcome] = await actAs(NOBODY, [
      ['read', path.join(d, dbFile!)],
      ['read', path.join(openDir, 'control')],
    ]);
    expect(controlOutcome, 'control file').to.equal('read');
    expect(dbOutcome, 'database file').to.equal('EACCES');
  });

  it('another OS user cannot connect (EACCES), while it can reach a socket whose directory lets it (control)', async function () {
    if (!ROOT) this.skip(); // switching users needs root; the mode checks above still run
    const d = dir();
    const e = await start(d);
    fs.chmodSync(d, 0o755); // DATA_DIR opened up after start: the socket directory alone must keep others out
    // control: a socket in a directory others may enter, socket mode 0777
    const openDir = dir('access-open-');
    fs.chmodSync(openDir, 0o755);
    const controlPath = path.join(openDir, 'control.sock');
    const control = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => control.listen(controlPath, () => r()));
    fs.chmodSync(controlPath, 0o777);
    try {
      const [engineOutcome, controlOutcome] = await connectAs(NOBODY, [e.socketPath, controlPath]);
      expect(controlOutcome, 'control socket').to.equal('connected');
      expect(engineOutcome, 'engine socket').to.equal('EACCES');
      // Even with the socket file itself opened up, the directory keeps them out.
      fs.chmodSync(e.socketPath, 0o777);
      expect((await connectAs(NOBODY, [e.socketPath]))[0]).to.equal('EACCES');
    } finally {
      fs.chmodSync(e.socketPath, 0o600);
      await new Promise<void>((r) => control.close(() => r()));
    }
    // The engine still serves its own user.
    const client = await new MongoClient(e.uri).connect();
    try {
      expect((await client.db('admin').command({ ping: 1 })).ok).to.equal(1);
    } finally {
      await client.close();
    }
  });

  it('takes over a socket directory left with loose permissions and a stale socket file (after a crash)', async () => {
    const d = dir();
    const sockDir = path.join(d, SOCKET_DIR);
    fs.mkdirSync(sockDir, { mode: 0o777 });
    fs.chmodSync(sockDir, 0o777);
    fs.writeFileSync(path.join(sockDir, SOCKET_NAME), 'left over');
    const e = await start(d);
    expect(fs.lstatSync(sockDir).mode & 0o777).to.equal(0o700);
    const client = await new MongoClient(e.uri).connect();
    try {
      expect((await client.db('admin').command({ ping: 1 })).ok).to.equal(1);
    } finally {
      await client.close();
    }
  });

  it('refuses a socket directory owned by another user, or a symlink in its place — and leaves nothing running or locked', async function () {
    const d = dir();
    const sockDir = path.join(d, SOCKET_DIR);
    const elsewhere = dir('access-elsewhere-');
    fs.symlinkSync(elsewhere, sockDir);
    const err1 = await startEngine({ dataDir: d }).catch((x: unknown) => x);
    expect(err1).to.be.instanceOf(EngineAccessError);
    expect((err1 as Error).message).to.match(/不是目录/);
    expect(fs.existsSync(path.join(d, 'engine.lock')), 'lock released').to.equal(false);
    expect(fs.readdirSync(elsewhere)).to.deep.equal([]);
    fs.unlinkSync(sockDir);
    if (ROOT) {
      fs.mkdirSync(sockDir, { mode: 0o700 });
      fs.chownSync(sockDir, NOBODY, NOBODY);
      const err2 = await startEngine({ dataDir: d }).catch((x: unknown) => x);
      expect(err2).to.be.instanceOf(EngineAccessError);
      expect((err2 as Error).message).to.match(/属于用户 65534/);
      expect(fs.existsSync(path.join(d, 'engine.lock')), 'lock released').to.equal(false);
      fs.rmSync(sockDir, { recursive: true });
    }
    // and once the directory is sound again, it starts
    const e = await start(d);
    expect(fs.lstatSync(sockDir).isDirectory()).to.equal(true);
    await e.stop();
  });

  it('a DATA_DIR too long for a socket path: the socket goes to a private temp directory, removed on stop', async () => {
    const d = path.join(dir(), 'x'.repeat(60), 'y'.repeat(60));
    const e = await startEngine({ dataDir: d });
    const sockDir = path.dirname(e.socketPath);
    expect(sockDir.startsWith(os.tmpdir())).to.equal(true);
    expect(fs.lstatSync(sockDir).mode & 0o777).to.equal(0o700);
    const client = await new MongoClient(e.uri).connect();
    await client.db('a').collection('c').insertOne({ v: 1 });
    await client.close();
    await e.stop();
    expect(fs.existsSync(sockDir)).to.equal(false);
    // the data are under DATA_DIR all the same
    const again = await start(d);
    const c2 = await new MongoClient(again.uri).connect();
    try {
      expect(await c2.db('a').collection('c').countDocuments()).to.equal(1);
    } finally {
      await c2.close();
    }
  });

  it('a DATA_DIR with spaces, "#", "@", ":" and Chinese characters: the URI encodes the path and works', async () => {
    const d = path.join(dir(), '数据 目录 #1 @a:b');
    const e = await start(d);
    expect(e.socketPath.startsWith(d)).to.equal(true);
    const client = await new MongoClient(e.uri).connect();
    try {
      expect((await client.db('admin').command({ ping: 1 })).ok).to.equal(1);
    } finally {
      await client.close();
    }
  });

  it('a DATA_DIR with "%" (which the driver would decode twice): the socket goes to a private temp directory and the URI works', async () => {
    const d = path.join(dir(), 'a%20b');
    const e = await start(d);
    expect(e.socketPath.startsWith(os.tmpdir())).to.equal(true);
    expect(e.socketPath.includes('%')).to.equal(false);
    const client = await new MongoClient(e.uri, { serverSelectionTimeoutMS: 5000 }).connect();
    try {
      expect((await client.db('admin').command({ ping: 1 })).ok).to.equal(1);
    } finally {
      await client.close();
    }
  });

  it('stop removes the socket; a restart on the same DATA_DIR listens again', async () => {
    const d = dir();
    const e = await startEngine({ dataDir: d });
    const p = e.socketPath;
    await e.stop();
    expect(fs.existsSync(p)).to.equal(false);
    const again = await start(d);
    expect(again.socketPath).to.equal(p);
  });

  it('asking for a TCP port or a non-loopback host is refused (not silently ignored); port 0 and loopback are accepted', async () => {
    for (const opts of [{ port: 27017 }, { host: '0.0.0.0' }, { host: '192.168.1.10' }]) {
      const err = await startEngine({ dataDir: dir(), ...opts }).catch((x: unknown) => x);
      expect(err, JSON.stringify(opts)).to.be.instanceOf(EngineAccessError);
    }
    const e = await startEngine({ dataDir: dir(), port: 0, host: '127.0.0.1' });
    engines.push(e);
    expect(e.uri).to.match(/^mongodb:\/\/%2F.*engine\.sock\/\?directConnection=true$/);
  });
});
