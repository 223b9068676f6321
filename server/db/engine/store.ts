// Storage: every document lives in SQLite (WAL, synchronous=FULL) and, for reads, in memory.
// A command mutates memory through a WriteBatch that records the SQLite writes and how to undo
// them; the dispatcher commits the batch in ONE SQLite transaction before replying, or undoes it.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { serialize } from 'bson';
import { compileFilter } from './query.ts';
import { canon, collation, decodeBson, MULTI, pathValues, show, singleValue, type Doc } from './bsonutil.ts';
import { CommandError, err } from './errors.ts';
import { checkOpen, DATA_FILE, isDamage, lastBackup } from './datafile.ts';

export { DESERIALIZE_OPTS } from './bsonutil.ts';

/**
 * The BSON bytes an inserted document was decoded from (wire.ts sets them for the documents of
 * an `insert` command). The commit writes these bytes to SQLite instead of serialising the
 * document again, and drops them: `deserialize(bytes)` is the stored document itself, which is
 * never changed in place (a changed document is a new object, without bytes).
 */
export const wireBytes = new WeakMap<Doc, Uint8Array>();

/**
 * Page size of a new data file. Documents live in a WITHOUT ROWID table, whose rows hold at most
 * ≈ a quarter of a page in place; the rest goes to overflow pages, one written per row. With 4 KiB
 * pages (SQLite's default) a revision carrying warnings (1–3 KB) wrote an overflow page per row:
 * a 5 000-row upload's revisions cost 3× the SQLite writes of the same rows without. 16 KiB pages
 * hold documents of up to ≈ 4 KB in place.
 */
export const PAGE_SIZE = 16384;

/** SQLite writes of a sliced commit between two yields. */
export const SLICE_OPS = 1000;

/** Documents written from their wire bytes (diagnostics, tests). */
export const storeStats = { wirePuts: 0 };

export interface IndexSpec {
  v?: number;
  key: Record<string, number | string>;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Doc;
  [k: string]: unknown;
}

/** One index entry of a document: the full key, the canonical key of each field, the values. */
export interface Entry {
  full: string;
  keys: string[];
  values: unknown[];
}

export class Index {
  readonly fields: string[];
  /** the fields split at dots */
  private readonly parts: string[][];
  /** top-level field names the index reads (first path component of each field) */
  readonly topFields: ReadonlySet<string>;
  /** full key → document keys (for unique indexes at most one) */
  readonly map = new Map<string, Set<string>>();
  /** first field's key → document keys, for equality lookups */
  readonly prefix = new Map<string, Set<string>>();
  /** for compound indexes: key of the first L fields (L = 2 … n-1, at [L-2]) → document keys */
  readonly prefixes: Map<string, Set<string>>[] = [];
  /** the partial filter, with the engine's semantics (BSON types, order) and the simple collation */
  private readonly partial?: { test(d: Doc): boolean };

  constructor(readonly spec: IndexSpec) {
    this.fields = Object.keys(spec.key);
    this.parts = this.fields.map((f) => f.split('.'));
    this.topFields = new Set(this.parts.map((p) => p[0]));
    for (let l = 2; l < this.fields.length; l++) this.prefixes.push(new Map());
    if (spec.partialFilterExpression) {
      const pred = compileFilter(spec.partialFilterExpression);
      this.partial = {
        test(d: Doc) {
          const prev = collation.current;
          collation.current = null;
          try {
            return pred(d);
          } finally {
            collation.current = prev;
          }
        },
      };
    }
  }

  get isId(): boolean {
    return this.spec.name === '_id_';
  }

  /**
   * Whether a document's entries may differ after the top-level fields `changed` changed
   * (null: unknown, so yes). A partial index's filter may read any field, so it always may.
   */
  affectedBy(changed: ReadonlySet<string> | null): boolean {
    if (!changed || this.partial) return true;
    for (const f of this.topFields) if (changed.has(f)) return true;
    return false;
  }

