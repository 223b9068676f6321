// Applying MongoDB update specifications: operator updates (through mingo's updater, with
// MongoDB's validation and numeric semantics in front), replacements and pipeline updates.
import { updateOne } from 'mingo/updater';
import { ObjectId, Long, Decimal128 } from 'bson';
import { bsonType, canon, cloneDoc, getPath, isNumeric, isPlainObject, sameCanon, setPath, show, toNumber, type Doc } from './bsonutil.ts';
import { mingoOptions } from './query.ts';
import { err } from './errors.ts';

const OPERATORS = new Set([
  '$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$push', '$pull', '$pullAll', '$addToSet',
  '$pop', '$currentDate', '$bit', '$setOnInsert',
]);

export type UpdateSpec = Doc | Doc[];

export function isOperatorUpdate(u: UpdateSpec): boolean {
  return !Array.isArray(u) && Object.keys(u).some((k) => k.startsWith('$'));
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  const t = bsonType(v);
  if (t === 'ObjectId') return 'objectId';
  if (t === 'Long') return 'long';
  if (t === 'Decimal128') return 'decimal';
  if (t === 'Binary') return 'binData';
  return 'object';
}

function idShow(doc: Doc): string {
  return `{_id: ${show(doc._id)}}`;
}

function arith(op: '$inc' | '$mul', cur: unknown, by: unknown): unknown {
  const curV = cur === undefined ? 0 : cur;
  if (bsonType(curV) === 'Decimal128' || bsonType(by) === 'Decimal128') {
    const r = op === '$inc' ? toNumber(curV) + toNumber(by) : toNumber(curV) * toNumber(by);
    return Decimal128.fromString(String(r));
  }
  if (bsonType(curV) === 'Long' || bsonType(by) === 'Long') {
    const isFloat = (x: unknown) => typeof x === 'number' && !Number.isInteger(x);
    if (isFloat(curV) || isFloat(by)) return op === '$inc' ? toNumber(curV) + toNumber(by) : toNumber(curV) * toNumber(by);
    const a = bsonType(curV) === 'Long' ? (curV as Long) : Long.fromNumber(toNumber(curV));
    const b = bsonType(by) === 'Long' ? (by as Long) : Long.fromNumber(toNumber(by));
    return op === '$inc' ? a.add(b) : a.multiply(b);
  }
  const x = toNumber(curV);
  const y = toNumber(by);
  return op === '$inc' ? x + y : x * y;
}

function checkPathViable(doc: Doc, path: string): void {
  const parts = path.split('.');
  let v: any = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    v = v?.[parts[i]];
    if (v === undefined || v === null) return;
    if (typeof v !== 'object' || v instanceof Date || bsonType(v)) {
      throw err('PathNotViable', `Cannot create field '${parts[i + 1]}' in element {${parts[i]}: ${show(v)}}`);
    }
    if (Array.isArray(v)) return;
  }
}

/** Update documents already validated (an updateMany applies one to every matched document). */
const VALIDATED = new WeakSet<Doc>();

/** Validates an operator update document (independent of the target doc). */
export function validateUpdate(u: Doc): void {
  if (VALIDATED.has(u)) return;
  validateUpdateSpec(u);
  VALIDATED.add(u);
}

