// Property-based tests (fast-check) of the scoring core.
import { expect } from 'chai';
import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import type { ReturnValues, UnitCategory } from '../../server/domain/fields.ts';
import {
  DEFAULT_SCHEME,
  Rational,
  cloneScheme,
  excellentCap,
  scorePeriod,
  scoreYear,
  validateScheme,
  type AssessmentScheme,
  type UnitInput,
} from '../../server/domain/scoring/index.ts';

const RUNS = { numRuns: 150 };

/** A whole number ≤ its bound for every ≤ rule of SPEC §3; small, so zero denominators are common. */
const arbValues: fc.Arbitrary<ReturnValues> = fc
  .record({
    st: fc.integer({ min: 0, max: 40 }),
    np: fc.integer({ min: 0, max: 12 }),
    ci: fc.integer({ min: 0, max: 30 }),
    rr: fc.integer({ min: 0, max: 30 }),
    dt: fc.integer({ min: 0, max: 30 }),
  })
  .chain(({ st, np, ci, rr, dt }) =>
    fc.record({
      systems_total: fc.constant(st),
      systems_extranet: fc.integer({ min: 0, max: st }),
      systems_cloud: fc.integer({ min: 0, max: st }),
      networks_private: fc.constant(np),
      networks_standalone: fc.integer({ min: 0, max: np }),
      catalogue_items: fc.constant(ci),
      catalogue_shared: fc.integer({ min: 0, max: ci }),
      requests_received: fc.constant(rr),
      requests_on_time: fc.integer({ min: 0, max: rr }),
      duties_total: fc.constant(dt),
      duties_with_data: fc.integer({ min: 0, max: dt }),
    }),
  );

const arbCategory = fc.constantFrom<UnitCategory>('department', 'city', 'county');

const arbUnits: fc.Arbitrary<UnitInput[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 999 }), { minLength: 1, maxLength: 14 })
  .chain((codes) =>
    fc.tuple(
      ...codes.map((c) =>
        fc.record({
          unit: fc.constant(`U${String(c).padStart(3, '0')}`),
          name: fc.constant(`单位${c}`),
          category: arbCategory,
          values: fc.option(arbValues, { freq: 6 }),
          rejected: fc.boolean(),
          late: fc.boolean(),
          active: fc.constantFrom(true, true, true, false),
        }),
      ),
    ),
  );

/** Valid edited schemes: weights, floors/targets, bands, quota, late deduction all vary. */
const arbScheme: fc.Arbitrary<AssessmentScheme> = fc
  .record({
    weights: fc.array(fc.integer({ min: 1, max: 400 }).map((x) => x / 4), { minLength: 6, maxLength: 6 }),
    bounds: fc.array(
      fc.tuple(fc.integer({ min: 0, max: 19 }), fc.integer({ min: 1, max: 20 })).filter(([f, t]) => f < t),
      { minLength: 6, maxLength: 6 },
    ),
    quota: fc.integer({ min: 0, max: 10 }).map((x) => x / 10),
    late: fc.integer({ min: 0, max: 1000 }).map((x) => x / 100),
    useDefault: fc.boolean(),
  })
  .map(({ weights, bounds, quota, late, useDefault }) => {
    if (useDefault) return DEFAULT_SCHEME;
    const s = cloneScheme(DEFAULT_SCHEME);
    s.indicators.forEach((ind, i) => {
      ind.weight = weights[i]!;
      ind.floor = bounds[i]![0] / 20;
      ind.target = bounds[i]![1] / 20;
    });
    s.excellentQuota = quota;
    s.deductions.late = late;
    const v = validateScheme(s);
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    return v.scheme;
  });

/** One step that makes exactly one ratio better, when possible. */
const IMPROVEMENTS: ((v: ReturnValues) => ReturnValues | null)[] = [
  (v) => (v.systems_extranet < v.systems_total ? { ...v, systems_extranet: v.systems_extranet + 1 } : null),
  (v) => (v.systems_cloud < v.systems_total ? { ...v, systems_cloud: v.systems_cloud + 1 } : null),
  (v) => (v.networks_standalone > 0 ? { ...v, networks_standalone: v.networks_standalone - 1 } : null),
  (v) => (v.catalogue_shared < v.catalogue_items ? { ...v, catalogue_shared: v.catalogue_shared + 1 } : null),
  (v) => (v.requests_on_time < v.requests_received ? { ...v, requests_on_time: v.requests_on_time + 1 } : null),
  (v) => (v.duties_with_data < v.duties_total ? { ...v, duties_with_data: v.duties_with_data + 1 } : null),
];

