// The scheme as data: the seeded v1, validation messages for the admin editor, what-if diff, Rational.
import { expect } from 'chai';
import {
  DEFAULT_SCHEME,
  Rational,
  assertValidScheme,
  cloneScheme,
  diffResults,
  formulaText,
  scorePeriod,
  validateScheme,
} from '../../server/domain/scoring/index.ts';
import { AppError } from '../../server/domain/errors.ts';
import { byUnit, unit, worth } from './helpers.ts';

const messages = (input: unknown) => {
  const v = validateScheme(input);
  return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
};

describe('scoring core — scheme', () => {
  it('DEFAULT_SCHEME is v1 exactly as SPEC §4', () => {
    const s = DEFAULT_SCHEME;
    expect(s.version).to.equal(1);
    expect(s.indicators.map((i) => [i.id, i.name, i.weight, i.floor, i.target])).to.deep.equal([
      ['I1', '外网接入率', 25, 0, 1],
      ['I2', '目录共享率', 20, 0, 1],
      ['I3', '专网整合率', 20, 0, 1],
      ['I4', '共享申请按时响应率', 15, 0, 1],
      ['I5', '政务云部署率', 10, 0, 1],
      ['I6', '职责数据支撑率', 10, 0, 1],
    ]);
    expect(s.indicators.map((i) => [i.numerator, i.denominator, i.notApplicableWhen, i.zeroDenominatorValue])).to.deep.equal([
      [{ add: ['systems_extranet'] }, { add: ['systems_total'] }, { zero: { add: ['systems_total'] } }, null],
      [{ add: ['catalogue_shared'] }, { add: ['catalogue_items'] }, { zero: { add: ['catalogue_items'] } }, null],
      [{ add: ['networks_private'], subtract: ['networks_standalone'] }, { add: ['networks_private'] }, null, 1],
      [{ add: ['requests_on_time'] }, { add: ['requests_received'] }, { zero: { add: ['requests_received'] } }, null],
      [{ add: ['systems_cloud'] }, { add: ['systems_total'] }, { zero: { add: ['systems_total'] } }, null],
      [{ add: ['duties_with_data'] }, { add: ['duties_total'] }, { zero: { add: ['duties_total'] } }, null],
    ]);
    expect(s.grades).to.deep.equal([
      { grade: '优秀', min: 90 },
      { grade: '良好', min: 80 },
      { grade: '合格', min: 60 },
      { grade: '不合格', min: 0 },
    ]);
    expect(s.excellentQuota).to.equal(0.3);
    expect(s.deductions).to.deep.equal({ late: 2 });
    expect(s.accountability).to.deep.equal({
      A1: { enabled: true, dueDays: 30 },
      A2: { enabled: true },
      A3: { enabled: true, minRankedUnits: 3, consecutiveQuarters: 2 },
    });
    expect(formulaText(s.indicators[0]!)).to.equal('已接入电子政务外网的系统数 ÷ 信息系统总数');
  });

  it('validates the default scheme and survives a JSON round trip', () => {
    const v = validateScheme(JSON.parse(JSON.stringify(DEFAULT_SCHEME)));
    expect(v.ok).to.equal(true);
    expect(v.scheme).to.deep.equal(DEFAULT_SCHEME);
    expect(assertValidScheme(cloneScheme(DEFAULT_SCHEME))).to.deep.equal(DEFAULT_SCHEME);
  });

  it('lists every problem with a Chinese message', () => {
    const s = cloneScheme(DEFAULT_SCHEME) as unknown as Record<string, any>;
    s.version = 0;
    s.indicators[0].weight = 0;
    s.indicators[1].weight = -3;
    s.indicators[2].floor = 0.8;
    s.indicators[2].target = 0.5;
    s.indicators[3].numerator = { add: ['requests_late'] };
    s.indicators[4].id = 'I1';
    s.grades[2].min = 85;
    s.excellentQuota = 1.2;
    s.deductions.late = -1;
    s.accountability.A3.minRankedUnits = 1.5;
    expect(messages(s)).to.deep.equal([
      'version: 方案版本号不能小于 1',
      'indicators[0].weight: 指标 I1 的权重必须大于 0',
      'indicators[1].weight: 指标 I2 的权重必须大于 0',
      'indicators[2].floor: 指标 I3 的起评值必须小于目标值',
      'indicators[3].numerator.add[0]: 指标 I4 的分子引用了未知的填报指标“requests_late”',
      'indicators[4].id: 指标编号 I1 重复',
      'grades[2].min: 等级分数线必须从高到低递减：“合格”的分数线应低于上一档',
      'excellentQuota: 优秀比例必须在 0 到 1 之间',
      'deductions.late: 逾期报送扣分不能为负数',
      'accountability.A3.minRankedUnits: A3 类别最少排名单位数必须是整数',
    ]);
    expect(() => assertValidScheme(s)).to.throw(AppError, '考核方案有误').with.property('code', 'invalid_scheme');
  });

  it('refuses wrong shapes: non-object, wrong grade list, non-numbers, empty indicators', () => {
    expect(messages(null)).to.deep.equal([': 考核方案必须是一个对象']);
    const s = cloneScheme(DEFAULT_SCHEME) as unknown as Record<string, any>;
    s.indicators = [];
    s.grades = [{ grade: '优秀', min: 90 }];
    s.excellentQuota = '0.3';
    expect(messages(s)).to.deep.equal([
      'indicators: 至少需要一个考核指标',
      'grades: 等级档次必须依次为 优秀、良好、合格、不合格',
      'excellentQuota: 优秀比例必须是数字',
    ]);
    const t = cloneScheme(DEFAULT_SCHEME) as unknown as Record<string, any>;
    t.grades[3].min = 10;
    t.indicators[0].denominator = { add: [] };
    t.indicators[0].target = 1.5;
    expect(messages(t)).to.deep.equal([
      'indicators[0].denominator: 指标 I1 的分母至少需要一个填报指标',
      'indicators[0].target: 指标 I1 的目标值必须在 0 到 1 之间',
      'grades[3].min: “不合格”的分数线必须为 0',
    ]);
  });

  it('accepts an edited scheme (new weights, custom formula) and scoring uses it', () => {
    const s = cloneScheme(DEFAULT_SCHEME);
    s.version = 2;
    s.indicators[0]!.weight = 30.5;
    s.indicators.push({
      id: 'I7',
      name: '外网与云综合率',
      numerator: { add: ['systems_extranet', 'systems_cloud'] },
      denominator: { add: ['systems_total', 'systems_total'] },
      notApplicableWhen: { zero: { add: ['systems_total'] } },
      zeroDenominatorValue: null,
      weight: 5,
      floor: 0,
      target: 1,
    });
    const v = validateScheme(s);
    expect(v.ok, JSON.stringify(v.errors)).to.equal(true);
    expect(formulaText(v.scheme!.indicators[6]!)).to.equal('(已接入电子政务外网的系统数 + 已部署政务云的系统数) ÷ (信息系统总数 + 信息系统总数)');
    // worth(60): every ratio 0.6 → base = 0.6 × 100 regardless of weights = 60
    const r = scorePeriod(v.scheme!, [unit('D1', worth(60))], { deadlinePassed: true });
    expect(r.results[0]!.indicators.I7).to.deep.equal({ value: 0.6, score: 3, applicable: true });
    expect(r.results[0]!.total).to.equal(60);
    expect(r.schemeVersion).to.equal(2);
  });
});