  /** Index entries of a document; [] when the doc is not indexed. */
  entries(doc: Doc): Entry[] {
    if (this.partial && !this.partial.test(doc)) return [];
    // Fast path: every field has one non-array value (or is missing) — one entry.
    const n = this.parts.length;
    const single: unknown[] = new Array(n);
    let simple = true;
    let allMissing = true;
    for (let i = 0; i < n; i++) {
      const v = singleValue(doc, this.parts[i]);
      if (v === MULTI) {
        simple = false;
        break;
      }
      if (v !== undefined) allMissing = false;
      single[i] = v;
    }
    if (simple) {
      if (this.spec.sparse && allMissing) return [];
      const keys = single.map(canon);
      return [{ full: n === 1 ? keys[0] : keys.join('\u0000'), keys, values: single }];
    }
    const perField = this.fields.map((f) => {
      const vals = pathValues(doc, f).flatMap((v) => (Array.isArray(v) ? (v.length ? v : [undefined]) : [v]));
      return vals.length ? vals : [undefined];
    });
    if (this.spec.sparse && perField.every((vs) => vs.length === 1 && vs[0] === undefined)) return [];
    let combos: unknown[][] = [[]];
    for (const vs of perField) {
      const next: unknown[][] = [];
      for (const c of combos) for (const v of vs) next.push([...c, v]);
      combos = next;
    }
    const seen = new Set<string>();
    const out: Entry[] = [];
    for (const c of combos) {
      const keys = c.map(canon);
      const full = keys.join('\u0000');
      if (seen.has(full)) continue;
      seen.add(full);
      out.push({ full, keys, values: c });
    }
    return out;
  }

  add(k: string, doc: Doc, entries: Entry[] = this.entries(doc)): void {
    for (const { full, keys } of entries) {
      let s = this.map.get(full);
      if (!s) this.map.set(full, (s = new Set()));
      s.add(k);
      let p = this.prefix.get(keys[0]);
      if (!p) this.prefix.set(keys[0], (p = new Set()));
      p.add(k);
      if (this.prefixes.length) {
        let key = keys[0];
        for (let l = 2; l < this.fields.length; l++) {
          key += '\u0000' + keys[l - 1];
          const m = this.prefixes[l - 2];
          let q = m.get(key);
          if (!q) m.set(key, (q = new Set()));
          q.add(k);
        }
      }
    }
  }

  remove(k: string, doc: Doc, entries: Entry[] = this.entries(doc)): void {
    for (const { full, keys } of entries) {
      const s = this.map.get(full);
      if (s) {
        s.delete(k);
        if (!s.size) this.map.delete(full);
      }
      const p = this.prefix.get(keys[0]);
      if (p) {
        p.delete(k);
        if (!p.size) this.prefix.delete(keys[0]);
      }
      if (this.prefixes.length) {
        let key = keys[0];
        for (let l = 2; l < this.fields.length; l++) {
          key += '\u0000' + keys[l - 1];
          const m = this.prefixes[l - 2];
          const q = m.get(key);
          if (q) {
            q.delete(k);
            if (!q.size) m.delete(key);
          }
        }
      }
    }
  }

  /** Throws E11000 if `doc` (stored under key k) would duplicate another document's key. */
  check(ns: string, k: string, doc: Doc, entries?: Entry[]): void {
    if (!this.spec.unique) return;
    for (const { full, values } of entries ?? this.entries(doc)) {
      const s = this.map.get(full);
      if (s && (s.size > 1 || !s.has(k))) throw this.dupError(ns, values);
    }
  }

  dupError(ns: string, values: unknown[]) {
    const keyPattern: Doc = {};
    const keyValue: Doc = {};
    this.fields.forEach((f, i) => {
      keyPattern[f] = this.spec.key[f];
      keyValue[f] = values[i] === undefined ? null : values[i];
    });
    const shown = '{ ' + this.fields.map((f, i) => `${f}: ${show(values[i])}`).join(', ') + ' }';
    return err('DuplicateKey', `E11000 duplicate key error collection: ${ns} index: ${this.spec.name} dup key: ${shown}`, {
      keyPattern,
      keyValue,
    });
  }
}

