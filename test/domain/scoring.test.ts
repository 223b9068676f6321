// Hand-worked examples for every quarterly scoring rule of SPEC §4 (default scheme v1).
import { expect } from 'chai';
import {
  DEFAULT_SCHEME,
  cloneScheme,
  scorePeriod,
  type AssessmentScheme,
  type UnitInput,
} from '../../server/domain/scoring/index.ts';
import { AppError } from '../../server/domain/errors.ts';
import { byUnit, perfect, unit, vals, worth } from './helpers.ts';

const score1 = (u: UnitInput, deadlinePassed = true, scheme: AssessmentScheme = DEFAULT_SCHEME) => {
  const s = scorePeriod(scheme, [u], { deadlinePassed });
  return { row: s.results[0]!, ex: s.explanations[0]! };
};

/** 10 systems (8 extranet, 5 cloud), 4 networks (1 standalone), 20/15 catalogue, 10/9 requests, 50/40 duties. */
const TYPICAL = vals({
  systems_total: 10,
  systems_extranet: 8,
  systems_cloud: 5,
  networks_private: 4,
  networks_standalone: 1,
  catalogue_items: 20,
  catalogue_shared: 15,
  requests_received: 10,
  requests_on_time: 9,
  duties_total: 50,
  duties_with_data: 40,
});