describe('scoring core — what-if diff', () => {
  it('reports per unit old/new total, grade and rank', () => {
    // before (v1): D1 worth 92 → 92, D2 worth 85 → 85, D3 worth 60 → 60, D4 → 50 (cap floor(1.2) = 1 → D1 优秀)
    // after: late deduction raised to 10 on D2's late return, and D1 late too: D1 82, D2 75 → ranks shift
    const units = [unit('D1', worth(92), { late: true }), unit('D2', worth(85), { late: true }), unit('D3', worth(79)), unit('D4', worth(50))];
    const before = scorePeriod(DEFAULT_SCHEME, units, { deadlinePassed: true }).results;
    const edited = cloneScheme(DEFAULT_SCHEME);
    edited.deductions.late = 10;
    const after = scorePeriod(edited, units, { deadlinePassed: true }).results;
    // before: D1 90 (优秀), D2 83 (良好), D3 79, D4 50 → ranks 1..4
    // after:  D1 82 (良好), D2 75 (合格), D3 79 (合格) → D1 1, D3 2, D2 3, D4 4
    const d = diffResults(before, after);
    const by = Object.fromEntries(d.rows.map((r) => [r.unit, r]));
    expect(by.D1).to.deep.include({ before: { total: 90, grade: '优秀', rank: 1 }, after: { total: 82, grade: '良好', rank: 1 }, totalDelta: -8, gradeChanged: true, rankDelta: 0, changed: true });
    expect(by.D2).to.deep.include({ totalDelta: -8, gradeChanged: true, rankDelta: -1 });
    expect(by.D3).to.deep.include({ totalDelta: 0, gradeChanged: false, rankDelta: 1, changed: true });
    expect(by.D4).to.deep.include({ totalDelta: 0, gradeChanged: false, rankDelta: 0, changed: false });
    expect(d.summary).to.deep.equal({
      units: 4,
      changedTotals: 2,
      changedGrades: 2,
      changedRanks: 2,
      gradeCounts: {
        before: { 优秀: 1, 良好: 1, 合格: 1, 不合格: 1 },
        after: { 优秀: 0, 良好: 1, 合格: 2, 不合格: 1 },
      },
    });
    expect(d.rows.map((r) => r.unit)).to.deep.equal(['D1', 'D3', 'D2', 'D4']);
  });

  it('handles units present on one side only and exact deltas', () => {
    const a = [{ unit: 'D1', name: 'a', category: 'city' as const, total: 0.3, grade: '不合格' as const, rank: 1 }];
    const b = [
      { unit: 'D1', name: 'a', category: 'city' as const, total: 0.1, grade: '不合格' as const, rank: 2 },
      { unit: 'D2', name: 'b', category: 'city' as const, total: 50, grade: '不合格' as const, rank: 1 },
    ];
    const d = diffResults(a, b);
    // 0.1 − 0.3 = −0.2 exactly (doubles would say −0.19999999999999998)
    expect(byUnit(d.rows as never).D1).to.deep.include({ totalDelta: -0.2, rankDelta: -1 });
    expect(d.rows.find((r) => r.unit === 'D2')).to.deep.include({ before: null, totalDelta: null, rankDelta: null, gradeChanged: true, changed: true });
  });
});

describe('scoring core — Rational', () => {
  it('rounds half-up exactly and prints exact values', () => {
    expect(Rational.of(89995, 1000).toFixed(2)).to.equal('90.00');
    expect(Rational.of(-89995, 1000).toFixed(2)).to.equal('-90.00');
    expect(Rational.of(1, 3).toFixed(4)).to.equal('0.3333');
    expect(Rational.of(2, 3).toFixed(4)).to.equal('0.6667');
    expect(Rational.of(1, 200).toFixed(2)).to.equal('0.01');
    expect(Rational.of(1, 201).toFixed(2)).to.equal('0.00');
    expect(Rational.fromNumber(0.1).add(Rational.fromNumber(0.2)).eq(Rational.fromNumber(0.3))).to.equal(true);
    expect(Rational.fromNumber(1.005).toFixed(2)).to.equal('1.01'); // (1.005).toFixed(2) === '1.00'
    expect(Rational.of(220, 3).toExactString()).to.equal('220/3');
    expect(Rational.of(-7, 2).floor()).to.equal(-4n);
    expect(Rational.of(9, 10).floor()).to.equal(0n);
    expect(() => Rational.fromNumber(Number.NaN)).to.throw(RangeError);
  });
});
