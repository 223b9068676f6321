// Applying MongoDB update specifications with MongoDB 7.0's semantics: one pipeline for every
// operator update — the update document is parsed once into a tree of paths (conflicts refused
// at parse time, code 40), the filter's match gives positional `$` its index, and every operator
// is applied, in MongoDB's order (field names lexicographically, numeric names numerically), to
// one working copy of the document. The fast path (plain $set/$unset/$inc/$mul through embedded
// documents, copy-on-write) is an optimisation of that pipeline, proven equal to it by a
// differential property test (test/engine/updatepipeline.test.ts).
import { ObjectId, Long, Timestamp, calculateObjectSize } from 'bson';
import { bsonType, canon, cloneDoc, compareValues, isNumeric, isPlainObject, numArith, sameCanon, setOwn, setPath, show, toNumber, type Doc } from './bsonutil.ts';
import { compileFilter, mingoOptions, positionalIndex, sortDocs } from './query.ts';
import { updateOne } from 'mingo/updater';
import { err } from './errors.ts';
import { wireBytes } from './store.ts';

const OPERATORS = new Set([
  '$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$push', '$pull', '$pullAll', '$addToSet',
  '$pop', '$currentDate', '$bit', '$setOnInsert',
]);

/** MongoDB's maximum BSON document size. */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

export type UpdateSpec = Doc | Doc[];

export function isOperatorUpdate(u: UpdateSpec): boolean {
  return !Array.isArray(u) && Object.keys(u).some((k) => k.startsWith('$'));
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 'int' : 'double';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof RegExp) return 'regex';
  const t = bsonType(v);
  if (t === 'ObjectId') return 'objectId';
  if (t === 'Long') return 'long';
  if (t === 'Double') return 'double';
  if (t === 'Decimal128') return 'decimal';
  if (t === 'Binary') return 'binData';
  if (t === 'Timestamp') return 'timestamp';
  return 'object';
}

function idShow(doc: Doc): string {
  return `{_id: ${show(doc._id)}}`;
}

function arith(op: '$inc' | '$mul', cur: unknown, by: unknown): unknown {
  return numArith(op === '$inc' ? 'add' : 'mul', cur === undefined ? 0 : cur, by);
}

// ---------------------------------------------------------------------------------------------
// Parsing: the update document → a tree of path components with one operator at each leaf.

interface Leaf {
  op: string;
  /** the path as written in the update document */
  path: string;
  parts: string[];
  arg: unknown;
  /** $rename: the leaf at the source ('from', unset) or at the destination ('to', set) */
  role?: 'from' | 'to';
  /** $rename 'to': the source path's components */
  from?: string[];
}

interface UNode {
  kids: Map<string, UNode>;
  leaf?: Leaf;
}

interface Parsed {
  root: UNode;
  /** every leaf, in the order the pipeline applies them (paths compared component by component) */
  flat: Leaf[];
  /** only $set / $unset / $inc / $mul / $setOnInsert on paths of plain field names */
  fast: boolean;
  /** array filter identifiers used ($[x]) */
  idents: Set<string>;
  positional: boolean;
  renames: Leaf[];
  /** top-level fields the update may change */
  touched: Set<string>;
  /** growthBound's figure, computed on first use */
  growth?: number;
}

const DIGITS = /^\d+$/;
const IDENT = /^[a-z][a-zA-Z0-9]*$/;
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** MongoDB's order of applying update paths: numeric names numerically, others lexicographically. */
function cmpNames(a: string, b: string): number {
  const da = DIGITS.test(a);
  const db = DIGITS.test(b);
  if (da && db) {
    const x = Number(a);
    const y = Number(b);
    if (x !== y) return x < y ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpParts(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmpNames(a[i], b[i]);
    if (c) return c;
  }
  return a.length - b.length;
}

function parsePath(op: string, path: string, idents: Set<string>, dynamicAllowed: boolean): { parts: string[]; positional: boolean } {
  if (path === '') throw err('EmptyFieldName', 'An empty update path is not valid.');
  const parts = path.split('.');
  let dollars = 0;
  let positional = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p === '') throw err('EmptyFieldName', `The update path '${path}' contains an empty field name, which is not allowed.`);
    if (!p.startsWith('$')) continue;
    const ident = /^\$\[(.*)\]$/.exec(p);
    if (p !== '$' && !ident) throw err('DollarPrefixedFieldName', `The dollar ($) prefixed field '${p}' in '${path}' is not valid for storage.`);
    if (!dynamicAllowed) throw err('BadValue', `The ${op === '$rename' ? 'source or destination' : ''} field for ${op} may not be dynamic: ${path}`);
    if (i === 0) throw err('BadValue', `Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '${path}'`);
    positional = true;
    if (p === '$') {
      if (++dollars > 1) throw err('BadValue', `Too many positional (i.e. '$') elements found in path '${path}'`);
    } else if (ident && ident[1] !== '') {
      if (!IDENT.test(ident[1])) throw err('BadValue', `The array filter identifier '${ident[1]}' must begin with a lowercase letter and contain only alphanumeric characters`);
      idents.add(ident[1]);
    }
  }
  return { parts, positional };
}

