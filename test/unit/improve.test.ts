// 提分路径 (server/domain/scoring/improve.ts): examples and fast-check properties. Applying a suggestion
// and re-scoring with the scoring core gives exactly the stated total and grade; no smaller change of the
// same field reaches the target.
import { expect } from 'chai';
import fc from 'fast-check';
import type { ReturnValues } from '../../server/domain/fields.ts';
import {
  applyAction,
  bandGrade,
  DEFAULT_SCHEME,
  GRADES,
  IMPROVE_ACTIONS,
  improvePath,
  Rational,
  rankAndGrade,
  scorePeriod,
  suggestionText,
  type Grade,
  type ImproveContext,
  type ImproveInput,
} from '../../server/domain/scoring/index.ts';

const scheme = DEFAULT_SCHEME;
const V = (o: Partial<ReturnValues>): ReturnValues => ({
  systems_total: 9, systems_extranet: 9, systems_cloud: 9, networks_private: 0, networks_standalone: 0,
  catalogue_items: 10, catalogue_shared: 10, requests_received: 10, requests_on_time: 10, duties_total: 10, duties_with_data: 10, ...o,
});

function rescore(input: ImproveInput, values: ReturnValues, ctx: ImproveContext): { total: number; grade: Grade; band: Grade } {
  const r = scorePeriod(scheme, [{ unit: input.unit, name: 'x', category: input.category, values, late: input.late }], { deadlinePassed: ctx.deadlinePassed }).results[0]!;
  const total = Rational.fromNumber(r.total!);
  const p = rankAndGrade(scheme, [{ unit: input.unit, category: input.category, total }, ...ctx.others.map((o) => ({ unit: o.unit, category: input.category, total: Rational.fromNumber(o.total) }))]);
  return { total: r.total!, grade: p.get(input.unit)!.grade!, band: bandGrade(scheme, total) };
}

