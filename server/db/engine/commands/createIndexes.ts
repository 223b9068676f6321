import { collName, SLICE_DOCS, type Handler } from './types.ts';
import { err } from '../errors.ts';
import { Index, type IndexSpec } from '../store.ts';
import { canon, isPlainObject } from '../bsonutil.ts';

const ALLOWED = new Set(['key', 'name', 'unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression', 'background', 'v', 'collation', 'hidden']);

function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  const pick = (s: IndexSpec) =>
    canon([!!s.unique, !!s.sparse, s.expireAfterSeconds ?? null, s.partialFilterExpression ?? null, s.collation ?? null]);
  return pick(a) === pick(b);
}

// A new index is built over the collection in slices; it joins the collection only when every
// index of the command is built, so an error (a duplicate key) leaves the collection as it was.
export const createIndexes: Handler = function* (cmd, ctx) {
  const name = collName(cmd, 'createIndexes');
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) throw err('BadValue', 'Must specify at least one index to create');
  let c = ctx.store.get(ctx.db, name);
  const created = !c;
  if (!c) c = ctx.batch.createCollection(ctx.db, name);
  const before = c.indexes.length;
  const added: Index[] = [];
  for (const raw of cmd.indexes) {
    if (!isPlainObject(raw) || !isPlainObject(raw.key) || Object.keys(raw.key).length === 0) {
      throw err('FailedToParse', 'The \'key\' field is a required property of an index specification');
    }
    if (typeof raw.name !== 'string' || !raw.name) throw err('FailedToParse', 'The \'name\' field is a required property of an index specification');
    for (const k of Object.keys(raw)) {
      if (!ALLOWED.has(k)) throw err('InvalidOptions', `Index option '${k}' is not supported by the embedded engine`);
    }
    for (const [f, dir] of Object.entries(raw.key)) {
      if (dir !== 1 && dir !== -1) throw err('InvalidOptions', `Index type ${JSON.stringify(dir)} on field '${f}' is not supported by the embedded engine (only 1 / -1)`);
    }
    if (raw.collation) throw err('InvalidOptions', 'Index collation is not supported by the embedded engine');
    const spec: IndexSpec = { v: 2, key: raw.key, name: raw.name };
    if (raw.unique) spec.unique = true;
    if (raw.sparse) spec.sparse = true;
    if (raw.expireAfterSeconds !== undefined) spec.expireAfterSeconds = Number(raw.expireAfterSeconds);
    if (raw.partialFilterExpression) spec.partialFilterExpression = raw.partialFilterExpression;
    if (raw.hidden) spec.hidden = true;
    const byName = c.indexes.find((i) => i.spec.name === spec.name);
    const byKey = c.indexes.find((i) => canon(i.spec.key) === canon(spec.key));
    if (byName && canon(byName.spec.key) !== canon(spec.key)) {
      throw err('IndexKeySpecsConflict', `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(byName.spec)}`);
    }
    if (byKey) {
      if (byKey.spec.name === spec.name && sameOptions(byKey.spec, spec)) continue;
      if (byKey.spec.name !== spec.name && sameOptions(byKey.spec, spec)) {
        throw err('IndexOptionsConflict', `Index already exists with a different name: ${byKey.spec.name}`);
      }
      throw err('IndexOptionsConflict', `An equivalent index already exists with the same name but different options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(byKey.spec)}`);
    }
    if (added.some((i) => i.spec.name === spec.name)) continue;
    const idx = new Index(spec);
    let n = 0;
    for (const [k, d] of c.docs) {
      if (++n % SLICE_DOCS === 0) yield;
      if (spec.unique) idx.check(c.ns, k, d);
      idx.add(k, d);
    }
    added.push(idx);
  }
  if (added.length) {
    const coll = c;
    coll.indexes.push(...added);
    ctx.batch.undo.push(() => {
      coll.indexes = coll.indexes.filter((i) => !added.includes(i));
    });
    ctx.batch.saveMeta(coll);
  }
  const reply: Record<string, unknown> = {
    numIndexesBefore: before,
    numIndexesAfter: c.indexes.length,
    createdCollectionAutomatically: created,
    ok: 1,
  };
  if (!added.length) reply.note = 'all indexes already exist';
  return reply;
};