function addLeaf(root: UNode, leaf: Leaf): void {
  let n = root;
  const { parts } = leaf;
  for (let i = 0; i < parts.length; i++) {
    if (n.leaf) throw err('ConflictingUpdateOperators', `Updating the path '${leaf.path}' would create a conflict at '${n.leaf.path}'`);
    let k = n.kids.get(parts[i]);
    if (!k) n.kids.set(parts[i], (k = { kids: new Map() }));
    n = k;
  }
  if (n.leaf || n.kids.size) throw err('ConflictingUpdateOperators', `Updating the path '${leaf.path}' would create a conflict at '${leaf.path}'`);
  n.leaf = leaf;
}

const PUSH_MODS = new Set(['$each', '$slice', '$sort', '$position']);

function validateArg(op: string, path: string, arg: unknown): void {
  switch (op) {
    case '$inc':
    case '$mul':
      if (!isNumeric(arg)) throw err('TypeMismatch', `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: {${path}: ${show(arg)}}`);
      return;
    case '$pop':
      if (!isNumeric(arg)) throw err('FailedToParse', `Expected a number in: ${path}: ${show(arg)}`);
      if (toNumber(arg) !== 1 && toNumber(arg) !== -1) throw err('FailedToParse', `$pop expects 1 or -1, found: ${show(arg)}`);
      return;
    case '$pullAll':
      if (!Array.isArray(arg)) throw err('BadValue', `$pullAll requires an array argument but was given a ${typeName(arg)}`);
      return;
    case '$rename':
      if (typeof arg !== 'string') throw err('BadValue', `The 'to' field for $rename must be a string: ${path}: ${show(arg)}`);
      return;
    case '$currentDate': {
      const ok = typeof arg === 'boolean' || (isPlainObject(arg) && Object.keys(arg).length === 1 && (arg.$type === 'date' || arg.$type === 'timestamp'));
      if (!ok) throw err('BadValue', `${show(arg)} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`);
      return;
    }
    case '$bit': {
      if (!isPlainObject(arg)) throw err('BadValue', `The $bit modifier is not compatible with a ${typeName(arg)}. You must pass in an embedded document: {$bit: {field: {and/or/xor: #}}`);
      if (!Object.keys(arg).length) throw err('BadValue', `You must pass in at least one bitwise operation. The format is: {$bit: {field: {and/or/xor: #}}`);
      for (const [k, v] of Object.entries(arg)) {
        if (k !== 'and' && k !== 'or' && k !== 'xor') throw err('BadValue', `The $bit modifier only supports 'and', 'or', and 'xor', not '${k}' which is an unknown operator: {${k}: ${show(v)}}`);
        if (!isInt32(v) && bsonType(v) !== 'Long') throw err('BadValue', `The $bit modifier field must be an Integer(32/64 bit); a '${typeName(v)}' is not supported here: {${k}: ${show(v)}}`);
      }
      return;
    }
    case '$push':
      if (isPlainObject(arg) && hasOwn(arg, '$each')) {
        for (const [k, v] of Object.entries(arg)) {
          if (!PUSH_MODS.has(k)) throw err('BadValue', `Unrecognized clause in $push: ${k}`);
          if (k === '$each' && !Array.isArray(v)) throw err('BadValue', `The argument to $each in $push must be an array but it was of type: ${typeName(v)}`);
          if (k === '$slice' && !(isNumeric(v) && Number.isInteger(toNumber(v)))) throw err('BadValue', `The value for $slice must be an integer value but was given type: ${typeName(v)}`);
          if (k === '$position' && !(isNumeric(v) && Number.isInteger(toNumber(v)))) throw err('BadValue', `The value for $position must be an integer value, not of type: ${typeName(v)}`);
          if (k === '$sort') validatePushSort(v);
        }
      }
      return;
    case '$addToSet':
      if (isPlainObject(arg) && hasOwn(arg, '$each')) {
        if (!Array.isArray(arg.$each)) throw err('TypeMismatch', `The argument to $each in $addToSet must be an array but it was of type ${typeName(arg.$each)}`);
        if (Object.keys(arg).length > 1) throw err('BadValue', `Found unexpected fields after $each in $addToSet: ${show(arg)}`);
      }
      return;
  }
}