describe('提分路径 improvePath', () => {
  it('connect 3 more systems: 6/9 extranet → the smallest k reaching 优秀, with points and words', () => {
    // I1 = 25 × 6/9 = 16.67, everything else full: 91.67 → 优秀 already; use 3/9: 83.33 良好.
    const input: ImproveInput = { unit: 'D001', category: 'department', values: V({ systems_extranet: 3 }) };
    const p = improvePath(scheme, input, { deadlinePassed: true, others: [] });
    expect(p.total).to.equal(83.33);
    expect(p.grade).to.equal('良好');
    expect(p.target).to.equal('优秀');
    const s = p.suggestions.find((x) => x.field === 'systems_extranet')!;
    // 25 × (3+k)/9 ≥ 15 ⇔ k ≥ 2.4 → k = 3: 25 × 6/9 + 75 = 91.67
    expect(s.change).to.equal(3);
    expect(s.total).to.equal(91.67);
    expect(s.points).to.equal(8.34);
    expect(s.bandGrade).to.equal('优秀');
    // No other units: cap = floor(0.3 × 1) = 0, so the quota caps it.
    expect(s.grade).to.equal('良好');
    expect(s.quotaNote).to.equal('受 30% 名额限制，当前第 1 名');
    expect(suggestionText(s)).to.equal('再接入 3 个系统到电子政务外网（+8.34 分）→ 91.67 分，分数达到优秀（受 30% 名额限制，当前第 1 名，评为良好）');
    // Fields already at their bound offer nothing.
    expect(p.suggestions.map((x) => x.field)).to.deep.equal(['systems_extranet']);
  });

  it('with room in the quota the suggestion reaches 优秀 without a note; a late unit counts its deduction', () => {
    const others = Array.from({ length: 9 }, (_, i) => ({ unit: `D10${i}`, total: 70 }));
    const input: ImproveInput = { unit: 'D001', category: 'department', values: V({ systems_extranet: 3 }), late: true };
    const p = improvePath(scheme, input, { deadlinePassed: true, others });
    expect(p.total).to.equal(81.33);
    const s = p.suggestions[0]!;
    // 25 × (3+k)/9 ≥ 17 ⇔ k ≥ 3.12 → 4: 25 × 7/9 + 75 − 2 = 92.44
    expect(s).to.include({ change: 4, total: 92.44, grade: '优秀', quotaNote: null, rank: 1 });
  });

  it('out of 不合格: shutting down standalone networks (a decrease)', () => {
    const input: ImproveInput = {
      unit: 'C01', category: 'city',
      values: V({ systems_extranet: 0, systems_cloud: 0, catalogue_shared: 0, networks_private: 10, networks_standalone: 10, requests_on_time: 10, duties_with_data: 10 }),
    };
    const p = improvePath(scheme, input, { deadlinePassed: true, others: [] });
    expect(p.grade).to.equal('不合格');
    expect(p.target).to.equal('合格');
    const s = p.suggestions.find((x) => x.field === 'networks_standalone');
    // 25 + 20 × k/10 ≥ 60 is impossible (max 45) → no networks suggestion; I1 alone: 25×k/9 + 25 ≥ 60 ⇔ k ≥ 12.6 > 9.
    expect(s).to.equal(undefined);
    expect(p.suggestions).to.deep.equal([]);
    expect(p.note).to.equal('仅调整单项填报内容无法达到合格。');
  });

  it('already 优秀: no target', () => {
    const p = improvePath(scheme, { unit: 'D1', category: 'department', values: V({}) }, { deadlinePassed: true, others: Array.from({ length: 5 }, (_, i) => ({ unit: `D9${i}`, total: 50 })) });
    expect(p.grade).to.equal('优秀');
    expect(p.target).to.equal(null);
    expect(p.suggestions).to.deep.equal([]);
  });

  const arbValues: fc.Arbitrary<ReturnValues> = fc
    .record({ st: fc.integer({ min: 0, max: 30 }), np: fc.integer({ min: 0, max: 10 }), ci: fc.integer({ min: 0, max: 30 }), rr: fc.integer({ min: 0, max: 30 }), dt: fc.integer({ min: 0, max: 30 }) })
    .chain(({ st, np, ci, rr, dt }) =>
      fc.record({
        systems_total: fc.constant(st), systems_extranet: fc.integer({ min: 0, max: st }), systems_cloud: fc.integer({ min: 0, max: st }),
        networks_private: fc.constant(np), networks_standalone: fc.integer({ min: 0, max: np }),
        catalogue_items: fc.constant(ci), catalogue_shared: fc.integer({ min: 0, max: ci }),
        requests_received: fc.constant(rr), requests_on_time: fc.integer({ min: 0, max: rr }),
        duties_total: fc.constant(dt), duties_with_data: fc.integer({ min: 0, max: dt }),
      }),
    );
  const arbOthers = fc.array(fc.integer({ min: 0, max: 10000 }).map((x) => x / 100), { maxLength: 12 }).map((ts) => ts.map((total, i) => ({ unit: `U${String(i).padStart(3, '0')}`, total })));

  it('property: every suggestion re-scores to exactly its total and grade, and no smaller change of its field reaches the target', () => {
    fc.assert(
      fc.property(arbValues, fc.boolean(), arbOthers, (values, late, others) => {
        const input: ImproveInput = { unit: 'T001', category: 'county', values, late };
        const ctx: ImproveContext = { deadlinePassed: true, others };
        const p = improvePath(scheme, input, ctx);
        if (p.target === null) return;
        const target = p.target;
        const reaches = (r: { grade: Grade; band: Grade }) =>
          p.grade !== null && bandGrade(scheme, Rational.fromNumber(p.total!)) === '优秀' ? r.grade === '优秀' : GRADES.indexOf(r.band) <= GRADES.indexOf(target);
        for (const s of p.suggestions) {
          const a = IMPROVE_ACTIONS.find((x) => x.field === s.field)!;
          const k = Math.abs(s.change);
          const r = rescore(input, applyAction(a, values, k), ctx);
          expect(r.total).to.equal(s.total);
          expect(r.grade).to.equal(s.grade);
          expect(r.band).to.equal(s.bandGrade);
          expect(reaches(r)).to.equal(true);
          expect(Rational.fromNumber(s.total).sub(Rational.fromNumber(p.total!)).toNumber(2)).to.equal(s.points);
          for (let j = 1; j < k; j++) expect(reaches(rescore(input, applyAction(a, values, j), ctx))).to.equal(false);
        }
        // A field left out cannot reach the target with any change it allows.
        for (const a of IMPROVE_ACTIONS) {
          if (p.suggestions.some((s) => s.field === a.field)) continue;
          const room = a.direction === 1 ? values[a.bound!] - values[a.field] : values[a.field];
          if (room > 0) expect(reaches(rescore(input, applyAction(a, values, room), ctx))).to.equal(false);
        }
      }),
      { numRuns: 150 },
    );
  });
});