/** An independent oracle in decimal.js (60 significant digits) for a unit's unrounded total. */
function decimalTotal(s: AssessmentScheme, v: ReturnValues, late: boolean): Decimal | null {
  const D = Decimal.clone({ precision: 60 });
  let sum = new D(0);
  let w = new D(0);
  for (const ind of s.indicators) {
    const ex = (e: { add: string[]; subtract?: string[] }) =>
      e.add.reduce((a, k) => a + v[k as keyof ReturnValues], 0) - (e.subtract ?? []).reduce((a, k) => a + v[k as keyof ReturnValues], 0);
    if (ind.notApplicableWhen && ex(ind.notApplicableWhen.zero) === 0) continue;
    const den = ex(ind.denominator);
    let value: Decimal;
    if (den === 0) {
      if (ind.zeroDenominatorValue === null) continue;
      value = new D(ind.zeroDenominatorValue);
    } else value = new D(ex(ind.numerator)).div(den);
    const norm = D.min(1, D.max(0, value.sub(ind.floor).div(new D(ind.target).sub(ind.floor))));
    sum = sum.add(norm.mul(ind.weight));
    w = w.add(ind.weight);
  }
  if (w.isZero()) return null;
  return D.max(0, sum.mul(100).div(w).sub(late ? s.deductions.late : 0));
}

describe('scoring core — properties', () => {
  it('improving any ratio never lowers a total', () => {
    fc.assert(
      fc.property(arbScheme, arbUnits, fc.nat(), fc.nat({ max: IMPROVEMENTS.length - 1 }), (scheme, units, pick, which) => {
        const i = pick % units.length;
        const target = units[i]!;
        if (!target.values) return;
        const better = IMPROVEMENTS[which]!(target.values);
        if (!better) return;
        const ctx = { deadlinePassed: true };
        const before = scorePeriod(scheme, units, ctx).results.find((r) => r.unit === target.unit);
        const changed = units.map((u, j) => (j === i ? { ...u, values: better } : u));
        const after = scorePeriod(scheme, changed, ctx).results.find((r) => r.unit === target.unit);
        if (!before || !after || before.total === null) return;
        expect(after.total, `${target.unit}`).to.be.at.least(before.total);
      }),
      RUNS,
    );
  });

  it('the order of the input units never changes the results', () => {
    fc.assert(
      fc.property(arbScheme, arbUnits, fc.boolean(), fc.array(fc.nat()), (scheme, units, deadlinePassed, keys) => {
        const shuffled = units
          .map((u, i) => ({ u, k: keys[i % Math.max(1, keys.length)] ?? 0, i }))
          .sort((a, b) => a.k - b.k || b.i - a.i)
          .map((x) => x.u);
        const previous = units.map((u, i) => ({ unit: u.unit, rank: i % 3 === 0 ? null : i }));
        expect(scorePeriod(scheme, shuffled, { deadlinePassed, previous })).to.deep.equal(
          scorePeriod(scheme, units, { deadlinePassed, previous: [...previous].reverse() }),
        );
      }),
      RUNS,
    );
  });

  it('scoring twice gives identical output and leaves the input untouched', () => {
    fc.assert(
      fc.property(arbScheme, arbUnits, fc.boolean(), (scheme, units, deadlinePassed) => {
        const copy = JSON.parse(JSON.stringify(units));
        const a = scorePeriod(scheme, units, { deadlinePassed });
        const b = scorePeriod(scheme, units, { deadlinePassed });
        expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
        expect(units).to.deep.equal(copy);
      }),
      RUNS,
    );
  });

  it('agrees with an independent decimal.js computation, rounded half-up', () => {
    fc.assert(
      fc.property(arbScheme, arbValues, fc.boolean(), (scheme, values, late) => {
        const r = scorePeriod(scheme, [{ unit: 'U1', name: 'x', category: 'city', values, late }], { deadlinePassed: true }).results[0]!;
        const d = decimalTotal(scheme, values, late);
        if (d === null) {
          expect(r.total).to.equal(null);
          return;
        }
        // Skip values within 1e-40 of a rounding tie: that is where an approximate oracle can't decide.
        const frac = d.mul(100).sub(d.mul(100).floor());
        if (frac.sub(0.5).abs().lt('1e-40')) return;
        expect(r.total).to.equal(d.toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toNumber());
      }),
      { numRuns: 300 },
    );
  });

  it('ranks, grades and flags obey the SPEC invariants', () => {
    fc.assert(
      fc.property(arbScheme, arbUnits, fc.boolean(), (scheme, units, deadlinePassed) => {
        const { results } = scorePeriod(scheme, units, { deadlinePassed });
        expect(results.length).to.equal(units.filter((u) => u.active !== false).length);
        for (const r of results) {
          const peers = results.filter((x) => x.category === r.category && x.total !== null);
          if (r.total === null) {
            expect(r.rank).to.equal(null);
            expect(r.grade).to.equal(null);
            continue;
          }
          expect(r.total).to.be.within(0, 100);
          expect(r.rank).to.equal(1 + peers.filter((x) => x.total! > r.total!).length);
          if (r.flags.includes('missing')) expect([r.total, r.grade]).to.deep.equal([0, '不合格']);
          // the band below the top, or the band itself
          const band = scheme.grades.find((b) => r.total! >= b.min)!.grade;
          expect(r.grade === band || (band === '优秀' && r.grade === '良好') || r.flags.includes('missing')).to.equal(true);
        }
        for (const cat of ['department', 'city', 'county'] as const) {
          const ranked = results.filter((x) => x.category === cat && x.rank !== null);
          const excellent = ranked.filter((x) => x.grade === '优秀');
          expect(excellent.length).to.be.at.most(excellentCap(scheme, ranked.length));
          // 优秀 are never below a demoted 良好 of the 优秀 band in (rank, code) order
          const demoted = ranked.filter((x) => x.grade === '良好' && x.total! >= scheme.grades[0]!.min);
          for (const e of excellent) for (const d of demoted) expect([e.rank! < d.rank! || (e.rank === d.rank && e.unit < d.unit)]).to.deep.equal([true]);
        }
        if (!deadlinePassed) expect(results.filter((r) => r.flags.includes('missing'))).to.deep.equal([]);
        else expect(results.filter((r) => r.flags.includes('pending'))).to.deep.equal([]);
      }),
      RUNS,
    );
  });

  it('annual results do not depend on the order of units or rows', () => {
    const arbTotal = fc.option(fc.integer({ min: 0, max: 10000 }).map((x) => x / 100), { freq: 5 });
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.tuple(arbTotal, arbTotal, arbTotal, arbTotal), { minLength: 10, maxLength: 10 }),
        (codes, totals) => {
          const units = codes.map((c, i) => ({ unit: `U${c}`, name: `单位${c}`, category: (['department', 'city', 'county'] as const)[i % 3]! }));
          const quarters = Object.fromEntries(
            ['2026Q1', '2026Q2', '2026Q3', '2026Q4'].map((p, qi) => [p, units.map((u, i) => ({ unit: u.unit, total: totals[i]![qi]!, grade: null }))]),
          );
          const reversed = Object.fromEntries(Object.entries(quarters).map(([p, rows]) => [p, [...rows].reverse()]));
          const a = scoreYear(DEFAULT_SCHEME, { year: 2026, units, quarters });
          const b = scoreYear(DEFAULT_SCHEME, { year: 2026, units: [...units].reverse(), quarters: reversed });
          expect(a).to.deep.equal(b);
          for (const r of a) {
            const sum = Object.values(r.quarters).reduce<number>((s, t) => s + Math.round((t ?? 0) * 100), 0);
            // mean in hundredths, half-up: (sum/4) rounded → compare with integer arithmetic
            expect(Math.round(r.total * 100)).to.equal(Math.floor((2 * sum + 4) / 8));
          }
        },
      ),
      RUNS,
    );
  });
});