function validatePushSort(v: unknown): void {
  const bad = () => err('BadValue', 'The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields');
  if (isNumeric(v)) {
    if (toNumber(v) !== 1 && toNumber(v) !== -1) throw bad();
    return;
  }
  if (!isPlainObject(v) || !Object.keys(v).length) throw bad();
  for (const [k, d] of Object.entries(v)) {
    if (k === '' || k.startsWith('$') || k.split('.').includes('')) throw err('BadValue', 'The $sort field is a dotted field but has an empty part: ' + k);
    if (!isNumeric(d) || (toNumber(d) !== 1 && toNumber(d) !== -1)) throw bad();
  }
}

function isInt32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
}

const PARSED = new WeakMap<Doc, Parsed>();

function parseUpdate(u: Doc): Parsed {
  let p = PARSED.get(u);
  if (!p) PARSED.set(u, (p = parseUncached(u)));
  return p;
}

function parseUncached(u: Doc): Parsed {
  const root: UNode = { kids: new Map() };
  const flat: Leaf[] = [];
  const idents = new Set<string>();
  const renames: Leaf[] = [];
  const touched = new Set<string>();
  let fast = true;
  let positional = false;
  for (const [op, spec] of Object.entries(u)) {
    if (!OPERATORS.has(op)) {
      throw err('FailedToParse', `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!isPlainObject(spec)) throw err('FailedToParse', `Modifiers operate on fields but we found type ${typeName(spec)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${show(spec)}}`);
    const plainOp = op === '$set' || op === '$unset' || op === '$inc' || op === '$mul' || op === '$setOnInsert';
    for (const [path, arg] of Object.entries(spec)) {
      validateArg(op, path, arg);
      if (op === '$rename') {
        const to = arg as string;
        const a = parsePath(op, path, idents, false);
        const b = parsePath(op, to, idents, false);
        if (path === to) throw err('BadValue', `The source and target field for $rename must differ: ${path}: ${show(to)}`);
        if (to.startsWith(path + '.') || path.startsWith(to + '.')) throw err('BadValue', `The source and target field for $rename must not be on the same path: ${path}: ${show(to)}`);
        const fromLeaf: Leaf = { op, path, parts: a.parts, arg, role: 'from' };
        const toLeaf: Leaf = { op, path: to, parts: b.parts, arg, role: 'to', from: a.parts };
        addLeaf(root, fromLeaf);
        addLeaf(root, toLeaf);
        flat.push(fromLeaf, toLeaf);
        renames.push(toLeaf);
        touched.add(a.parts[0]).add(b.parts[0]);
        fast = false;
        continue;
      }
      const { parts, positional: pos } = parsePath(op, path, idents, true);
      if (pos) positional = true;
      const leaf: Leaf = { op, path, parts, arg };
      addLeaf(root, leaf);
      flat.push(leaf);
      touched.add(parts[0]);
      if (!plainOp || pos || parts.some((x) => DIGITS.test(x) || x === '__proto__')) fast = false;
    }
  }
  flat.sort((a, b) => cmpParts(a.parts, b.parts));
  return { root, flat, fast, idents, positional, renames, touched };
}

/** Validates an operator update document (independent of the target doc); parsed once per document. */
export function validateUpdate(u: Doc): void {
  parseUpdate(u);
}

type ElemPred = (v: unknown) => boolean;
const AF = new WeakMap<Doc[], Map<string, ElemPred>>();

/** The statement's arrayFilters, compiled and checked against the identifiers the update uses. */
const NO_FILTERS = new Map<string, ElemPred>();

function compileArrayFilters(p: Parsed, u: Doc, arrayFilters: Doc[] | undefined): Map<string, ElemPred> {
  if (!arrayFilters && !p.idents.size) return NO_FILTERS;
  const list = arrayFilters ?? [];
  let out = arrayFilters ? AF.get(arrayFilters) : undefined;
  if (!out) {
    out = new Map();
    for (const f of list) {
      if (!isPlainObject(f)) throw err('FailedToParse', 'BSON field \'update.updates.arrayFilters\' is the wrong type, expected type \'object\'');
      let id: string | null = null;
      for (const k of Object.keys(f)) {
        const top = k.split('.')[0];
        if (k.startsWith('$')) throw err('FailedToParse', 'Cannot use an expression without a top-level field name in arrayFilters');
        if (id !== null && top !== id) throw err('FailedToParse', `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${id}' and '${top}'`);
        id = top;
      }
      if (id === null) throw err('FailedToParse', 'Cannot use an expression without a top-level field name in arrayFilters');
      if (!IDENT.test(id)) throw err('BadValue', `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`);
      if (out.has(id)) throw err('FailedToParse', `Found multiple array filters with the same top-level field name ${id}`);
      const pred = compileFilter(f);
      const name = id;
      out.set(id, (v) => pred({ [name]: v }));
    }
    if (arrayFilters) AF.set(arrayFilters, out);
  }
  for (const id of p.idents) {
    if (!out.has(id)) throw err('BadValue', `No array filter found for identifier '${id}' in path '${p.flat.find((l) => l.path.includes(`$[${id}]`))?.path}'`);
  }
  for (const id of out.keys()) {
    if (!p.idents.has(id)) throw err('FailedToParse', `The array filter for identifier '${id}' was not used in the update ${show(u)}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The pipeline: every leaf applied to one working copy, in tree order.

interface ApplyState {
  orig: Doc;
  filter: Doc | undefined;
  isInsert: boolean;
  afs: Map<string, ElemPred>;
  now: Date;
  renameVals: Map<Leaf, unknown>;
  /** concrete paths written, when positional elements could make two leaves meet */
  written: string[] | null;
  positions: Map<string, number>;
}

const MISSING = Symbol('missing');

function getField(container: unknown, name: string): unknown {
  if (Array.isArray(container)) return DIGITS.test(name) && Number(name) < container.length ? container[Number(name)] : undefined;
  if (isPlainObject(container)) return hasOwn(container, name) ? container[name] : undefined;
  return undefined;
}

function assignField(container: Doc | unknown[], name: string, v: unknown): void {
  if (Array.isArray(container)) {
    const i = Number(name);
    if (i > 1_500_000) throw err('BadValue', `can't backfill array to larger than 1500000 elements`);
    while (container.length < i) container.push(null);
    container[i] = v;
  } else setOwn(container, name, v);
}

function notViable(next: string, parentName: string, parent: unknown): Error {
  return err('PathNotViable', `Cannot create field '${next}' in element {${parentName}: ${show(parent)}}`);
}

/** Whether applying `node` would create something (false: only removals, or no-ops). */
function creates(node: UNode, st: ApplyState): boolean {
  if (node.leaf) {
    const l = node.leaf;
    switch (l.op) {
      case '$unset':
      case '$pull':
      case '$pullAll':
      case '$pop':
        return false;
      case '$setOnInsert':
        return st.isInsert;
      case '$rename':
        return l.role === 'to' && st.renameVals.get(l) !== MISSING;
    }
    return true;
  }
  for (const k of node.kids.values()) if (creates(k, st)) return true;
  return false;
}

function positionalError(): Error {
  return err('BadValue', 'The positional operator did not find the match needed from the query.');
}

function applyChildren(container: Doc | unknown[], node: UNode, parts: string[], st: ApplyState): void {
  const items: [string, UNode][] = [];
  for (const [name, kid] of node.kids) {
    if (name === '$') {
      if (!Array.isArray(container)) throw positionalError();
      const prefix = parts.join('.');
      let i = st.positions.get(prefix);
      if (i === undefined) {
        const found = st.filter && !st.isInsert ? positionalIndex(st.orig, st.filter, prefix) : null;
        if (found === null) throw positionalError();
        st.positions.set(prefix, (i = found));
      }
      items.push([String(i), kid]);
    } else if (name.startsWith('$[')) {
      if (!Array.isArray(container)) throw err('BadValue', `Cannot apply array updates to non-array element ${parts[parts.length - 1]}: ${show(container)}`);
      const id = name.slice(2, -1);
      const pred = id ? st.afs.get(id)! : null;
      for (let i = 0; i < container.length; i++) if (!pred || pred(container[i])) items.push([String(i), kid]);
    } else items.push([name, kid]);
  }
  if (items.length > 1) items.sort((a, b) => cmpNames(a[0], b[0]));
  for (const [name, kid] of items) applyNode(container, name, kid, [...parts, name], st);
}

function applyNode(container: Doc | unknown[], name: string, node: UNode, parts: string[], st: ApplyState): void {
  if (node.leaf) return applyLeaf(container, name, node.leaf, parts, st);
  const cur = getField(container, name);
  if (cur === undefined) {
    if (!creates(node, st)) return;
    if ([...node.kids.keys()].some((k) => k.startsWith('$'))) {
      if (node.kids.has('$')) throw positionalError();
      throw err('BadValue', `The path '${parts.join('.')}' must exist in the document in order to apply array updates.`);
    }
    if (Array.isArray(container) && !DIGITS.test(name)) throw notViable(name, parts[parts.length - 2] ?? '', container);
    const created: Doc = {};
    assignField(container, name, created);
    applyChildren(created, node, parts, st);
  } else if (isPlainObject(cur) || Array.isArray(cur)) {
    applyChildren(cur, node, parts, st);
  } else if (creates(node, st)) {
    const next = [...node.kids.keys()].sort(cmpNames)[0];
    if (next.startsWith('$')) throw err('BadValue', `Cannot apply array updates to non-array element ${name}: ${show(cur)}`);
    throw notViable(next, name, cur);
  }
}

function noteWrite(st: ApplyState, parts: string[]): void {
  if (!st.written) return;
  const p = parts.join('.');
  for (const w of st.written) {
    if (w === p || w.startsWith(p + '.') || p.startsWith(w + '.')) throw err('ConflictingUpdateOperators', `Update created a conflict at '${p}'`);
  }
  st.written.push(p);
}

function sameValue(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

function applyLeaf(container: Doc | unknown[], name: string, leaf: Leaf, parts: string[], st: ApplyState): void {
  const isArr = Array.isArray(container);
  const cur = getField(container, name);
  const path = parts.join('.');
  const fieldName = name;
  const write = (v: unknown) => {
    if (isArr && !DIGITS.test(name)) throw notViable(name, parts[parts.length - 2] ?? '', container);
    noteWrite(st, parts);
    assignField(container, name, v);
  };
  const arg = leaf.arg;
  switch (leaf.op) {
    case '$setOnInsert':
    case '$set':
      if (leaf.op === '$setOnInsert' && !st.isInsert) return;
      write(cloneDoc(arg));
      return;
    case '$unset':
      if (cur === undefined) return;
      noteWrite(st, parts);
      if (isArr) (container as unknown[])[Number(name)] = null;
      else delete (container as Doc)[name];
      return;
    case '$inc':
    case '$mul':
      if (cur !== undefined && !isNumeric(cur)) {
        throw err('TypeMismatch', `Cannot apply ${leaf.op} to a value of non-numeric type. ${idShow(st.orig)} has the field '${fieldName}' of non-numeric type ${typeName(cur)}`);
      }
      write(leaf.op === '$mul' && cur === undefined ? arith('$mul', 0, arg) : arith(leaf.op, cur, arg));
      return;
    case '$min':
    case '$max': {
      if (cur !== undefined) {
        const c = compareValues(arg, cur);
        if (leaf.op === '$min' ? c >= 0 : c <= 0) return;
      }
      write(cloneDoc(arg));
      return;
    }
    case '$currentDate': {
      const ts = isPlainObject(arg) && arg.$type === 'timestamp';
      write(ts ? new Timestamp({ t: Math.floor(st.now.getTime() / 1000), i: nextTsInc() }) : new Date(st.now.getTime()));
      return;
    }
    case '$bit': {
      let v: unknown = cur === undefined ? 0 : cur;
      if (!isInt32(v) && bsonType(v) !== 'Long') {
        throw err('BadValue', `Cannot apply $bit to a value of non-integral type.${idShow(st.orig)} has the field ${fieldName} of non-integer type ${typeName(cur)}`);
      }
      for (const [k, by] of Object.entries(arg as Doc)) v = bitOp(k, v, by);
      write(v);
      return;
    }
    case '$push': {
      if (cur !== undefined && !Array.isArray(cur)) {
        throw err('BadValue', `The field '${path}' must be an array but is of type ${typeName(cur)} in document ${idShow(st.orig)}`);
      }
      write(pushed(cur === undefined ? [] : (cur as unknown[]).slice(), arg));
      return;
    }
    case '$addToSet': {
      if (cur !== undefined && !Array.isArray(cur)) {
        throw err('BadValue', `Cannot apply $addToSet to non-array field. Field named '${fieldName}' has non-array type ${typeName(cur)}`);
      }
      const out = cur === undefined ? [] : (cur as unknown[]).slice();
      const each = isPlainObject(arg) && hasOwn(arg, '$each') ? (arg.$each as unknown[]) : [arg];
      for (const v of each) if (!out.some((x) => sameValue(x, v))) out.push(cloneDoc(v));
      write(out);
      return;
    }
    case '$pop': {
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw err('TypeMismatch', `Path '${path}' contains an element of non-array type '${typeName(cur)}'`);
      if (!cur.length) return;
      write(toNumber(arg) === 1 ? cur.slice(0, -1) : cur.slice(1));
      return;
    }
    case '$pull':
    case '$pullAll': {
      if (cur === undefined) return;
      if (!Array.isArray(cur)) throw err('BadValue', `Cannot apply ${leaf.op} to a non-array value`);
      const drop = leaf.op === '$pull' ? pullMatcher(arg) : (v: unknown) => (arg as unknown[]).some((x) => sameValue(v, x));
      const out = cur.filter((v) => !drop(v));
      if (out.length !== cur.length) write(out);
      return;
    }
    case '$rename': {
      if (leaf.role === 'from') {
        if (cur === undefined) return;
        noteWrite(st, parts);
        delete (container as Doc)[name];
        return;
      }
      const v = st.renameVals.get(leaf);
      if (v === MISSING) return;
      if (isArr) throw err('BadValue', `The destination field cannot be an array element, '${leaf.path}' in doc with ${parts[parts.length - 2]}=${show(container)} has an array field called ${parts[parts.length - 2]}`);
      write(v);
      return;
    }
  }
  throw err('FailedToParse', `Unknown modifier: ${leaf.op}`);
}

let tsInc = 0;
function nextTsInc(): number {
  tsInc = (tsInc + 1) % 0x7fffffff;
  return tsInc || 1;
}

function bitOp(k: string, v: unknown, by: unknown): unknown {
  if (bsonType(v) === 'Long' || bsonType(by) === 'Long') {
    const a = bsonType(v) === 'Long' ? (v as Long) : Long.fromNumber(v as number);
    const b = bsonType(by) === 'Long' ? (by as Long) : Long.fromNumber(by as number);
    return k === 'and' ? a.and(b) : k === 'or' ? a.or(b) : a.xor(b);
  }
  const a = v as number;
  const b = by as number;
  return k === 'and' ? a & b : k === 'or' ? a | b : a ^ b;
}

function pushed(arr: unknown[], arg: unknown): unknown[] {
  if (!(isPlainObject(arg) && hasOwn(arg, '$each'))) {
    arr.push(cloneDoc(arg));
    return arr;
  }
  const each = (arg.$each as unknown[]).map(cloneDoc);
  if (arg.$position !== undefined) {
    let pos = toNumber(arg.$position);
    if (pos < 0) pos = Math.max(0, arr.length + pos);
    pos = Math.min(pos, arr.length);
    arr.splice(pos, 0, ...each);
  } else arr.push(...each);
  if (arg.$sort !== undefined) {
    const s = arg.$sort;
    if (isNumeric(s)) {
      const dir = toNumber(s);
      arr = arr.map((v, i) => [v, i] as const).sort((x, y) => compareValues(x[0], y[0]) * dir || x[1] - y[1]).map((x) => x[0]);
    } else {
      arr = sortDocs(arr, s as Doc, (v) => (isPlainObject(v) ? v : {}));
    }
  }
  if (arg.$slice !== undefined) {
    const n = toNumber(arg.$slice);
    arr = n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
  }
  return arr;
}

const LOGICAL_TOP = new Set(['$and', '$or', '$nor', '$where', '$expr', '$text', '$comment', '$jsonSchema']);

/**
 * $pull's condition as MongoDB reads it: a document whose first field is a query operator
 * ({$gte: 6}, {$in: [...]}, {$elemMatch: ...}) or a regex matches each element as a value; any
 * other document ({n: 'a'}, {$or: [...]}) is a query run on each element that is a document;
 * anything else is equality with the element.
 */
function pullMatcher(cond: unknown): ElemPred {
  const first = isPlainObject(cond) ? Object.keys(cond)[0] : undefined;
  if (cond instanceof RegExp || bsonType(cond) === 'BSONRegExp' || (first !== undefined && first.startsWith('$') && !LOGICAL_TOP.has(first))) {
    const pred = compileFilter({ v: cond });
    return (v) => pred({ v });
  }
  if (isPlainObject(cond)) {
    const pred = compileFilter(cond);
    return (v) => isPlainObject(v) && pred(v);
  }
  return (v) => sameValue(v, cond);
}

/** The source values of $rename, read from the document before the update (code 2 through arrays). */
function resolveRenames(p: Parsed, doc: Doc, st: ApplyState): void {
  for (const leaf of p.renames) {
    const from = leaf.from!;
    let v: unknown = doc;
    let found: unknown = MISSING;
    for (let i = 0; i < from.length; i++) {
      if (Array.isArray(v)) throw err('BadValue', `The source field cannot be an array element, '${from.join('.')}' in doc with ${from[i - 1]}=${show(v)} has an array field called ${from[i - 1]}`);
      if (!isPlainObject(v) || !hasOwn(v, from[i])) break;
      v = v[from[i]];
      if (i === from.length - 1) found = v;
    }
    st.renameVals.set(leaf, found === MISSING ? MISSING : cloneDoc(found));
  }
}

// ---------------------------------------------------------------------------------------------
// The fast path: the same leaves applied copy-on-write, when every one is a $set / $unset /
// $inc / $mul of a path through embedded documents only.

/** Switch for tests: false sends every operator update through the general pipeline. */
export const updateFastPath = { enabled: true };

function setPathCow(doc: Doc, parts: string[], value: unknown): void {
  let o: Doc = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const cur = hasOwn(o, parts[i]) ? o[parts[i]] : undefined;
    const next: Doc = cur === undefined ? {} : { ...(cur as Doc) };
    o[parts[i]] = next;
    o = next;
  }
  o[parts[parts.length - 1]] = value;
}

function unsetPathCow(doc: Doc, parts: string[]): void {
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

/** Every parent on the path is a plain object or missing (the fast path's precondition). */
function plainParents(doc: Doc, parts: string[]): boolean {
  let o: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!hasOwn(o as Doc, parts[i])) return true;
    o = (o as Doc)[parts[i]];
    if (!isPlainObject(o)) return false;
  }
  return true;
}