export class Collection {
  readonly docs = new Map<string, Doc>();
  indexes: Index[] = [];
  constructor(
    readonly cid: number,
    readonly db: string,
    readonly name: string,
    public options: Doc,
    specs: IndexSpec[],
    readonly uuid: Buffer,
  ) {
    for (const s of specs) this.indexes.push(new Index(s));
  }
  get ns(): string {
    return `${this.db}.${this.name}`;
  }
  meta(): Doc {
    return { options: this.options, indexes: this.indexes.map((i) => i.spec), uuid: this.uuid };
  }
  idKey(doc: Doc): string {
    return canon(doc._id);
  }
  /** Candidate document keys for an equality lookup on `field`, or null if no index helps. */
  lookup(field: string, values: unknown[]): Set<string> | null {
    if (field === '_id') {
      const out = new Set<string>();
      for (const v of values) {
        const k = canon(v);
        if (this.docs.has(k)) out.add(k);
      }
      return out;
    }
    const idx = this.indexes.find((i) => i.fields[0] === field && !i.spec.sparse && !i.spec.partialFilterExpression);
    if (!idx) return null;
    const out = new Set<string>();
    for (const v of values) for (const k of idx.prefix.get(canon(v)) ?? []) out.add(k);
    return out;
  }

  /**
   * Candidate document keys for equality conditions (field → allowed values) covering the
   * leading fields of a compound index (at least two), or null if no index helps. The smallest
   * candidate set among usable indexes wins; callers still run the full filter on candidates.
   */
  lookupCompound(eq: Map<string, unknown[]>, info?: { covered: string[] }): Set<string> | null {
    let best: Set<string> | null = null;
    for (const idx of this.indexes) {
      if (idx.isId || idx.fields.length < 2 || idx.spec.sparse || idx.spec.partialFilterExpression) continue;
      let l = 0;
      while (l < idx.fields.length && eq.has(idx.fields[l])) l++;
      if (l < 2) continue;
      // keys of the first l fields: the cartesian product of the allowed values (bounded)
      let keys = [''];
      for (let i = 0; i < l && keys; i++) {
        const next: string[] = [];
        for (const pre of keys) for (const v of eq.get(idx.fields[i])!) next.push(i === 0 ? canon(v) : pre + '\u0000' + canon(v));
        keys = next.length > 1000 ? (null as unknown as string[]) : next;
      }
      if (!keys) continue;
      const map = l === idx.fields.length ? idx.map : idx.prefixes[l - 2];
      const out = new Set<string>();
      for (const key of keys) for (const k of map.get(key) ?? []) out.add(k);
      if (!best || out.size < best.size) {
        best = out;
        if (info) info.covered = idx.fields.slice(0, l);
      }
    }
    return best;
  }
}

type Op =
  | { t: 'put'; cid: number; k: string; doc: Doc }
  | { t: 'del'; cid: number; k: string }
  | { t: 'coll'; cid: number; db: string; name: string; meta: Doc }
  | { t: 'dropColl'; cid: number };

/** Mutations of one command: applied to memory at once, to SQLite on commit. */
export class WriteBatch {
  readonly ops: Op[] = [];
  readonly undo: (() => void)[] = [];
  constructor(readonly store: Store) {}

  insert(c: Collection, doc: Doc): void {
    const k = c.idKey(doc);
    if (c.docs.has(k)) throw c.indexes.find((i) => i.isId)!.dupError(c.ns, [doc._id]);
    const idxs = c.indexes;
    // entries computed once per index, used for the unique checks and then for adding
    const ents: (Entry[] | undefined)[] = new Array(idxs.length);
    for (let i = 0; i < idxs.length; i++) {
      const idx = idxs[i];
      if (idx.isId) continue;
      const e = (ents[i] = idx.entries(doc));
      idx.check(c.ns, k, doc, e);
    }
    for (let i = 0; i < idxs.length; i++) if (!idxs[i].isId) idxs[i].add(k, doc, ents[i]);
    c.docs.set(k, doc);
    this.ops.push({ t: 'put', cid: c.cid, k, doc });
    this.undo.push(() => {
      c.docs.delete(k);
      for (const idx of c.indexes) if (!idx.isId) idx.remove(k, doc);
    });
  }

