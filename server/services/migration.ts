// Copying the database between deployments with the MongoDB driver only (SPEC §8 `npm run migrate`):
// the embedded engine → an empty MongoDB deployment, or back (a test copy of production). Every
// collection with its options and indexes, GridFS buckets included (their files and chunks are
// collections), in batches with progress; the target must be empty; afterwards counts and a checksum
// per collection are compared on both sides before it says done.
//
// Fidelity: documents are read without promoting values (Int32, Double, Long, Decimal128, Binary keep
// their BSON types) and inserted as read. The checksum is order-independent (the sorted SHA-256 of
// each document's relaxed Extended JSON, so an integral double and an int32 of the same value agree:
// the embedded engine returns integral doubles as int32) and covers every field, in order.
import crypto from 'node:crypto';
import { calculateObjectSize, EJSON } from 'bson';
import { MongoClient, type Db, type Document } from 'mongodb';

export class MigrationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface CollectionReport {
  name: string;
  count: number;
  checksum: string;
  indexes: string[];
}

export interface MigrationReport {
  db: string;
  collections: CollectionReport[];
  documents: number;
  /** stored files (documents of GridFS `*.files` collections) */
  files: number;
  ms: number;
}

export interface MigrateOptions {
  from: string;
  to: string;
  /** database name on both sides */
  db: string;
  batchSize?: number;
  progress?: (line: string) => void;
}

const READ = { promoteLongs: false, promoteValues: false, promoteBuffers: false } as const;

/** User collections of a database (no views, no system.*), sorted by name. */
async function userCollections(db: Db): Promise<{ name: string; options: Document }[]> {
  const all = await db.listCollections({}, { nameOnly: false }).toArray();
  return all
    .filter((c) => (c.type ?? 'collection') === 'collection' && !c.name.startsWith('system.'))
    .map((c) => ({ name: c.name, options: (c as { options?: Document }).options ?? {} }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Index specs to recreate (all but _id_), without server-specific fields. */
async function indexSpecs(db: Db, name: string): Promise<Document[]> {
  const specs = await db.collection(name).listIndexes().toArray();
  return specs
    .filter((s) => s.name !== '_id_')
    .map((s) => {
      const { v: _v, ns: _ns, ...rest } = s as Document;
      return rest;
    });
}

/** Count and order-independent checksum of a collection. */
export async function collectionChecksum(db: Db, name: string): Promise<{ count: number; checksum: string }> {
  const digests: string[] = [];
  for await (const doc of db.collection(name).find({}, READ)) {
    digests.push(crypto.createHash('sha256').update(EJSON.stringify(doc, { relaxed: true })).digest('hex'));
  }
  digests.sort();
  const h = crypto.createHash('sha256');
  for (const d of digests) h.update(d);
  return { count: digests.length, checksum: h.digest('hex') };
}

/** Copies database `db` from `from` to `to` (which must have no collection in it) and verifies the copy. */
export async function migrate(opts: MigrateOptions): Promise<MigrationReport> {
  const t0 = performance.now();
  const say = opts.progress ?? (() => undefined);
  const batchSize = opts.batchSize ?? 1000;
  const src = await MongoClient.connect(opts.from, { serverSelectionTimeoutMS: 10_000 });
  try {
    const dst = await MongoClient.connect(opts.to, { serverSelectionTimeoutMS: 10_000 });
    try {
      const s = src.db(opts.db);
      const d = dst.db(opts.db);
      const existing = await userCollections(d);
      if (existing.length) {
        throw new MigrationError(
          'target_not_empty',
          `目标数据库 ${opts.db} 不是空的（已有集合 ${existing.slice(0, 5).map((c) => c.name).join('、')}${existing.length > 5 ? '…' : ''}），为免混入数据，迁移只写入空的部署 (target is not empty)`,
        );
      }
      const cols = await userCollections(s);
      if (!cols.length) throw new MigrationError('source_empty', `源数据库 ${opts.db} 没有任何集合，没有可迁移的数据 (source is empty)`);
      const reports: CollectionReport[] = [];
      for (const c of cols) {
        const total = await s.collection(c.name).countDocuments({});
        await d.createCollection(c.name, c.options);
        let batch: Document[] = [];
        let bytes = 0;
        let done = 0;
        const flush = async () => {
          if (!batch.length) return;
          await d.collection(c.name).insertMany(batch, { ordered: true });
          done += batch.length;
          batch = [];
          bytes = 0;
          say(`${c.name}: ${done}/${total}`);
        };
        for await (const doc of s.collection(c.name).find({}, READ)) {
          batch.push(doc);
          bytes += calculateObjectSize(doc);
          // batches of batchSize documents, or fewer when they are large (GridFS chunks: 255 KB each)
          if (batch.length >= batchSize || bytes >= 16 * 1024 * 1024) await flush();
        }
        await flush();
        if (done === 0) say(`${c.name}: 0/0`);
        const specs = await indexSpecs(s, c.name);
        for (const spec of specs) {
          const { key, ...options } = spec;
          await d.collection(c.name).createIndex(key as Document, options);
        }
        reports.push({ name: c.name, count: done, checksum: '', indexes: specs.map((x) => String(x.name)).sort() });
      }
      // Verify: the same collections, counts, checksums and indexes on both sides.
      say('校验中（文档数与校验和）…');
      const after = await userCollections(d);
      if (after.map((c) => c.name).join('\n') !== cols.map((c) => c.name).join('\n')) {
        throw new MigrationError('verify_failed', '校验失败：目标的集合与源不一致 (verification failed: collections differ)');
      }
      for (const r of reports) {
        const [a, b] = await Promise.all([collectionChecksum(s, r.name), collectionChecksum(d, r.name)]);
        if (a.count !== b.count || a.checksum !== b.checksum) {
          throw new MigrationError('verify_failed', `校验失败：集合 ${r.name} 源 ${a.count} 个文档、目标 ${b.count} 个，或校验和不同 (verification failed)`);
        }
        const idx = (await indexSpecs(d, r.name)).map((x) => String(x.name)).sort();
        if (idx.join('\n') !== r.indexes.join('\n')) {
          throw new MigrationError('verify_failed', `校验失败：集合 ${r.name} 的索引不一致 (verification failed: indexes differ)`);
        }
        r.count = a.count;
        r.checksum = a.checksum;
      }
      return {
        db: opts.db,
        collections: reports,
        documents: reports.reduce((n, r) => n + r.count, 0),
        files: reports.filter((r) => r.name.endsWith('.files')).reduce((n, r) => n + r.count, 0),
        ms: Math.round(performance.now() - t0),
      };
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