function getOwnPath(doc: Doc, parts: string[]): unknown {
  let o: unknown = doc;
  for (const p of parts) {
    if (!isPlainObject(o) || !hasOwn(o, p)) return undefined;
    o = o[p];
  }
  return o;
}

function applyFast(doc: Doc, p: Parsed, isInsert: boolean): Doc {
  const out: Doc = { ...doc };
  for (const leaf of p.flat) {
    const { parts } = leaf;
    switch (leaf.op) {
      case '$setOnInsert':
      case '$set':
        if (leaf.op === '$setOnInsert' && !isInsert) break;
        setPathCow(out, parts, cloneDoc(leaf.arg));
        break;
      case '$unset':
        unsetPathCow(out, parts);
        break;
      default: {
        const op = leaf.op as '$inc' | '$mul';
        const cur = getOwnPath(out, parts);
        if (cur !== undefined && !isNumeric(cur)) {
          throw err('TypeMismatch', `Cannot apply ${op} to a value of non-numeric type. ${idShow(doc)} has the field '${parts[parts.length - 1]}' of non-numeric type ${typeName(cur)}`);
        }
        setPathCow(out, parts, op === '$mul' && cur === undefined ? arith('$mul', 0, leaf.arg) : arith(op, cur, leaf.arg));
      }
    }
  }
  return out;
}

