// The single update pipeline (issue 13). Part one is a differential property test: for random
// documents, filters and updates mixing operators, the copy-on-write fast path gives exactly
// the general pipeline's answer (same bytes — types and field order —, same nModified and
// changed fields, or the same error code), and every operator of a mixed update takes effect
// (applying the whole update equals applying its operators one after the other). Part two
// drives the engine through the driver with literals of what MongoDB 7.0 answers, so it runs on
// a real server with TEST_MONGODB_URI too.
import { expect } from 'chai';
import fc from 'fast-check';
import { serialize } from 'bson';
import { Double, Long } from 'mongodb';
import { driverSuite, REAL } from './harness.ts';
import { applyUpdateDiff, updateFastPath } from '../../server/db/engine/update.ts';
import { isPlainObject, type Doc } from '../../server/db/engine/bsonutil.ts';

const NAMES = ['a', 'b', 'c'];
const scalar = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('s', 't', 1.5, null, true),
  fc.constant(Long.fromNumber(7)),
  fc.constant(new Date(0)),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, scalar, tie('obj'), tie('arr')),
  obj: fc.dictionary(fc.constantFrom(...NAMES), tie('v'), { maxKeys: 3 }),
  arr: fc.array(tie('v'), { maxLength: 3 }),
})).v;
const docArb = fc.dictionary(fc.constantFrom(...NAMES, 'n'), value, { maxKeys: 4 }).map((d) => ({ _id: 1, ...d }));
const pathArb = fc.array(fc.constantFrom(...NAMES, 'n'), { minLength: 1, maxLength: 3 }).map((p) => p.join('.'));
const num = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(0.5), fc.constant(Long.fromNumber(2)), fc.constant(new Double(3)));

/** $set / $unset / $inc / $mul on the paths `path` draws. */
const basicOps = (path: fc.Arbitrary<string>) => [
  fc.tuple(fc.constant('$set'), path, value),
  fc.tuple(fc.constant('$unset'), path, fc.constant('' as unknown)),
  fc.tuple(fc.constant('$inc'), path, num),
  fc.tuple(fc.constant('$mul'), path, num),
];