  /**
   * Replace the stored document with key k by `doc` (same _id). `changed` names the top-level
   * fields whose values may differ between the stored document and `doc` (null: any may): the
   * entries of indexes reading none of them are the same for both and are left as they are.
   */
  replace(c: Collection, k: string, doc: Doc, changed: ReadonlySet<string> | null = null): void {
    const old = c.docs.get(k);
    if (!old) throw new Error('replace of a missing document');
    const touched = c.indexes.filter((idx) => !idx.isId && idx.affectedBy(changed));
    const oldEnts = touched.map((idx) => idx.entries(old));
    const newEnts = touched.map((idx) => idx.entries(doc));
    for (let i = 0; i < touched.length; i++) touched[i].remove(k, old, oldEnts[i]);
    try {
      for (let i = 0; i < touched.length; i++) touched[i].check(c.ns, k, doc, newEnts[i]);
    } catch (e) {
      for (let i = 0; i < touched.length; i++) touched[i].add(k, old, oldEnts[i]);
      throw e;
    }
    for (let i = 0; i < touched.length; i++) touched[i].add(k, doc, newEnts[i]);
    c.docs.set(k, doc);
    this.ops.push({ t: 'put', cid: c.cid, k, doc });
    this.undo.push(() => {
      for (let i = 0; i < touched.length; i++) touched[i].remove(k, doc, newEnts[i]);
      for (let i = 0; i < touched.length; i++) touched[i].add(k, old, oldEnts[i]);
      c.docs.set(k, old);
    });
  }

  delete(c: Collection, k: string): void {
    const old = c.docs.get(k);
    if (!old) return;
    for (const idx of c.indexes) if (!idx.isId) idx.remove(k, old);
    c.docs.delete(k);
    this.ops.push({ t: 'del', cid: c.cid, k });
    this.undo.push(() => {
      for (const idx of c.indexes) if (!idx.isId) idx.add(k, old);
      c.docs.set(k, old);
    });
  }

  /** Persist a collection's catalogue entry (options / indexes changed or created). */
  saveMeta(c: Collection): void {
    this.ops.push({ t: 'coll', cid: c.cid, db: c.db, name: c.name, meta: c.meta() });
  }

  createCollection(db: string, name: string, options: Doc = {}): Collection {
    const s = this.store;
    let dbm = s.dbs.get(db);
    const createdDb = !dbm;
    if (!dbm) s.dbs.set(db, (dbm = new Map()));
    const c = new Collection(s.nextCid++, db, name, options, [{ v: 2, key: { _id: 1 }, name: '_id_' }], randomUuid());
    dbm.set(name, c);
    this.saveMeta(c);
    this.undo.push(() => {
      dbm!.delete(name);
      if (createdDb) s.dbs.delete(db);
    });
    return c;
  }

  dropCollection(c: Collection): void {
    const s = this.store;
    const dbm = s.dbs.get(c.db)!;
    dbm.delete(c.name);
    if (!dbm.size) s.dbs.delete(c.db);
    this.ops.push({ t: 'dropColl', cid: c.cid });
    this.undo.push(() => {
      let m = s.dbs.get(c.db);
      if (!m) s.dbs.set(c.db, (m = new Map()));
      m.set(c.name, c);
    });
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]();
    this.undo.length = 0;
    this.ops.length = 0;
  }

  /**
   * commit() in slices (Store.applySteps) when the batch is large: the caller drives the
   * generator to completion; the memory changes are already made and are undone on failure.
   */
  *commitSteps(): Generator<void, void, void> {
    if (this.ops.length <= SLICE_OPS) return this.commit();
    try {
      yield* this.store.applySteps(this.ops);
    } catch (e) {
      this.rollback();
      throw e;
    }
    this.ops.length = 0;
    this.undo.length = 0;
  }

  commit(): void {
    if (!this.ops.length) return;
    try {
      this.store.apply(this.ops);
    } catch (e) {
      this.rollback();
      throw e;
    }
    this.ops.length = 0;
    this.undo.length = 0;
  }
}