function applyOperators(doc: Doc, u: Doc, opts: ApplyOpts): Doc {
  const p = parseUpdate(u);
  const afs = compileArrayFilters(p, u, opts.arrayFilters);
  if (updateFastPath.enabled && p.fast && p.flat.every((l) => plainParents(doc, l.parts))) return applyFast(doc, p, !!opts.isInsert);
  const st: ApplyState = {
    orig: doc,
    filter: opts.filter,
    isInsert: !!opts.isInsert,
    afs,
    now: new Date(),
    renameVals: new Map(),
    written: p.positional ? [] : null,
    positions: new Map(),
  };
  resolveRenames(p, doc, st);
  const out = cloneDoc(doc);
  applyChildren(out, p.root, [], st);
  return out;
}

// ---------------------------------------------------------------------------------------------

function ensureIdFirst(doc: Doc): Doc {
  const keys = Object.keys(doc);
  if (!hasOwn(doc, '_id') || keys[0] === '_id') return doc;
  const out: Doc = { _id: doc._id };
  for (const k of keys) if (k !== '_id') setOwn(out, k, doc[k]);
  return out;
}

/** MongoDB refuses an `_id` that is a document with `$`-prefixed fields (code 52). */
function checkIdStorable(id: unknown): void {
  if (!isPlainObject(id)) return;
  for (const [k, v] of Object.entries(id)) {
    if (k.startsWith('$')) throw err('DollarPrefixedFieldName', `_id fields may not contain '$'-prefixed fields: ${k} is not valid for storage.`);
    checkIdStorable(v);
  }
}