describe('scoring core — quarterly rules (hand-worked)', () => {
  it('scores every indicator with all weights applicable', () => {
    // I1 = 8/10 = 0.8   → 25 × 0.8  = 20
    // I2 = 15/20 = 0.75 → 20 × 0.75 = 15
    // I3 = (4−1)/4 = 0.75 → 20 × 0.75 = 15
    // I4 = 9/10 = 0.9   → 15 × 0.9  = 13.5
    // I5 = 5/10 = 0.5   → 10 × 0.5  = 5
    // I6 = 40/50 = 0.8  → 10 × 0.8  = 8
    // base = 76.5 × 100 / 100 = 76.5; no deduction; total 76.5 → 合格 (60 ≤ 76.5 < 80)
    const { row, ex } = score1(unit('D001', TYPICAL));
    expect(row.indicators).to.deep.equal({
      I1: { value: 0.8, score: 20, applicable: true },
      I2: { value: 0.75, score: 15, applicable: true },
      I3: { value: 0.75, score: 15, applicable: true },
      I4: { value: 0.9, score: 13.5, applicable: true },
      I5: { value: 0.5, score: 5, applicable: true },
      I6: { value: 0.8, score: 8, applicable: true },
    });
    expect(row.base).to.equal(76.5);
    expect(row.deductions).to.equal(0);
    expect(row.total).to.equal(76.5);
    expect(row.grade).to.equal('合格');
    expect(row.rank).to.equal(1);
    expect(row.rankChange).to.equal(null);
    expect(row.flags).to.deep.equal([]);
    expect(ex.status).to.equal('scored');
    expect(ex.redistributed).to.equal(false);
    expect(ex.indicators.map((i) => i.effectiveWeight)).to.deep.equal([25, 20, 20, 15, 10, 10]);
  });

  it('redistributes the weights of I1 and I5 when systems_total = 0', () => {
    // I1, I5 not applicable (信息系统总数 = 0); applicable weights 20+20+15+10 = 65
    // scores: I2 15, I3 15, I4 13.5, I6 8 → Σ 51.5
    // base = 51.5 × 100 / 65 = 5150/65 = 79.230769… → total 79.23 → 合格 (< 80)
    const { row, ex } = score1(unit('D001', { ...TYPICAL, systems_total: 0, systems_extranet: 0, systems_cloud: 0 }));
    expect(row.indicators.I1).to.deep.equal({ value: null, score: null, applicable: false });
    expect(row.indicators.I5).to.deep.equal({ value: null, score: null, applicable: false });
    expect(row.base).to.equal(79.23);
    expect(row.total).to.equal(79.23);
    expect(row.grade).to.equal('合格');
    expect(ex.redistributed).to.equal(true);
    expect(ex.applicableWeight).to.equal(65);
    expect(ex.baseExact).to.equal('1030/13'); // 5150/65 reduced
    // effective weight of I2 = 20 × 100 / 65 = 30.769230… → 30.7692
    expect(ex.indicators.find((i) => i.id === 'I2')!.effectiveWeight).to.equal(30.7692);
    expect(ex.indicators.find((i) => i.id === 'I1')!.effectiveWeight).to.equal(null);
    // I2 contributes 15 × 100 / 65 = 23.0769… → 23.08 points
    expect(ex.indicators.find((i) => i.id === 'I2')!.contribution).to.equal(23.08);
    expect(ex.redistributionText).to.contain('I1、I5');
  });

  it('treats zero denominators as not applicable except I3, where networks_private = 0 gives value 1', () => {
    // catalogue_items = requests_received = duties_total = 0 → I2, I4, I6 not applicable
    // networks_private = 0 → I3 value 1 → 20 × 1 = 20
    // I1 = 8/10 → 20; I5 = 5/10 → 5; applicable weights 25+20+10 = 55
    // base = (20 + 20 + 5) × 100 / 55 = 4500/55 = 81.8181… → 81.82 → 良好
    const { row, ex } = score1(unit('D001', vals({ systems_total: 10, systems_extranet: 8, systems_cloud: 5 })));
    expect(row.indicators.I2!.applicable).to.equal(false);
    expect(row.indicators.I4!.applicable).to.equal(false);
    expect(row.indicators.I6!.applicable).to.equal(false);
    expect(row.indicators.I3).to.deep.equal({ value: 1, score: 20, applicable: true });
    expect(row.total).to.equal(81.82);
    expect(row.grade).to.equal('良好');
    const i3 = ex.indicators.find((i) => i.id === 'I3')!;
    expect(i3.note).to.contain('取值 1');
    expect(i3.formula).to.equal('(业务专网总数 − 仍独立运行的业务专网数) ÷ 业务专网总数');
  });

  it('I3 with every private network still standalone scores 0', () => {
    // networks 5, standalone 5 → I3 = 0/5 = 0 → 0; only I3 applicable → base 0 × 100 / 20 = 0 → 不合格
    const { row } = score1(unit('D001', vals({ networks_private: 5, networks_standalone: 5 })));
    expect(row.indicators.I3).to.deep.equal({ value: 0, score: 0, applicable: true });
    expect(row.total).to.equal(0);
    expect(row.grade).to.equal('不合格');
  });

  it('a unit with no applicable indicator is not scored, not graded, not ranked', () => {
    // A scheme where I3 is also not applicable when networks_private = 0; an all-zero return then has none.
    const scheme = cloneScheme(DEFAULT_SCHEME);
    const i3 = scheme.indicators.find((i) => i.id === 'I3')!;
    i3.notApplicableWhen = { zero: { add: ['networks_private'] } };
    i3.zeroDenominatorValue = null;
    const s = scorePeriod(scheme, [unit('D001', vals()), unit('D002', worth(50))], { deadlinePassed: true });
    const r = byUnit(s.results);
    expect(r.D001).to.include({ base: null, deductions: null, total: null, grade: null, rank: null, rankChange: null });
    expect(Object.values(r.D001!.indicators).every((i) => !i.applicable)).to.equal(true);
    expect(r.D002!.rank).to.equal(1);
    expect(s.explanations.find((e) => e.unit === 'D001')!.status).to.equal('not_scored');
  });

  it('deducts 2 points for a late return and flags it', () => {
    // TYPICAL: base 76.5; late − 2 → 74.5
    const { row, ex } = score1(unit('D001', TYPICAL, { late: true }));
    expect(row).to.include({ base: 76.5, deductions: 2, total: 74.5, grade: '合格' });
    expect(row.flags).to.deep.equal(['late']);
    expect(ex.deductions).to.deep.equal([{ rule: 'late', label: '逾期报送', points: 2 }]);
  });

  it('a late deduction below 0 gives total 0', () => {
    // systems 10, none on the extranet or cloud; 2 networks both standalone; rest not applicable
    // I1 0, I3 0, I5 0 → base 0; 0 − 2 = −2 → max(0, −2) = 0
    const { row, ex } = score1(unit('D001', vals({ systems_total: 10, networks_private: 2, networks_standalone: 2 }), { late: true }));
    expect(row).to.include({ base: 0, deductions: 2, total: 0, grade: '不合格' });
    expect(ex.roundingText).to.contain('不足 0 按 0 计');
    // base 1 (I3 = 1/20 of …) − 2 also clamps: systems 100, 4 extranet → I1 0.04 × 25 = 1; I3 value 0; I5 0
    // base = 1 × 100 / 55 = 1.8181… ; − 2 < 0 → 0
    const { row: r2 } = score1(
      unit('D002', vals({ systems_total: 100, systems_extranet: 4, networks_private: 1, networks_standalone: 1 }), { late: true }),
    );
    expect(r2.base).to.equal(1.82);
    expect(r2.total).to.equal(0);
  });

  it('rounds half-up only at the end (exact x.xx5)', () => {
    // I1 = 18/25 = 0.72 → 18;  I2 = 4/4 → 20;  I3 = 13/16 = 0.8125 → 16.25
    // I4 = 7/8 = 0.875 → 13.125;  I5 = 2/25 = 0.08 → 0.8;  I6 = 14/25 = 0.56 → 5.6
    // Σ = 73.775 exactly → half-up 73.78 (naive doubles: 73.775 is 73.77499… → Math.round gives 73.77)
    const v = vals({
      systems_total: 25,
      systems_extranet: 18,
      systems_cloud: 2,
      networks_private: 16,
      networks_standalone: 3,
      catalogue_items: 4,
      catalogue_shared: 4,
      requests_received: 8,
      requests_on_time: 7,
      duties_total: 25,
      duties_with_data: 14,
    });
    const { row, ex } = score1(unit('D001', v));
    expect(ex.totalExact).to.equal('73.775');
    expect(row.total).to.equal(73.78);
    // I4's own score 13.125 is shown half-up as 13.13 but the total uses the exact 13.125
    expect(row.indicators.I4!.score).to.equal(13.13);
    // The naive way differs, which is why the core is exact:
    const naive = 25 * (18 / 25) + 20 + 20 * (13 / 16) + 15 * (7 / 8) + 10 * (2 / 25) + 10 * (14 / 25);
    expect(Math.round(naive * 100) / 100).to.equal(73.77);
  });

  it('exact half-up moves 89.995 across the 优秀 line where floating point would not', () => {
    // systems 1000: 999 extranet, 2 cloud; everything else perfect
    // I1 = 0.999 → 25 × 0.999 = 24.975;  I5 = 0.002 → 10 × 0.002 = 0.02
    // I2 20 + I3 20 + I4 15 + I6 10 = 65;  Σ = 65 + 24.975 + 0.02 = 89.995 → half-up 90.00 → 优秀
    const v = perfect({ systems_total: 1000, systems_extranet: 999, systems_cloud: 2 });
    // four more units so that the 优秀 cap (floor(0.3 × 5) = 1) leaves room for one
    const others = ['D002', 'D003', 'D004', 'D005'].map((c) => unit(c, worth(50)));
    const s = scorePeriod(DEFAULT_SCHEME, [unit('D001', v), ...others], { deadlinePassed: true });
    const r = byUnit(s.results).D001!;
    expect(s.explanations.find((e) => e.unit === 'D001')!.totalExact).to.equal('89.995');
    expect(r.total).to.equal(90);
    expect(r.grade).to.equal('优秀');
    // Floating point: (25·0.999 + 20 + 20 + 15 + 10·0.002 + 10) × 100 / 100 = 89.99499999999998 → 89.99 (良好)
    const naive = ((25 * (999 / 1000) + 20 * 1 + 20 * 1 + 15 * 1 + 10 * (2 / 1000) + 10 * 1) * 100) / 100;
    expect(naive).to.be.below(89.995);
    expect(Math.round(naive * 100) / 100).to.equal(89.99);
  });

  it('rounds 0.004999… down (no double rounding through indicator scores)', () => {
    // I4 = 1/3 → 15 × 1/3 = 5 (exact); I1 = 1/3 → 25/3 = 8.333…; others perfect: 20+20+10+10 = 60
    // Σ = 60 + 5 + 25/3 = 73.333… → 73.33; I1 score shown 8.33
    const v = perfect({ systems_total: 3, systems_extranet: 1, systems_cloud: 3, requests_received: 3, requests_on_time: 1 });
    const { row, ex } = score1(unit('D001', v));
    expect(row.indicators.I1).to.deep.equal({ value: 0.3333, score: 8.33, applicable: true });
    expect(row.indicators.I4).to.deep.equal({ value: 0.3333, score: 5, applicable: true });
    expect(ex.totalExact).to.equal('220/3');
    expect(row.total).to.equal(73.33);
  });

  it('honours floor and target from the scheme', () => {
    // I1 floor 0.5, target 0.9: I1 = 0.8 → (0.8 − 0.5)/(0.9 − 0.5) = 0.75 → 25 × 0.75 = 18.75
    // I5 floor 0.6: I5 = 0.5 → clamp(−0.25, 0, 1) = 0 → 0
    // TYPICAL base changes from 76.5 to 76.5 − 20 + 18.75 − 5 + 0 = 70.25
    const scheme = cloneScheme(DEFAULT_SCHEME);
    scheme.indicators[0]!.floor = 0.5;
    scheme.indicators[0]!.target = 0.9;
    scheme.indicators[4]!.floor = 0.6;
    const { row } = score1(unit('D001', TYPICAL), true, scheme);
    expect(row.indicators.I1).to.deep.equal({ value: 0.8, score: 18.75, applicable: true });
    expect(row.indicators.I5).to.deep.equal({ value: 0.5, score: 0, applicable: true });
    expect(row.total).to.equal(70.25);
  });

  describe('missing, rejected, pending', () => {
    it('no return after the deadline: total 0, 不合格, ranked, flag missing', () => {
      // D001 100, D002 missing → 0, D003 0 (scored) → D002 and D003 share rank 2
      const s = scorePeriod(
        DEFAULT_SCHEME,
        [unit('D001', perfect()), unit('D002', null), unit('D003', vals({ networks_private: 1, networks_standalone: 1 }))],
        { deadlinePassed: true },
      );
      const r = byUnit(s.results);
      expect(r.D002).to.include({ base: null, deductions: 0, total: 0, grade: '不合格', rank: 2 });
      expect(r.D002!.flags).to.deep.equal(['missing']);
      expect(r.D003).to.include({ total: 0, rank: 2 });
      expect(r.D003!.flags).to.deep.equal([]);
    });

    it('a rejected latest revision is no usable return (missing after the deadline)', () => {
      const { row } = score1(unit('D001', perfect(), { rejected: true, late: true }));
      expect(row).to.include({ total: 0, grade: '不合格', rank: 1 });
      expect(row.flags).to.deep.equal(['missing']);
      expect(row.indicators.I1).to.deep.equal({ value: null, score: null, applicable: false });
    });

    it('before the deadline a unit without usable return is pending: not scored, not ranked', () => {
      const s = scorePeriod(
        DEFAULT_SCHEME,
        [unit('D001', worth(70)), unit('D002', null), unit('D003', perfect(), { rejected: true })],
        { deadlinePassed: false },
      );
      const r = byUnit(s.results);
      expect(r.D001).to.include({ total: 70, rank: 1, grade: '合格' });
      for (const c of ['D002', 'D003']) {
        expect(r[c]).to.include({ base: null, deductions: null, total: null, grade: null, rank: null });
        expect(r[c]!.flags).to.deep.equal(['pending']);
      }
      expect(s.explanations.find((e) => e.unit === 'D003')!.summary).to.contain('退回');
    });

    it('leaves inactive units out entirely', () => {
      const s = scorePeriod(DEFAULT_SCHEME, [unit('D001', worth(70)), unit('D002', null, { active: false })], { deadlinePassed: true });
      expect(s.results.map((r) => r.unit)).to.deep.equal(['D001']);
    });
  });

  describe('ranks, grades and the 优秀 cap', () => {
    it('equal totals share a rank (1, 2, 2, 4), per category', () => {
      const s = scorePeriod(
        DEFAULT_SCHEME,
        [
          unit('D001', worth(90)),
          unit('D002', worth(80)),
          unit('D003', worth(80)),
          unit('D004', worth(70)),
          unit('C001', worth(10), {}, 'city'),
          unit('C002', worth(20), {}, 'city'),
        ],
        { deadlinePassed: true },
      );
      expect(s.results.map((r) => [r.unit, r.total, r.rank])).to.deep.equal([
        ['D001', 90, 1],
        ['D002', 80, 2],
        ['D003', 80, 2],
        ['D004', 70, 4],
        ['C002', 20, 1],
        ['C001', 10, 2],
      ]);
    });

    it('ties with equal rounded totals share a rank even if the exact totals differ', () => {
      // a: I1 = 1/3 → 25/3 = 8.333…; I4 = 1/3 → 5; I2 20 + I3 20 + I5 10 + I6 10 = 60 → 220/3 = 73.333… → 73.33
      // b: I1 = 3332/10000 → 25 × 0.3332 = 8.33; I4 = 1/3 → 5; others 60 → 73.33 exactly
      // Ranks compare the published (rounded) totals, so both are rank 1.
      const a = perfect({ systems_total: 3, systems_extranet: 1, systems_cloud: 3, requests_received: 3, requests_on_time: 1 });
      const b = perfect({ systems_total: 10000, systems_extranet: 3332, systems_cloud: 10000, requests_received: 3, requests_on_time: 1 });
      const s = scorePeriod(DEFAULT_SCHEME, [unit('D001', a), unit('D002', b)], { deadlinePassed: true });
      expect(s.explanations.map((e) => e.totalExact)).to.deep.equal(['220/3', '73.33']);
      expect(s.results.map((r) => [r.unit, r.total, r.rank])).to.deep.equal([
        ['D001', 73.33, 1],
        ['D002', 73.33, 1],
      ]);
    });

    it('caps 优秀 at floor(0.3 × ranked units), ties at the boundary broken by unit code', () => {
      // 10 ranked departments → cap = floor(3) = 3. Four tie at 95 (rank 1); codes given out of order.
      // In (rank, code) order: D001, D002, D003 keep 优秀; D004 (also rank 1) gets 良好.
      const top = ['D004', 'D002', 'D003', 'D001'].map((c) => unit(c, worth(95)));
      const rest = ['D005', 'D006', 'D007', 'D008', 'D009', 'D010'].map((c) => unit(c, worth(50)));
      const s = scorePeriod(DEFAULT_SCHEME, [...top, ...rest], { deadlinePassed: true });
      const r = byUnit(s.results);
      expect(['D001', 'D002', 'D003', 'D004'].map((c) => [c, r[c]!.rank, r[c]!.grade])).to.deep.equal([
        ['D001', 1, '优秀'],
        ['D002', 1, '优秀'],
        ['D003', 1, '优秀'],
        ['D004', 1, '良好'],
      ]);
      const ex = s.explanations.find((e) => e.unit === 'D004')!;
      expect(ex).to.include({ bandGrade: '优秀', grade: '良好', cappedByQuota: true });
      expect(ex.gradeText).to.contain('优秀名额为 3 个');
      expect(r.D005!.grade).to.equal('不合格');
    });

    it('the cap follows rank order first: a higher total keeps 优秀 over a smaller code', () => {
      // 7 units → cap floor(2.1) = 2. E009 98 (rank 1), E001 95, E002 95 (rank 2) → E009, E001 优秀; E002 良好
      const s = scorePeriod(
        DEFAULT_SCHEME,
        [
          unit('E002', worth(95)),
          unit('E001', worth(95)),
          unit('E009', worth(98)),
          ...['E003', 'E004', 'E005', 'E006'].map((c) => unit(c, worth(60))),
        ].map((u) => ({ ...u, category: 'county' as const })),
        { deadlinePassed: true },
      );
      const r = byUnit(s.results);
      expect([r.E009!.grade, r.E001!.grade, r.E002!.grade]).to.deep.equal(['优秀', '优秀', '良好']);
    });

    it('with three ranked units the cap is floor(0.9) = 0: nobody is 优秀', () => {
      const s = scorePeriod(
        DEFAULT_SCHEME,
        ['C001', 'C002', 'C003'].map((c) => unit(c, perfect(), {}, 'city')),
        { deadlinePassed: true },
      );
      expect(s.results.map((r) => [r.total, r.rank, r.grade])).to.deep.equal([
        [100, 1, '良好'],
        [100, 1, '良好'],
        [100, 1, '良好'],
      ]);
    });

    it('counts missing units but not pending or unscored units as ranked for the cap', () => {
      // Deadline passed: D001 95, D002 – D004 missing (ranked with 0) → 4 ranked → cap floor(1.2) = 1 → D001 优秀
      const s1 = scorePeriod(
        DEFAULT_SCHEME,
        [unit('D001', worth(95)), unit('D002', null), unit('D003', null), unit('D004', null)],
        { deadlinePassed: true },
      );
      expect(byUnit(s1.results).D001!.grade).to.equal('优秀');
      // Before the deadline the same three are pending → 1 ranked → cap 0 → D001 良好
      const s2 = scorePeriod(
        DEFAULT_SCHEME,
        [unit('D001', worth(95)), unit('D002', null), unit('D003', null), unit('D004', null)],
        { deadlinePassed: false },
      );
      expect(byUnit(s2.results).D001!.grade).to.equal('良好');
    });

    it('grade bands: 90 优秀, 89.99 良好, 80 良好, 79.99 合格, 60 合格, 59.99 不合格', () => {
      // A perfect return (base 100) with a late deduction of d gives total 100 − d:
      // d = 10 → 90 优秀; 10.01 → 89.99 良好; 20 → 80 良好; 20.01 → 79.99 合格; 40 → 60 合格; 40.01 → 59.99 不合格.
      const scheme = cloneScheme(DEFAULT_SCHEME);
      scheme.excellentQuota = 1; // cap out of the way
      const make = (code: string, late: number) => {
        const sc = cloneScheme(scheme);
        sc.deductions.late = late;
        return scorePeriod(sc, [unit(code, perfect(), { late: true })], { deadlinePassed: true }).results[0]!;
      };
      expect([make('A', 10), make('A', 10.01), make('A', 20), make('A', 20.01), make('A', 40), make('A', 40.01)].map((r) => [r.total, r.grade])).to.deep.equal([
        [90, '优秀'],
        [89.99, '良好'],
        [80, '良好'],
        [79.99, '合格'],
        [60, '合格'],
        [59.99, '不合格'],
      ]);
    });
  });

  describe('rank change', () => {
    it('is previous rank − this rank; null when either is missing or the category changed', () => {
      // This quarter: D001 1, D002 2, D003 3; D004 pending (no rank)
      // Previous: D001 3 → +2; D002 2 → 0; D003 1 → −2; D004 1 (but unranked now) → null; D005 new → null
      const s = scorePeriod(
        DEFAULT_SCHEME,
        [unit('D001', worth(90)), unit('D002', worth(80)), unit('D003', worth(70)), unit('D004', null), unit('C005', worth(70), {}, 'city')],
        {
          deadlinePassed: false,
          previous: [
            { unit: 'D001', rank: 3 },
            { unit: 'D002', rank: 2 },
            { unit: 'D003', rank: 1 },
            { unit: 'D004', rank: 1 },
            { unit: 'C005', category: 'department', rank: 4 },
          ],
        },
      );
      const r = byUnit(s.results);
      expect([r.D001, r.D002, r.D003, r.D004, r.C005].map((x) => x!.rankChange)).to.deep.equal([2, 0, -2, null, null]);
      expect(s.explanations.find((e) => e.unit === 'D001')!.rankText).to.contain('上升 2 位');
      // previous unranked (null) → null
      const s2 = scorePeriod(DEFAULT_SCHEME, [unit('D001', worth(90))], { deadlinePassed: true, previous: [{ unit: 'D001', rank: null }] });
      expect(s2.results[0]!.rankChange).to.equal(null);
    });
  });

  describe('output', () => {
    it('orders rows by category, rank, code and records the scheme version', () => {
      const scheme = { ...cloneScheme(DEFAULT_SCHEME), version: 7 };
      const s = scorePeriod(
        scheme,
        [
          unit('X9', worth(50), {}, 'county'),
          unit('C2', worth(50), {}, 'city'),
          unit('D2', null),
          unit('D1', worth(40)),
          unit('D3', worth(40)),
        ],
        { deadlinePassed: false },
      );
      expect(s.schemeVersion).to.equal(7);
      expect(s.results.map((r) => r.unit)).to.deep.equal(['D1', 'D3', 'D2', 'C2', 'X9']);
      expect(s.explanations.map((e) => e.unit)).to.deep.equal(['D1', 'D3', 'D2', 'C2', 'X9']);
    });

    it('explains the arithmetic of each indicator in Chinese', () => {
      const { ex } = score1(unit('D001', TYPICAL, { late: true }));
      const i1 = ex.indicators[0]!;
      expect(i1).to.include({ id: 'I1', name: '外网接入率', formula: '已接入电子政务外网的系统数 ÷ 信息系统总数', numerator: 8, denominator: 10 });
      expect(i1.inputs).to.deep.equal([
        { field: 'systems_total', label: '信息系统总数', value: 10 },
        { field: 'systems_extranet', label: '已接入电子政务外网的系统数', value: 8 },
      ]);
      expect(i1.text).to.equal('取值 = 8 ÷ 10 = 0.8；得分 = 25 × clamp((0.8 − 0) ÷ (1 − 0), 0, 1) = 20');
      expect(i1.applicabilityRule).to.equal('信息系统总数为 0 时不适用');
      expect(ex.baseText).to.equal('基础分 = (20 + 15 + 15 + 13.5 + 5 + 8) × 100 ÷ 100 = 76.5');
      expect(ex.roundingText).to.equal('总分 = max(0, 76.5 − 2) = 74.5，四舍五入保留两位小数为 74.50');
    });

    it('rejects duplicate units and invalid values with Chinese errors', () => {
      expect(() => scorePeriod(DEFAULT_SCHEME, [unit('D1', null), unit('D1', null)], { deadlinePassed: true }))
        .to.throw(AppError, '重复')
        .with.property('code', 'duplicate_unit');
      expect(() => scorePeriod(DEFAULT_SCHEME, [unit('D1', vals({ systems_total: -1 }))], { deadlinePassed: true }))
        .to.throw(AppError, '信息系统总数')
        .with.property('code', 'invalid_return_values');
    });
  });
});