/** Start-up refused: the data file failed SQLite's quick check (or could not be read). */
export class DataFileDamagedError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    dataDir: string,
  ) {
    const b = lastBackup(dataDir);
    const zh = b ? `请用最近的完好备份恢复：${b.file}（${b.at}）` : '没有记录到完好的备份';
    const en = b ? `restore the last good backup ${b.file} (${b.at})` : 'no good backup recorded';
    super(`数据文件 ${file} 已损坏，引擎未启动；${zh} (data file damaged: ${problem.split('\n')[0]}; engine not started; ${en})`);
    this.name = 'DataFileDamagedError';
  }
}

const FULL = /^(SQLITE_FULL|ENOSPC|EDQUOT)$/;
const IO = /^(SQLITE_IOERR|SQLITE_CANTOPEN|SQLITE_READONLY|EIO|EROFS)/;

/** The error to answer for a commit that could not be made durable, or null for other errors. */
export function notDurable(e: unknown): CommandError | null {
  const code = String((e as { code?: unknown })?.code ?? '');
  const msg = (e as Error)?.message ?? String(e);
  if (FULL.test(code)) {
    return new CommandError(14031, 'OutOfDiskSpace', `写入未保存：磁盘空间不足，数据未作任何更改 (write refused, not durable: disk full: ${msg})`);
  }
  if (IO.test(code)) {
    return new CommandError(1, 'InternalError', `写入未保存：磁盘读写错误，数据未作任何更改 (write refused, not durable: I/O error ${code}: ${msg})`);
  }
  return null;
}

