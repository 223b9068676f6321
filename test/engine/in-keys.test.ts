// The engine's `$in` / `$nin` on a long list of key-exact values (strings, numbers, booleans, Dates,
// ObjectIds) is one set lookup per stored value instead of one comparison per list element
// (server/db/engine/query.ts exactKeys). Differential: the same documents against the same values
// written as `$or` of `$eq` conditions (the comparison path), for stored values of every kind.
import { expect } from 'chai';
import { Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import { compileFilter } from '../../server/db/engine/query.ts';
import { collation } from '../../server/db/engine/bsonutil.ts';
import { driverSuite } from './harness.ts';

const oid = (i: number) => new ObjectId(i.toString(16).padStart(24, '0'));
const day = (i: number) => new Date(Date.UTC(2026, 0, 1 + i));

/** Stored values of every kind, scalars and arrays (also nested), equal to list values or not. */
function storedValues(): unknown[] {
  const scalars: unknown[] = [
    'a', 'b', 'A', 'é', 'e\u0301', '', '3', 'x9', 0, -0, 3, 3.5, -7, 1e21, NaN, Infinity, true, false, null, undefined,
    new Int32(3), new Long(3), Long.fromString('9007199254740993'), new Double(3), new Double(-0), Decimal128.fromString('3.0'),
    Decimal128.fromString('3.5'), Decimal128.fromString('NaN'), day(1), day(2), new Date(NaN), oid(1), oid(2), oid(99),
    { k: 'a' }, { $in: 'a' }, /a/, Buffer.from('a'),
  ];
  return [...scalars, ...scalars.map((v) => [v]), ['zz', 'a'], [['a']], [[3], 4], [], [[]], [oid(2), 'q'], [day(2), null]];
}

const lists: unknown[][] = [
  ['a', 'A', 'q', 'r', 's', 't', 'u', 'v', '3'],
  [3, 0, 1e21, -7, 100, 101, 102, 103, 104],
  [3.5, 9007199254740992, 9007199254740993, 5, 6, 7, 8, 9, 10],
  [true, 'x', 'y', 'z', 'w', 'v', 'u', 't', 's'],
  [day(2), day(3), day(4), day(5), day(6), day(7), day(8), day(9)],
  [oid(2), oid(3), oid(4), oid(5), oid(6), oid(7), oid(8), oid(9), new Double(4)],
  ['é', 'e\u0301', '', 0, false, day(1), oid(1), 'x9', 'b', -0],
];

describe('engine $in over key-exact values: set lookup = comparisons', () => {
  const values = storedValues();
  const docs = values.flatMap((v, i) => [{ _id: i, f: v }, { _id: `n${i}`, g: { f: v } }, { _id: `m${i}`, g: [{ f: v }, { f: 'zz' }] }, { _id: `x${i}` }]);

  for (const [li, list] of lists.entries()) {
    for (const path of ['f', 'g.f']) {
      it(`list ${li} on ${path}: $in and $nin agree with $or of $eq`, () => {
        const inP = compileFilter({ [path]: { $in: list } });
        const ninP = compileFilter({ [path]: { $nin: list } });
        const orP = compileFilter({ $or: list.map((v) => ({ [path]: { $eq: v } })) });
        let matched = 0;
        for (const d of docs) {
          const want = orP(d);
          if (want) matched++;
          expect(inP(d), `$in ${JSON.stringify(d)}`).to.equal(want);
          expect(ninP(d), `$nin ${JSON.stringify(d)}`).to.equal(!want);
        }
        expect(matched, 'the list matches some documents').to.be.greaterThan(0);
      });
    }
  }

  it('under a collation strings compare by it, not by their keys (the lookup is not used)', () => {
    const list = ['A', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x'];
    const inP = compileFilter({ f: { $in: list } });
    const doc = { _id: 1, f: 'a' };
    expect(inP(doc)).to.equal(false);
    collation.current = new Intl.Collator('en', { sensitivity: 'base' });
    try {
      expect(inP(doc)).to.equal(true);
      expect(compileFilter({ $or: list.map((v) => ({ f: { $eq: v } })) })(doc)).to.equal(true);
    } finally {
      collation.current = null;
    }
  });
});

describe('engine $in of many values through the driver', () => {
  const env = driverSuite();
  it('finds and updates exactly the documents named, with an index and without', async () => {
    const c = env.db.collection('inkeys');
    await c.insertMany(Array.from({ length: 3000 }, (_, i) => ({ u: `U${String(i).padStart(5, '0')}`, p: i % 3 === 0 ? 'P1' : 'P2', n: i, b: 'B', done: false })));
    const named = Array.from({ length: 1200 }, (_, i) => `U${String(i * 2 + 1).padStart(5, '0')}`).concat(['nope', 'U99999']);
    const expected = (ids: number[]) => ids.filter((i) => i % 2 === 1 && i < 2400);
    const all = Array.from({ length: 3000 }, (_, i) => i);
    // no index on u: a scan with the set test
    const scan = await c.find({ b: 'B', u: { $in: named } }, { projection: { _id: 0, n: 1 } }).toArray();
    expect(scan.map((d) => d.n).sort((a, b) => a - b)).to.deep.equal(expected(all));
    const none = await c.find({ u: { $nin: named }, p: 'P1' }, { projection: { _id: 0, n: 1 } }).toArray();
    expect(none.map((d) => d.n).sort((a, b) => a - b)).to.deep.equal(all.filter((i) => i % 3 === 0 && !(i % 2 === 1 && i < 2400)));
    // with an index on (u, p): the same documents
    await c.createIndex({ u: 1, p: 1 });
    const viaIndex = await c.find({ p: 'P2', u: { $in: named } }, { projection: { _id: 0, n: 1 } }).toArray();
    expect(viaIndex.map((d) => d.n).sort((a, b) => a - b)).to.deep.equal(expected(all).filter((i) => i % 3 !== 0));
    const res = await c.updateMany({ b: 'B', done: false, u: { $in: named } }, { $set: { done: true } });
    expect(res.modifiedCount).to.equal(1200);
    expect(await c.countDocuments({ done: true })).to.equal(1200);
    expect(await c.countDocuments({ done: true, u: { $in: named.slice(0, 10) } })).to.equal(10);
  });
});