describe('Rational.fromNumber', () => {
  // The exact fraction of the decimal a number prints as, by decimal.js: what fromNumber gave before it
  // read plain decimals ("88.75") off the text itself.
  const byDecimal = (x: number) => {
    const [n, d] = new Decimal(x).toFraction();
    return `${BigInt(n.toFixed(0))}/${BigInt(d.toFixed(0))}`;
  };
  const asFraction = (x: number) => {
    const r = Rational.fromNumber(x);
    return `${r.n}/${r.d}`;
  };

  it('gives the same exact fraction as decimal.js for every finite number', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      expect(asFraction(x)).to.equal(byDecimal(x));
    }), { numRuns: 3000 });
  });

  it('gives the same exact fraction as decimal.js for totals and ratios as stored (few decimals, either sign)', () => {
    const stored = fc.tuple(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 6 })).map(([n, p]) => n / 10 ** p);
    fc.assert(fc.property(stored, (x) => {
      expect(asFraction(x)).to.equal(byDecimal(x));
    }), { numRuns: 3000 });
    for (const x of [-0, 0.5, -0.5, 0.1, 1e-7, -1e-7, 1.5e21, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, 88.7525, 99.995]) {
      expect(asFraction(x), String(x)).to.equal(byDecimal(x));
    }
  });
});