const TOUCHED = new WeakMap<Doc, Set<string>>();

/** Top-level field names an operator update may change (first component of every path). */
function touchedTopFields(u: Doc): Set<string> {
  let out = TOUCHED.get(u);
  if (!out) TOUCHED.set(u, (out = parseUpdate(u).touched));
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

interface ApplyOpts {
  filter?: Doc;
  arrayFilters?: Doc[];
  isInsert?: boolean;
}

export function applyUpdateDiff(doc: Doc, u: UpdateSpec, opts: ApplyOpts = {}): UpdateOutcome {
  const next = applyUpdate(doc, u, opts);
  const { modified, fields } = changedTopFields(doc, next, !Array.isArray(u) && isOperatorUpdate(u) ? touchedTopFields(u) : undefined);
  return { doc: next, modified, changed: fields };
}

/** Stages MongoDB allows in a pipeline-style update. */
const UPDATE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

/** Checks an update document before any document is matched (so a bad one fails on an empty or missing collection too). */
export function checkUpdateSpec(u: UpdateSpec, arrayFilters?: Doc[]): void {
  if (Array.isArray(u)) {
    for (const stage of u) {
      const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
      if (!name || Object.keys(stage).length !== 1) throw err('FailedToParse', 'A pipeline stage specification object must contain exactly one field.');
      if (!UPDATE_STAGES.has(name)) throw err('InvalidOptions', `${name} is not allowed to be used within an update`);
    }
    if (arrayFilters && arrayFilters.length) throw err('FailedToParse', 'arrayFilters may not be specified for pipeline-style updates');
    return;
  }
  if (isOperatorUpdate(u)) {
    const p = parseUpdate(u);
    compileArrayFilters(p, u, arrayFilters);
  } else {
    if (arrayFilters && arrayFilters.length) throw err('FailedToParse', 'Cannot use array filters with a replacement-style update');
  }
}

/**
 * Applies an update to a copy of `doc`. `filter` gives positional `$` its meaning; `isInsert`
 * activates $setOnInsert. Returns the new document (never mutates `doc`; the new document may
 * share unchanged subdocuments with `doc` — stored documents are never mutated in place).
 */
export function applyUpdate(doc: Doc, u: UpdateSpec, opts: ApplyOpts = {}): Doc {
  const before = doc;
  let out: Doc;
  if (Array.isArray(u)) {
    checkUpdateSpec(u);
    const docs = [cloneDoc(doc)];
    try {
      updateOne(docs, {}, u as any, {}, mingoOptions());
    } catch (e) {
      throw err('FailedToParse', (e as Error).message);
    }
    out = docs[0];
    if (!hasOwn(out, '_id') && hasOwn(before, '_id')) out = { _id: before._id, ...out };
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
    out = applyOperators(doc, u, opts);
  }
  if (before._id !== undefined && (!hasOwn(out, '_id') || canon(out._id) !== canon(before._id))) {
    throw err('ImmutableField', "Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  if (hasOwn(out, '_id')) checkIdStorable(out._id);
  out = ensureIdFirst(out);
  if (out !== before) checkSize(before, out, !Array.isArray(u) && isOperatorUpdate(u) ? growthBound(u as Doc, doc) : null);
  return out;
}

/**
 * Each document's BSON size, or an upper bound of it (a stored document's versions are
 * immutable objects, so the figure stays true of the object it is kept for).
 */
const SIZE = new WeakMap<Doc, number>();

function sizeOf(d: Doc): number {
  let n = SIZE.get(d);
  if (n === undefined) SIZE.set(d, (n = calculateObjectSize(d)));
  return n;
}

/**
 * An upper bound of how many bytes a fast-path update ($set / $unset / $inc / $mul /
 * $setOnInsert through embedded documents) can add to a document, or null (measure the result).
 */
function growthBound(u: Doc, doc: Doc): number | null {
  const p = parseUpdate(u);
  if (!p.fast || !p.flat.every((l) => plainParents(doc, l.parts))) return null;
  if (p.growth === undefined) {
    let n = 0;
    for (const l of p.flat) {
      // the value with its type byte and name, plus a created subdocument (header, type, name) per level
      const value = l.op === '$set' || l.op === '$setOnInsert' ? calculateObjectSize({ x: l.arg }) : l.op === '$unset' ? 0 : 24;
      n += value + l.path.length + 8 * l.parts.length;
    }
    p.growth = n;
  }
  return p.growth;
}

/** Refuses a result over 16 MiB (17419), measuring it only when a bound cannot prove it smaller. */
function checkSize(before: Doc, out: Doc, growth: number | null): void {
  if (growth !== null) {
    const bound = sizeOf(before) + growth;
    if (bound <= MAX_BSON_SIZE) {
      SIZE.set(out, bound);
      return;
    }
  }
  const n = calculateObjectSize(out);
  if (n > MAX_BSON_SIZE) throw err('Location17419', `Resulting document after update is larger than ${MAX_BSON_SIZE}`);
  SIZE.set(out, n);
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
  checkIdStorable(doc._id);
  doc = ensureIdFirst(doc);
  if (calculateObjectSize(doc) > MAX_BSON_SIZE) throw err('BadValue', `object to insert too large. size in bytes: ${calculateObjectSize(doc)}, max size: ${MAX_BSON_SIZE}`);
  return doc;
}

export function prepareInsert(doc: Doc): Doc {
  if (!isPlainObject(doc)) throw err('TypeMismatch', 'document must be an object');
  if (Array.isArray(doc._id)) throw err('InvalidIdField', `The '_id' value cannot be of type array`);
  if (doc._id instanceof RegExp) throw err('InvalidIdField', `The '_id' value cannot be of type regex`);
  checkIdStorable(doc._id);
  // the size of the bytes the client sent, when the document came from the wire
  const size = wireBytes.get(doc)?.length ?? calculateObjectSize(doc);
  if (size > MAX_BSON_SIZE) throw err('BadValue', `object to insert too large. size in bytes: ${size}, max size: ${MAX_BSON_SIZE}`);
  const out = doc._id === undefined ? { _id: new ObjectId(), ...doc } : ensureIdFirst(doc);
  SIZE.set(out, size + (out === doc ? 0 : 24)); // an added ObjectId _id: type, name, 12 bytes
  return out;
}