/** An update of $set / $unset / $inc / $mul on plain paths: the fast path's domain. */
const plainUpdate = fc
  .array(
    fc.oneof(
      ...basicOps(pathArb),
      fc.tuple(fc.constant('$setOnInsert'), pathArb, value),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map(toUpdate);

/** Any operator, on paths that may go through arrays (numeric parts, positional $, $[]). */
const anyPath = fc
  .array(fc.constantFrom(...NAMES, 'n', '0', '1'), { minLength: 1, maxLength: 3 })
  .chain((p) => fc.constantFrom(p, p.length > 1 ? [p[0], '$', ...p.slice(1)] : p, p.length > 1 ? [p[0], '$[]', ...p.slice(1)] : p))
  .map((p) => p.join('.'));
const mixedUpdate = fc
  .array(
    fc.oneof(
      ...basicOps(anyPath),
      fc.tuple(fc.constant('$push'), anyPath, value),
      fc.tuple(fc.constant('$addToSet'), anyPath, value),
      fc.tuple(fc.constant('$pull'), anyPath, scalar),
      fc.tuple(fc.constant('$pullAll'), anyPath, fc.array(scalar, { maxLength: 2 })),
      fc.tuple(fc.constant('$pop'), anyPath, fc.constantFrom(1, -1)),
      fc.tuple(fc.constant('$min'), anyPath, scalar),
      fc.tuple(fc.constant('$max'), anyPath, scalar),
      fc.tuple(fc.constant('$rename'), pathArb, pathArb),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map(toUpdate);

function toUpdate(entries: [string, string, unknown][]): Doc {
  const u: Doc = {};
  for (const [op, path, arg] of entries) (u[op] ??= {})[path] = arg;
  return u;
}

const filterArb = fc.oneof(
  fc.constant({ _id: 1 }),
  fc.tuple(fc.constantFrom(...NAMES, 'a.b', 'b.c'), scalar).map(([k, v]) => ({ _id: 1, [k]: v })),
);

type Outcome = { doc: string; modified: boolean; changed: string[] } | { error: number | string };

function outcome(d: Doc, u: Doc, filter: Doc, fast: boolean, isInsert = false): Outcome {
  updateFastPath.enabled = fast;
  try {
    const r = applyUpdateDiff(d, u, { filter, isInsert });
    return { doc: Buffer.from(serialize(r.doc)).toString('hex'), modified: r.modified, changed: [...r.changed].sort() };
  } catch (e) {
    return { error: (e as { code?: number }).code ?? (e as Error).message };
  } finally {
    updateFastPath.enabled = true;
  }
}

/** A value with every document's keys sorted (for comparisons up to the order of fields). */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (isPlainObject(v)) {
    const out: Doc = {};
    for (const k of Object.keys(v).sort()) out[k] = sortedKeys(v[k]);
    return out;
  }
  return v;
}

describe('engine update pipeline: fast path = general pipeline (property)', function () {
  this.timeout(60_000);

  it('plain $set / $unset / $inc / $mul: same document bytes, nModified, changed fields or error code', () => {
    fc.assert(
      fc.property(docArb, plainUpdate, filterArb, fc.boolean(), (d, u, f, ins) => {
        expect(outcome(d, u, f, true, ins), JSON.stringify({ d, u })).to.deep.equal(outcome(d, u, f, false, ins));
      }),
      { numRuns: 1500 },
    );
  });

  it('mixed operators (arrays, positional, $rename …): the switch changes nothing and nothing throws a non-MongoDB error', () => {
    fc.assert(
      fc.property(docArb, mixedUpdate, filterArb, (d, u, f) => {
        const a = outcome(d, u, f, true);
        expect(a, JSON.stringify({ d, u })).to.deep.equal(outcome(d, u, f, false));
        if ('error' in a) expect(a.error, JSON.stringify({ d, u, a })).to.be.a('number');
      }),
      { numRuns: 1500 },
    );
  });

  it('every operator of a mixed update takes effect: the whole update = its operators applied one after the other', () => {
    fc.assert(
      fc.property(docArb, mixedUpdate, filterArb, (d, u, f) => {
        if (JSON.stringify(u).includes('$')) {
          // positional paths depend on the filter's match on the original document: not comparable step by step
          if (Object.values(u).some((spec) => Object.keys(spec as Doc).some((p) => p.includes('$')))) return;
        }
        const whole = outcome(d, u, f, true);
        if ('error' in whole) return;
        let cur: Doc = d;
        for (const [op, spec] of Object.entries(u)) {
          try {
            cur = applyUpdateDiff(cur, { [op]: spec }, { filter: f }).doc;
          } catch {
            return; // an operator alone may fail where the whole update failed first (checked above)
          }
        }
        const got = applyUpdateDiff(d, u, { filter: f }).doc;
        expect(sortedKeys(got), JSON.stringify({ d, u })).to.deep.equal(sortedKeys(cur));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('engine update pipeline (driver, MongoDB 7.0 answers)', function () {
  const env = driverSuite();

  const coll = (docs: any[]) => env.coll(docs, 'u');
  const all = async (c: { find(): { toArray(): Promise<any[]> } }) => c.find().toArray();

  const MIXED: [string, Doc, Doc, Doc][] = [
    // name, start document (besides _id and n: 5), the update's other operator, the expected document
    ['$push', { a: [1, 2, 3] }, { $push: { a: 4 } }, { a: [1, 2, 3, 4] }],
    ['$pull', { a: [1, 2, 3] }, { $pull: { a: 2 } }, { a: [1, 3] }],
    ['$pullAll', { a: [1, 2, 3] }, { $pullAll: { a: [1, 3] } }, { a: [2] }],
    ['$pop', { a: [1, 2, 3] }, { $pop: { a: -1 } }, { a: [2, 3] }],
    ['$addToSet', { a: [1, 2] }, { $addToSet: { a: { $each: [2, 3] } } }, { a: [1, 2, 3] }],
    ['$rename', { a: 1 }, { $rename: { a: 'z' } }, { z: 1 }],
    ['$min', { a: 4 }, { $min: { a: 2 } }, { a: 2 }],
    ['$max', { a: 4 }, { $max: { a: 9 } }, { a: 9 }],
    ['$set a.0.x', { a: [{ x: 1 }, { x: 2 }] }, { $set: { 'a.0.x': 7 } }, { a: [{ x: 7 }, { x: 2 }] }],
    ['$set a.$.x', { a: [{ x: 1 }, { x: 2 }] }, { $set: { 'a.$.x': 7 } }, { a: [{ x: 1 }, { x: 7 }] }],
    ['$unset', { a: 1, b: 2 }, { $unset: { a: '' } }, { b: 2 }],
  ];

  for (const [name, start, other, expected] of MIXED) {
    it(`$inc with ${name}: both applied (updateOne, updateMany, findOneAndUpdate, bulkWrite)`, async () => {
      const filter = name === '$set a.$.x' ? { n: 5, 'a.x': 2 } : { n: 5 };
      const u = { $inc: { n: 1 }, ...other };
      const want = (id: number) => ({ _id: id, n: 6, ...expected });
      const c = await coll([1, 2, 3, 4].map((i) => ({ _id: i, n: 5, ...start })));
      const r1 = await c.updateOne({ _id: 1, ...filter }, u);
      expect([r1.matchedCount, r1.modifiedCount]).to.deep.equal([1, 1]);
      const r2 = await c.updateMany({ _id: 2, ...filter }, u);
      expect([r2.matchedCount, r2.modifiedCount]).to.deep.equal([1, 1]);
      const r3 = await c.findOneAndUpdate({ _id: 3, ...filter }, u, { returnDocument: 'after' });
      expect(r3).to.deep.equal(want(3));
      const r4 = await c.bulkWrite([{ updateOne: { filter: { _id: 4, ...filter }, update: u } }]);
      expect(r4.modifiedCount).to.equal(1);
      const docs = await c.find({}, { sort: { _id: 1 } }).toArray();
      expect(docs).to.deep.equal([1, 2, 3, 4].map(want));
      expect(docs.map((d) => Object.keys(d))).to.deep.equal([1, 2, 3, 4].map((i) => Object.keys(want(i))));
    });
  }

  it('fields are created in MongoDB 5.0+ order: lexicographic, numeric names numerically', async () => {
    const c = await coll([{ _id: 1, m: 1, arr: [0] }]);
    await c.updateOne({ _id: 1 }, { $set: { z: 1, b: 1 }, $inc: { a: 1 }, $push: { y: 1 } } as any);
    expect(Object.keys((await c.findOne({ _id: 1 }))!)).to.deep.equal(['_id', 'm', 'arr', 'a', 'b', 'y', 'z']);
    await c.updateOne({ _id: 1 }, { $set: { 'arr.10': 'ten', 'arr.2': 'two' } });
    expect((await c.findOne({ _id: 1 }))!.arr).to.deep.equal([0, null, 'two', null, null, null, null, null, null, null, 'ten']);
    await c.updateOne({ _id: 1 }, { $set: { 'o.y': 1, 'o.x': { q: 1 } } });
    expect(Object.keys((await c.findOne({ _id: 1 }))!.o)).to.deep.equal(['x', 'y']);
  });

  it('$pull with a query condition: $or over the elements, operators, regex, equality', async () => {
    const c = await coll([
      { _id: 1, t: [{ n: 'a' }, { n: 'b' }, { n: 'c' }] },
      { _id: 2, v: [1, 5, 8, 12], s: ['apple', 'banana', 'avocado'], e: [{ k: 1, w: 2 }, { w: 2, k: 1 }, 3] },
    ]);
    await c.updateOne({ _id: 1 }, { $pull: { t: { $or: [{ n: 'a' }, { n: 'b' }] } } } as any);
    await c.updateOne({ _id: 2 }, { $pull: { v: { $gte: 5, $lt: 10 }, s: /^a/, e: { k: 1, w: 2 } } } as any);
    expect(await all(c)).to.deep.equal([
      { _id: 1, t: [{ n: 'c' }] },
      // a document condition is a query on each element: it matches { w: 2, k: 1 } too
      { _id: 2, v: [1, 12], s: ['banana'], e: [3] },
    ]);
    await c.updateOne({ _id: 1 }, { $pull: { t: { n: { $in: ['c'] } } } } as any);
    expect((await c.findOne({ _id: 1 }))!.t).to.deep.equal([]);
  });

  it('positional $: several fields of the matched subdocument at once, and from $elemMatch', async () => {
    const c = await coll([{ _id: 1, c: [{ id: 'p', x: 0 }, { id: 'q', x: 0 }] }]);
    const at = new Date('2026-01-02T03:04:05Z');
    const r = await c.updateOne({ _id: 1, 'c.id': 'q' }, { $set: { 'c.$.x': 2, 'c.$.y': at }, $inc: { v: 1 } });
    expect(r.modifiedCount).to.equal(1);
    await c.updateOne({ c: { $elemMatch: { id: 'p', x: 0 } } }, { $inc: { 'c.$.x': 5 } });
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, c: [{ id: 'p', x: 5 }, { id: 'q', x: 2, y: at }], v: 1 });
    const e: any = await c.updateOne({ _id: 1 }, { $set: { 'c.$.x': 1 } }).catch((x) => x);
    expect(e.code).to.equal(2);
    expect(e.message).to.equal('The positional operator did not find the match needed from the query.');
  });

  it('$set through an array by field name is PathNotViable (28); an index creates / pads', async () => {
    const c = await coll([{ _id: 1, c: [{ x: 1 }], s: 5, n: null }]);
    const e1: any = await c.updateOne({ _id: 1 }, { $set: { 'c.x': 2 } }).catch((x) => x);
    expect([e1.code, e1.message]).to.deep.equal([28, "Cannot create field 'x' in element {c: [ { x: 1 } ]}"]);
    const e2: any = await c.updateOne({ _id: 1 }, { $set: { 's.x': 2 } }).catch((x) => x);
    expect([e2.code, e2.message]).to.deep.equal([28, "Cannot create field 'x' in element {s: 5}"]);
    const e3: any = await c.updateOne({ _id: 1 }, { $set: { 'n.x': 2 } }).catch((x) => x);
    expect([e3.code, e3.message]).to.deep.equal([28, "Cannot create field 'x' in element {n: null}"]);
    // removals through the same paths are no-ops
    const r = await c.updateOne({ _id: 1 }, { $unset: { 'c.x': '', 's.x': '' } });
    expect([r.matchedCount, r.modifiedCount]).to.deep.equal([1, 0]);
    await c.updateOne({ _id: 1 }, { $set: { 'c.2.y': 3 } });
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, c: [{ x: 1 }, null, { y: 3 }], s: 5, n: null });
  });

  it('a null _id is kept by an insert command, by an upsert seeded from the filter, and by an upserted replacement', async () => {
    for (const [i, write] of [
      (c: any) => env.db.command({ insert: c.collectionName, documents: [{ _id: null }] }),
      (c: any) => c.updateOne({ _id: null }, { $unset: { a: '' } }, { upsert: true }),
      (c: any) => c.updateMany({ _id: null }, { $unset: { a: '' } }, { upsert: true }),
      (c: any) => c.replaceOne({}, { _id: null }, { upsert: true }),
    ].entries()) {
      const c = await coll([]);
      await write(c);
      expect(await all(c), String(i)).to.deep.equal([{ _id: null }]);
    }
  });

  it('own __proto__ fields are stored like any other', async () => {
    const c = await coll([{ _id: 1 }]);
    await c.updateOne({ _id: 1 }, { $set: JSON.parse('{"__proto__": {"x": 1}, "ok": true}') });
    const d: any = await c.findOne({ _id: 1 });
    expect(Object.keys(d)).to.deep.equal(['_id', '__proto__', 'ok']);
    expect(Object.getOwnPropertyDescriptor(d, '__proto__')!.value).to.deep.equal({ x: 1 });
  });

  it('the update document is checked before matching: a bad operator on a missing collection is 9', async () => {
    const e: any = await env.db.collection<any>('never_created').updateOne({ _id: 1 }, { $bogus: { a: 1 } } as any).catch((x) => x);
    expect(e.code).to.equal(9);
    const e2: any = await env.db.collection('never_created').updateMany({}, { $inc: { a: 'x' } } as any).catch((x) => x);
    expect(e2.code).to.equal(14);
    expect(await env.db.listCollections({ name: 'never_created' }).toArray()).to.deep.equal([]);
  });

  it('conflicting paths are refused (40); a rename with a missing source is a no-op', async () => {
    const c = await coll([{ _id: 1, a: { b: 1 } }]);
    const e: any = await c.updateOne({ _id: 1 }, { $set: { a: 1 }, $inc: { 'a.b': 1 } }).catch((x) => x);
    expect(e.code).to.equal(40);
    const r = await c.updateOne({ _id: 1 }, { $rename: { missing: 'q.r' } });
    expect([r.matchedCount, r.modifiedCount]).to.deep.equal([1, 0]);
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, a: { b: 1 } });
  });

  it('pipeline updates: $replaceWith / $replaceRoot keep _id, $setField, $unset; other stages are 72', async () => {
    const c = await coll([{ _id: 1, a: { x: 1, y: 2 }, b: 3 }]);
    await c.updateOne({ _id: 1 }, [{ $replaceWith: '$a' }]);
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, x: 1, y: 2 });
    await c.updateOne({ _id: 1 }, [{ $replaceRoot: { newRoot: { q: '$x' } } }]);
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, q: 1 });
    await c.updateOne({ _id: 1 }, [{ $replaceWith: { $setField: { field: 'w', input: '$$ROOT', value: 5 } } }, { $unset: 'q' }]);
    expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, w: 5 });
    const e: any = await c.updateOne({ _id: 1 }, [{ $group: { _id: null } }] as any).catch((x) => x);
    expect(e.code).to.equal(72);
  });

  it('an update statement with sort is refused by 7.0 (40415); so is one making a document over 16 MiB (17419)', async () => {
    const c = await coll([{ _id: 1, a: 1 }, { _id: 2, a: 2 }]);
    const r = await env.db.command({ update: c.collectionName, updates: [{ q: {}, u: { $set: { a: 9 } }, sort: { a: -1 } }] }).catch((x) => x);
    expect(r.writeErrors?.[0]?.code ?? r.code).to.equal(40415);
    const big = 'x'.repeat(9 * 1024 * 1024);
    await c.updateOne({ _id: 1 }, { $set: { big } });
    const e: any = await c.updateOne({ _id: 1 }, { $set: { big2: big } }).catch((x) => x);
    expect(e.code).to.equal(17419);
    expect((await c.findOne({ _id: 1 }, { projection: { big2: 1 } }))!.big2).to.equal(undefined);
  });

  (REAL ? it.skip : it)('the engine keeps no second semantics: with the fast path off the same answers come back', async () => {
    updateFastPath.enabled = false;
    try {
      const c = await coll([{ _id: 1, n: 5, a: { b: 1 } }]);
      await c.updateOne({ _id: 1, n: 5 }, { $inc: { n: 1 }, $set: { 'a.c': 2, z: 0 }, $unset: { 'a.b': 1 } });
      expect(await c.findOne({ _id: 1 })).to.deep.equal({ _id: 1, n: 6, a: { c: 2 }, z: 0 });
    } finally {
      updateFastPath.enabled = true;
    }
  });
});