function validateUpdateSpec(u: Doc): void {
  const paths: string[] = [];
  for (const [op, spec] of Object.entries(u)) {
    if (!OPERATORS.has(op)) {
      throw err('FailedToParse', `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!isPlainObject(spec)) throw err('FailedToParse', `Modifiers operate on fields but we found type ${typeName(spec)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${show(spec)}}`);
    for (const [path, arg] of Object.entries(spec)) {
      if ((op === '$inc' || op === '$mul') && !isNumeric(arg)) {
        throw err('TypeMismatch', `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${show(arg)}}`);
      }
      paths.push(path);
      if (op === '$rename') paths.push(String(arg));
    }
  }
  const norm = paths.map((p) => p.replace(/\.\$(\[[^\]]*\])?/g, ''));
  for (let i = 0; i < norm.length; i++) {
    for (let j = i + 1; j < norm.length; j++) {
      const a = norm[i];
      const b = norm[j];
      if (a === b || a.startsWith(b + '.') || b.startsWith(a + '.')) {
        throw err('ConflictingUpdateOperators', `Updating the path '${paths[j]}' would create a conflict at '${paths[i]}'`);
      }
    }
  }
}

function ensureIdFirst(doc: Doc): Doc {
  const keys = Object.keys(doc);
  if (!('_id' in doc) || keys[0] === '_id') return doc;
  const out: Doc = { _id: doc._id };
  for (const k of keys) if (k !== '_id') out[k] = doc[k];
  return out;
}

/** Switch for tests: false sends every operator update through mingo (the reference path). */
export const updateFastPath = { enabled: true };

/**
 * Sets `path` in `doc` like setPath, copying (not mutating) the objects and arrays on the way:
 * `doc` itself must be a fresh copy; nested values may be shared with the stored document.
 */
function setPathCow(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let o: any = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const cur = o[parts[i]];
    let next: any;
    if (Array.isArray(cur)) next = cur.slice();
    else if (isPlainObject(cur)) next = { ...cur };
    else if (cur === null || typeof cur !== 'object') next = {};
    else next = cur; // a BSON value / Date: checkPathViable has refused such a path already
    o[parts[i]] = next;
    o = next;
  }
  o[parts[parts.length - 1]] = value;
}

const DIGITS = /^\d+$/;
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Whether $set / $unset of `path` can be applied directly: no positional or array-index parts,
 * and every existing parent on the way is a plain object (arrays, null and scalars on the way
 * have MongoDB's special rules — mingo applies those).
 */
function simplePath(doc: Doc, path: string): boolean {
  if (path.includes('$')) return false;
  const parts = path.split('.');
  let o: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p === '' || DIGITS.test(p) || p === '__proto__') return false;
    if (i === parts.length - 1) return true;
    if (!hasOwn(o as Doc, p)) return true; // missing from here on: created as embedded documents
    o = (o as Doc)[p];
    if (!isPlainObject(o)) return false;
  }
  return true;
}

/** $unset of a simple path (see simplePath) on a fresh top-level copy, copying parents on write. */
function unsetPathCow(doc: Doc, path: string): void {
  const parts = path.split('.');
  let probe: unknown = doc;
  for (let i = 0; i < parts.length; i++) {
    if (!isPlainObject(probe) || !hasOwn(probe, parts[i])) return; // nothing to remove
    if (i < parts.length - 1) probe = probe[parts[i]];
  }
  let o: Doc = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = { ...(o[parts[i]] as Doc) };
    o[parts[i]] = next;
    o = next;
  }
  delete o[parts[parts.length - 1]];
}

const TOUCHED = new WeakMap<Doc, Set<string>>();

/** Top-level field names an operator update may change (first component of every path). */
function touchedTopFields(u: Doc): Set<string> {
  let out = TOUCHED.get(u);
  if (!out) TOUCHED.set(u, (out = computeTouched(u)));
  return out;
}

function computeTouched(u: Doc): Set<string> {
  const out = new Set<string>();
  const top = (p: string) => {
    const i = p.indexOf('.');
    out.add(i < 0 ? p : p.slice(0, i));
  };
  for (const [op, spec] of Object.entries(u)) {
    if (!isPlainObject(spec)) continue;
    for (const [path, arg] of Object.entries(spec)) {
      top(path);
      if (op === '$rename' && typeof arg === 'string') top(arg);
    }
  }
  return out;
}

/**
 * The top-level fields whose values differ between `old` and `next` (by canonical value, as
 * index keys compare; a field present in one and missing in the other differs), looking only at
 * `candidates` when given — an operator update changes no other field. `modified` is also true
 * when only the order of the fields changed.
 */
export function changedTopFields(old: Doc, next: Doc, candidates?: Iterable<string>): { modified: boolean; fields: Set<string> } {
  const ko = Object.keys(old);
  const kn = Object.keys(next);
  let reordered = ko.length !== kn.length;
  for (let i = 0; !reordered && i < ko.length; i++) if (ko[i] !== kn[i]) reordered = true;
  // When the key lists differ, look at every key (a candidate list could only miss a bug).
  const fields = new Set<string>();
  const look = reordered || !candidates ? new Set([...ko, ...kn]) : candidates;
  for (const f of look) {
    const ho = hasOwn(old, f);
    const hn = hasOwn(next, f);
    if (ho !== hn || (ho && !sameCanon(old[f], next[f]))) fields.add(f);
  }
  return { modified: reordered || fields.size > 0, fields };
}

/**
 * An update applied: the new document, whether it differs from the stored one (MongoDB's
 * nModified), and the top-level fields that changed (for index maintenance).
 */
export interface UpdateOutcome {
  doc: Doc;
  modified: boolean;
  changed: Set<string>;
}

export function applyUpdateDiff(doc: Doc, u: UpdateSpec, opts: { filter?: Doc; arrayFilters?: Doc[]; isInsert?: boolean } = {}): UpdateOutcome {
  const next = applyUpdate(doc, u, opts);
  const { modified, fields } = changedTopFields(doc, next, !Array.isArray(u) && isOperatorUpdate(u) ? touchedTopFields(u) : undefined);
  return { doc: next, modified, changed: fields };
}

/**
 * Applies an update to a copy of `doc`. `filter` gives positional `$` its meaning; `isInsert`
 * activates $setOnInsert. Returns the new document (never mutates `doc`; the new document may
 * share unchanged subdocuments with `doc` — stored documents are never mutated in place).
 */
export function applyUpdate(doc: Doc, u: UpdateSpec, opts: { filter?: Doc; arrayFilters?: Doc[]; isInsert?: boolean } = {}): Doc {
  const before = doc;
  let out: Doc;
  if (Array.isArray(u)) {
    const docs = [cloneDoc(doc)];
    try {
      updateOne(docs, {}, u as any, {}, mingoOptions());
    } catch (e) {
      throw err('FailedToParse', (e as Error).message);
    }
    out = docs[0];
  } else if (!isOperatorUpdate(u)) {
    for (const k of Object.keys(u)) {
      if (k.startsWith('$')) throw err('DollarPrefixedFieldName', `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document.`);
    }
    out = cloneDoc(u);
    if ('_id' in out && canon(out._id) !== canon(before._id) && before._id !== undefined) {
      throw err('ImmutableField', `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${show(out._id)}`);
    }
    out = { _id: before._id, ...out };
  } else {
    validateUpdate(u);
    // A top-level copy; nested objects are copied on write (setPathCow / unsetPathCow), or the
    // whole document is deep-copied before mingo mutates it.
    out = { ...doc };
    const mods: Doc = {};
    for (const [op, spec] of Object.entries(u)) {
      if (op === '$setOnInsert') continue;
      if (op === '$inc' || op === '$mul') {
        for (const [path, by] of Object.entries(spec as Doc)) {
          if (path.includes('$')) {
            (mods[op] ??= {})[path] = isNumeric(by) && typeof by !== 'number' ? toNumber(by) : by;
            continue;
          }
          checkPathViable(out, path);
          const cur = getPath(out, path);
          if (cur !== undefined && cur !== null && !isNumeric(cur)) {
            throw err('TypeMismatch', `Cannot apply ${op} to a value of non-numeric type. ${idShow(out)} has the field '${path.split('.').pop()}' of non-numeric type ${typeName(cur)}`);
          }
          if (cur === null) {
            throw err('TypeMismatch', `Cannot apply ${op} to a value of non-numeric type. ${idShow(out)} has the field '${path.split('.').pop()}' of non-numeric type null`);
          }
          setPathCow(out, path, op === '$mul' && cur === undefined ? arith('$mul', 0, by) : arith(op, cur, by));
        }
        continue;
      }
      for (const path of Object.keys(spec as Doc)) {
        if (!path.includes('$')) checkPathViable(out, path);
        if ((op === '$push' || op === '$addToSet' || op === '$pop' || op === '$pull' || op === '$pullAll') && !path.includes('$')) {
          const cur = getPath(out, path);
          if (cur !== undefined && !Array.isArray(cur)) {
            if (op === '$pull' || op === '$pullAll') {
              throw err('BadValue', `Cannot apply ${op} to a non-array value`);
            }
            throw err('BadValue', `The field '${path}' must be an array but is of type ${typeName(cur)} in document ${idShow(out)}`);
          }
        }
      }
      mods[op] = spec;
    }
    if (opts.isInsert && u.$setOnInsert) mods.$set = { ...(mods.$set ?? {}), ...u.$setOnInsert };
    // `$set: {_id: <same value>}` is allowed by MongoDB (connect-mongo does it); mingo refuses it.
    if (mods.$set && '_id' in mods.$set) {
      const { _id, ...rest } = mods.$set;
      if (out._id === undefined) out = { _id, ...out };
      else if (canon(_id) !== canon(out._id)) {
        throw err('ImmutableField', "Performing an update on the path '_id' would modify the immutable field '_id'");
      }
      if (Object.keys(rest).length) mods.$set = rest;
      else delete mods.$set;
    }
    const modOps = Object.keys(mods);
    if (
      updateFastPath.enabled &&
      modOps.every((o) => (o === '$set' || o === '$unset') && Object.keys(mods[o]).every((p) => simplePath(out, p)))
    ) {
      // $set / $unset of plain paths through embedded documents: applied here, copy-on-write.
      // Paths never overlap (validateUpdate), so each is applied to the state it was checked on.
      for (const [path, v] of Object.entries((mods.$set ?? {}) as Doc)) setPathCow(out, path, cloneDoc(v));
      for (const path of Object.keys((mods.$unset ?? {}) as Doc)) unsetPathCow(out, path);
    } else if (modOps.length) {
      out = cloneDoc(out);
      const docs = [out];
      try {
        updateOne(docs, opts.filter && !opts.isInsert ? opts.filter : {}, mods as any, { arrayFilters: opts.arrayFilters, cloneMode: 'deep' }, mingoOptions());
      } catch (e) {
        const m = (e as Error).message;
        throw err(/array filter|identifier/i.test(m) ? 'BadValue' : 'FailedToParse', m);
      }
      out = docs[0];
    }
  }
  if (before._id !== undefined && canon(out._id) !== canon(before._id)) {
    throw err('ImmutableField', "Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  return ensureIdFirst(out);
}

/** The document an upsert starts from: the filter's equality conditions. */
export function seedFromFilter(filter: Doc | undefined): Doc {
  const out: Doc = {};
  const visit = (f: Doc) => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) visit(sub);
        continue;
      }
      if (k.startsWith('$')) continue;
      if (v instanceof RegExp) continue;
      if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith('$'))) {
        if ('$eq' in v) setPath(out, k, cloneDoc(v.$eq));
        else if (Array.isArray(v.$in) && v.$in.length === 1 && !(v.$in[0] instanceof RegExp)) setPath(out, k, cloneDoc(v.$in[0]));
        continue;
      }
      setPath(out, k, cloneDoc(v));
    }
  };
  if (filter) visit(filter);
  return out;
}

/** Builds the document inserted by an upsert. */
export function upsertDoc(filter: Doc | undefined, u: UpdateSpec, arrayFilters?: Doc[]): Doc {
  let doc: Doc;
  if (!Array.isArray(u) && !isOperatorUpdate(u)) {
    const seed = seedFromFilter(filter);
    doc = cloneDoc(u);
    if (doc._id === undefined && seed._id !== undefined) doc = { _id: seed._id, ...doc };
  } else {
    const seed = seedFromFilter(filter);
    doc = applyUpdate(seed, u, { arrayFilters, isInsert: true });
  }
  if (doc._id === undefined) doc = { _id: new ObjectId(), ...doc };
  return ensureIdFirst(doc);
}

export function prepareInsert(doc: Doc): Doc {
  if (!isPlainObject(doc)) throw err('TypeMismatch', 'document must be an object');
  if (Array.isArray(doc._id)) throw err('InvalidIdField', `The '_id' value cannot be of type array`);
  if (doc._id instanceof RegExp) throw err('InvalidIdField', `The '_id' value cannot be of type regex`);
  if (doc._id === undefined) return { _id: new ObjectId(), ...doc };
  return ensureIdFirst(doc);
}
