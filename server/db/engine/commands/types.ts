import { canon, isPlainObject, type Doc } from '../bsonutil.ts';
import type { Store, WriteBatch, Collection } from '../store.ts';
import type { Cursors } from '../cursors.ts';
import { err } from '../errors.ts';

export interface Ctx {
  store: Store;
  batch: WriteBatch;
  cursors: Cursors;
  /** database of the command ($db) */
  db: string;
  connId: number;
  startedAt: Date;
}

/**
 * A command handler: returns the reply, or is a generator that yields between slices of a long
 * command (the dispatcher may serve other connections there; see engine.ts) and returns the reply.
 */
export type Handler = (cmd: Doc, ctx: Ctx) => Doc | Generator<void, Doc, void>;

/** Documents a handler processes between two yields (a slice). */
export { SLICE_DOCS } from '../steps.ts';

/** The collection name a command names in its first field. */
export function collName(cmd: Doc, field: string): string {
  const name = cmd[field];
  if (typeof name !== 'string' || name.length === 0) {
    throw err('InvalidNamespace', `collection name has invalid type ${name === null ? 'null' : typeof name}`);
  }
  if (name.includes('\0') || name.startsWith('.') || name.includes('$')) {
    throw err('InvalidNamespace', `Invalid namespace specified '${name}'`);
  }
  return name;
}

export function getColl(ctx: Ctx, name: string): Collection | undefined {
  return ctx.store.get(ctx.db, name);
}

/** The collection, created implicitly (as a write to a missing collection does in MongoDB). */
export function ensureColl(ctx: Ctx, name: string): Collection {
  return ctx.store.get(ctx.db, name) ?? ctx.batch.createCollection(ctx.db, name);
}

export function num(v: unknown, dflt: number | undefined): number | undefined {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return dflt;
}

export function writeErrorOf(index: number, e: unknown): Doc {
  const ce = e as { code?: number; message: string; extra?: Doc };
  return { index, code: ce.code ?? 1, errmsg: ce.message, ...(ce.extra ?? {}) };
}

/**
 * MongoDB 7.0 parses statements strictly: a field it does not know (e.g. `sort` in an update
 * statement, which only 8.0 accepts) is an error (40415), never silently ignored.
 */
export function checkFields(obj: Doc, allowed: ReadonlySet<string>, where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) throw err('Location40415', `BSON field '${where}.${k}' is an unknown field.`);
  }
}

/**
 * A `hint` must name an existing index (by name or key pattern) or be {$natural: ±1}, as in
 * MongoDB (code 2). The engine's results do not depend on the plan, except for a sparse or
 * partial index, through which MongoDB returns only the documents in the index: refused (72).
 */
export function checkHint(c: Collection | undefined, hint: unknown): void {
  if (hint === undefined || hint === null || hint === '') return;
  if (isPlainObject(hint) && Object.keys(hint).length === 0) return;
  if (typeof hint !== 'string' && !isPlainObject(hint)) throw err('FailedToParse', 'hint must be a string or an object');
  if (isPlainObject(hint) && Object.keys(hint).length === 1 && '$natural' in hint) return;
  if (!c) return; // a missing collection: MongoDB answers from an empty plan
  const idx = typeof hint === 'string' ? c.indexes.find((i) => i.spec.name === hint) : c.indexes.find((i) => canon(i.spec.key) === canon(hint));
  if (!idx) throw err('BadValue', 'hint provided does not correspond to an existing index');
  if (idx.spec.sparse || idx.spec.partialFilterExpression) {
    throw err('InvalidOptions', `hint of the sparse or partial index '${idx.spec.name}' is not supported by the embedded engine (MongoDB would return only the documents in that index)`);
  }
}