function randomUuid(): Buffer {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

export class Store {
  readonly sql: Database.Database;
  readonly dbs = new Map<string, Map<string, Collection>>();
  nextCid = 1;
  private readonly stmts: {
    put: Database.Statement;
    del: Database.Statement;
    coll: Database.Statement;
    dropDocs: Database.Statement;
    dropColl: Database.Statement;
  };
  private readonly tx: (ops: Op[]) => void;
  private readonly begin: Database.Statement;
  private readonly commitStmt: Database.Statement;
  private readonly rollbackStmt: Database.Statement;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, DATA_FILE);
    // Integrity at start: a damaged file stops here (nothing loaded, nothing served).
    let sql: Database.Database | undefined;
    try {
      sql = new Database(file);
      const problem = checkOpen(sql, 'quick_check');
      if (problem) throw new DataFileDamagedError(file, problem, dataDir);
      // A new data file gets pages of PAGE_SIZE bytes (an existing one keeps its own: SQLite fixes the
      // page size when the file is created, and WAL mode cannot change it).
      if (sql.pragma('page_count', { simple: true }) === 0) sql.pragma(`page_size = ${PAGE_SIZE}`);
      sql.pragma('journal_mode = WAL');
      sql.pragma('synchronous = FULL');
    } catch (e) {
      sql?.close();
      if (isDamage(e)) throw new DataFileDamagedError(file, (e as Error).message, dataDir);
      throw e;
    }
    this.sql = sql!;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS collections (
        cid INTEGER PRIMARY KEY, db TEXT NOT NULL, name TEXT NOT NULL, meta BLOB NOT NULL, UNIQUE (db, name));
      CREATE TABLE IF NOT EXISTS docs (
        cid INTEGER NOT NULL, k TEXT NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (cid, k)) WITHOUT ROWID;
    `);
    this.stmts = {
      put: this.sql.prepare('INSERT OR REPLACE INTO docs (cid, k, doc) VALUES (?, ?, ?)'),
      del: this.sql.prepare('DELETE FROM docs WHERE cid = ? AND k = ?'),
      coll: this.sql.prepare('INSERT OR REPLACE INTO collections (cid, db, name, meta) VALUES (?, ?, ?, ?)'),
      dropDocs: this.sql.prepare('DELETE FROM docs WHERE cid = ?'),
      dropColl: this.sql.prepare('DELETE FROM collections WHERE cid = ?'),
    };
    this.begin = this.sql.prepare('BEGIN IMMEDIATE');
    this.commitStmt = this.sql.prepare('COMMIT');
    this.rollbackStmt = this.sql.prepare('ROLLBACK');
    this.tx = this.sql.transaction((ops: Op[]) => {
      for (const op of ops) this.runOp(op);
    });
    try {
      this.load();
    } catch (e) {
      this.sql.close();
      this.dbs.clear();
      if (isDamage(e)) throw new DataFileDamagedError(file, (e as Error).message, dataDir);
      throw e;
    }
  }

  private load(): void {
    const byCid = new Map<number, Collection>();
    for (const row of this.sql.prepare('SELECT cid, db, name, meta FROM collections ORDER BY cid').all() as {
      cid: number;
      db: string;
      name: string;
      meta: Buffer;
    }[]) {
      const meta = decodeBson(row.meta);
      const uuid = meta.uuid?.buffer ? Buffer.from(meta.uuid.buffer) : randomUuid();
      const c = new Collection(row.cid, row.db, row.name, meta.options ?? {}, meta.indexes ?? [], uuid);
      let dbm = this.dbs.get(row.db);
      if (!dbm) this.dbs.set(row.db, (dbm = new Map()));
      dbm.set(row.name, c);
      byCid.set(row.cid, c);
      this.nextCid = Math.max(this.nextCid, row.cid + 1);
    }
    const it = this.sql.prepare('SELECT cid, k, doc FROM docs').iterate() as IterableIterator<{
      cid: number;
      k: string;
      doc: Buffer;
    }>;
    for (const row of it) {
      const c = byCid.get(row.cid);
      if (!c) continue;
      const doc = decodeBson(row.doc);
      c.docs.set(row.k, doc);
      for (const idx of c.indexes) if (!idx.isId) idx.add(row.k, doc);
    }
  }

  /** One recorded write, in the open SQLite transaction. */
  private runOp(op: Op): void {
    switch (op.t) {
      case 'put': {
        const raw = wireBytes.get(op.doc);
        if (raw) {
          wireBytes.delete(op.doc);
          storeStats.wirePuts++;
        }
        this.stmts.put.run(op.cid, op.k, raw ?? serialize(op.doc));
        break;
      }
      case 'del':
        this.stmts.del.run(op.cid, op.k);
        break;
      case 'coll':
        this.stmts.coll.run(op.cid, op.db, op.name, serialize(op.meta));
        break;
      case 'dropColl':
        this.stmts.dropDocs.run(op.cid);
        this.stmts.dropColl.run(op.cid);
        break;
    }
  }

  /**
   * apply() in slices: the same one SQLite transaction (BEGIN IMMEDIATE … COMMIT), yielding after
   * every SLICE_OPS writes so that the dispatcher can serve other connections in between (it
   * runs no other data command meanwhile: see engine.ts). A crash before COMMIT loses the whole
   * transaction, as with apply(); a failure rolls it back and throws what apply() would.
   */
  *applySteps(ops: Op[]): Generator<void, void, void> {
    try {
      this.begin.run();
      for (let i = 0; i < ops.length; i++) {
        this.runOp(ops[i]);
        if ((i + 1) % SLICE_OPS === 0) yield;
      }
      this.commitStmt.run();
    } catch (e) {
      if (this.sql.inTransaction) this.rollbackStmt.run();
      throw notDurable(e) ?? e;
    }
  }

  /**
   * Commits ops in one SQLite transaction. A commit that cannot be made durable (disk full, I/O
   * error) throws a CommandError saying so; the transaction is rolled back and the caller
   * (WriteBatch.commit) undoes the batch in memory, so nothing is acknowledged that is not on disk.
   */
  apply(ops: Op[]): void {
    try {
      this.tx(ops);
    } catch (e) {
      throw notDurable(e) ?? e;
    }
  }

  get(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  close(): void {
    try {
      this.sql.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* ignore */
    }
    this.sql.close();
  }
}
