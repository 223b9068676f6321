// Hand-worked examples: annual results, accountability rules A1–A3, case status, merit eligibility.
import { expect } from 'chai';
import {
  DEFAULT_SCHEME,
  casesToMarkOverdue,
  casesToOpen,
  cloneScheme,
  dueDate,
  effectiveStatus,
  lastInCategory,
  meritEligibility,
  scoreYear,
  transitionCase,
  wasOverdue,
  type CaseLike,
  type PublishedRow,
  type QuarterRow,
} from '../../server/domain/scoring/index.ts';
import { AppError } from '../../server/domain/errors.ts';
import type { UnitCategory } from '../../server/domain/fields.ts';

const q = (unit: string, total: number | null, grade: QuarterRow['grade'] = null): QuarterRow => ({ unit, total, grade });
const u = (code: string, category: UnitCategory = 'department') => ({ unit: code, name: `单位${code}`, category });

describe('scoring core — annual results', () => {
  it('is the mean of the four quarterly totals, a quarter with no total counting 0', () => {
    // D001: 90 + 85.5 + (none) + 80.01 = 255.51 → / 4 = 63.8775 → 63.88
    // D002: 70 + 70 + 70 + 70 = 280 → 70
    const res = scoreYear(DEFAULT_SCHEME, {
      year: 2026,
      units: [u('D001'), u('D002')],
      quarters: {
        '2026Q1': [q('D001', 90, '优秀'), q('D002', 70, '合格')],
        '2026Q2': [q('D001', 85.5, '良好'), q('D002', 70, '合格')],
        '2026Q3': [q('D001', null), q('D002', 70, '合格')],
        '2026Q4': [q('D001', 80.01, '良好'), q('D002', 70, '合格')],
      },
    });
    expect(res.map((r) => [r.unit, r.total, r.totalExact, r.rank, r.grade])).to.deep.equal([
      ['D002', 70, '70', 1, '合格'],
      ['D001', 63.88, '63.8775', 2, '合格'],
    ]);
    expect(res.find((r) => r.unit === 'D001')!.quarters).to.deep.equal({ '2026Q1': 90, '2026Q2': 85.5, '2026Q3': null, '2026Q4': 80.01 });
  });

  it('a quarter absent altogether counts 0 for everyone; units never assessed in the year are left out', () => {
    // D001: only Q1 = 100 → 100 / 4 = 25 → 不合格; D003 appears nowhere → no annual row
    const res = scoreYear(DEFAULT_SCHEME, {
      year: 2026,
      units: [u('D001'), u('D003'), { ...u('D004'), active: false }],
      quarters: { '2026Q1': [q('D001', 100, '良好'), q('D004', 100, '良好')], '2025Q4': [q('D003', 100, '良好')] },
    });
    expect(res.map((r) => [r.unit, r.total, r.grade])).to.deep.equal([['D001', 25, '不合格']]);
  });

  it('rounds the mean half-up exactly (80.005 → 80.01, where doubles give 80.00)', () => {
    // (80.02 + 80 + 80 + 80) / 4 = 320.02 / 4 = 80.005 → 80.01
    const res = scoreYear(DEFAULT_SCHEME, {
      year: 2026,
      units: [u('D001')],
      quarters: { '2026Q1': [q('D001', 80.02)], '2026Q2': [q('D001', 80)], '2026Q3': [q('D001', 80)], '2026Q4': [q('D001', 80)] },
    });
    expect(res[0]!.totalExact).to.equal('80.005');
    expect(res[0]!.total).to.equal(80.01);
    const naive = (80.02 + 80 + 80 + 80) / 4;
    expect(Number(naive.toFixed(2))).to.equal(80); // what the exact core avoids
  });

  it('is graded with the 优秀 cap and ranked with shared places', () => {
    // 4 departments: 95, 95, 91, 50 → ranks 1, 1, 3, 4; cap floor(1.2) = 1 → D001 优秀 (code order), D002, D003 良好
    const units = ['D002', 'D001', 'D003', 'D004'].map((c) => u(c));
    const t: Record<string, number> = { D001: 95, D002: 95, D003: 91, D004: 50 };
    const quarters = Object.fromEntries(['2026Q1', '2026Q2', '2026Q3', '2026Q4'].map((p) => [p, Object.keys(t).map((c) => q(c, t[c]!))]));
    const res = scoreYear(DEFAULT_SCHEME, { year: 2026, units, quarters });
    expect(res.map((r) => [r.unit, r.rank, r.grade])).to.deep.equal([
      ['D001', 1, '优秀'],
      ['D002', 1, '良好'],
      ['D003', 3, '良好'],
      ['D004', 4, '不合格'],
    ]);
  });

  it('judges merit eligibility: any 不合格 quarter or any overdue case of the year', () => {
    const quarters = {
      '2026Q1': [q('D001', 95, '优秀'), q('D002', 50, '不合格'), q('D003', 85, '良好'), q('D004', 85, '良好')],
    };
    const now = new Date('2026-09-01T00:00:00Z');
    const cases: CaseLike[] = [
      // D003: A1 case of 2026Q1 due 2026-06-01, still open on 09-01 → overdue → not eligible
      { unit: 'D003', period: '2026Q1', rule: 'A1', status: 'open', dueAt: new Date('2026-06-01T00:00:00Z') },
      // D004: a case resolved in time → eligible; an overdue case of another year → ignored
      { unit: 'D004', period: '2026Q1', rule: 'A1', status: 'resolved', dueAt: new Date('2026-06-01T00:00:00Z'), resolvedAt: new Date('2026-05-20T00:00:00Z') },
      { unit: 'D004', period: '2025Q4', rule: 'A1', status: 'overdue', dueAt: new Date('2026-03-01T00:00:00Z') },
    ];
    const res = scoreYear(DEFAULT_SCHEME, { year: 2026, units: ['D001', 'D002', 'D003', 'D004'].map((c) => u(c)), quarters, cases, now });
    const by = Object.fromEntries(res.map((r) => [r.unit, r]));
    expect([by.D001!.eligible, by.D002!.eligible, by.D003!.eligible, by.D004!.eligible]).to.deep.equal([true, false, false, true]);
    expect(by.D002!.ineligibleReasons).to.deep.equal(['2026Q1 考核等级为不合格']);
    expect(by.D003!.ineligibleReasons[0]).to.contain('逾期');
  });

  it('reads each case a bounded number of times, however many units (a national year: 50 000 units, 100 000 cases)', () => {
    // Counted, not timed: every read of a case's unit. Each unit looking through every case of the
    // year was 50 000 × 100 000 reads at national scale — minutes of one request on the event loop.
    const n = 2000;
    const codes = Array.from({ length: n }, (_, i) => `D${String(i).padStart(4, '0')}`);
    let reads = 0;
    const cases: CaseLike[] = codes.flatMap((unit, i) =>
      i % 2 === 0
        ? []
        : [{ unit, period: '2026Q1', rule: 'A1' as const, status: 'open' as const, dueAt: new Date('2026-06-01T00:00:00Z') }].map((c) => {
            const counted = { ...c } as CaseLike;
            Object.defineProperty(counted, 'unit', { get: () => (reads++, unit), enumerable: true });
            return counted;
          }),
    );
    const res = scoreYear(DEFAULT_SCHEME, {
      year: 2026,
      units: codes.map((c) => u(c)),
      quarters: { '2026Q1': codes.map((c) => q(c, 85, '良好')) },
      cases,
      now: new Date('2026-09-01T00:00:00Z'),
    });
    expect(res.filter((r) => !r.eligible).map((r) => r.unit)).to.deep.equal(codes.filter((_, i) => i % 2 === 1));
    expect(reads, 'reads of the cases').to.be.at.most(4 * cases.length);
  });
});

describe('scoring core — accountability rules', () => {
  const row = (unit: string, rank: number | null, grade: PublishedRow['grade'] = '合格', flags: PublishedRow['flags'] = [], category: UnitCategory = 'department'): PublishedRow => ({
    unit,
    category,
    rank,
    grade,
    flags,
  });
  const publishedAt = new Date('2026-07-23T02:00:00Z');

  it('A1: 不合格 → 通报+限期整改 due 30 days after publication; A2: missing → 通报', () => {
    // 2026-07-23T02:00Z + 30 × 24 h = 2026-08-22T02:00Z
    const cases = casesToOpen(
      DEFAULT_SCHEME,
      { period: '2026Q2', publishedAt, results: [row('D001', 1, '良好'), row('D002', 2, '不合格'), row('D003', 3, '不合格', ['missing'])] },
      [],
    );
    expect(cases.map((c) => [c.unit, c.rule, c.type, c.dueAt?.toISOString() ?? null, c.status])).to.deep.equal([
      ['D002', 'A1', '通报+限期整改', '2026-08-22T02:00:00.000Z', 'open'],
      ['D003', 'A1', '通报+限期整改', '2026-08-22T02:00:00.000Z', 'open'],
      ['D003', 'A2', '通报', null, 'open'],
    ]);
    expect(cases[2]!.reason).to.contain('未按时报送');
    expect(dueDate(publishedAt, 30).toISOString()).to.equal('2026-08-22T02:00:00.000Z');
  });

  it('A3: last in a category of ≥ 3 ranked units in two consecutive published quarters → 约谈', () => {
    const q1 = { period: '2026Q1', results: [row('D001', 1), row('D002', 2), row('D003', 3)] };
    const q2 = { period: '2026Q2', publishedAt, results: [row('D001', 1), row('D002', 2), row('D003', 3)] };
    const cases = casesToOpen(DEFAULT_SCHEME, q2, [q1]);
    expect(cases.map((c) => [c.unit, c.rule, c.type])).to.deep.equal([['D003', 'A3', '约谈']]);
    expect(cases[0]!.reason).to.contain('2026Q1、2026Q2');
    // Last only in the current quarter → nothing
    const q1b = { period: '2026Q1', results: [row('D001', 1), row('D003', 2), row('D002', 3)] };
    expect(casesToOpen(DEFAULT_SCHEME, q2, [q1b]).filter((c) => c.rule === 'A3')).to.deep.equal([]);
  });

  it('A3: all units sharing the last rank are last', () => {
    // Q1: D002, D003 share rank 2 of 3; Q2: D002, D003 share rank 2 of 4 (D004 unranked/pending doesn't count)
    const q1 = { period: '2026Q1', results: [row('D001', 1), row('D002', 2), row('D003', 2)] };
    const q2 = { period: '2026Q2', publishedAt, results: [row('D001', 1), row('D002', 2), row('D003', 2), row('D004', null, null)] };
    const a3 = casesToOpen(DEFAULT_SCHEME, q2, [q1]).filter((c) => c.rule === 'A3');
    expect(a3.map((c) => c.unit)).to.deep.equal(['D002', 'D003']);
    expect([...lastInCategory(q2.results, 3)].sort()).to.deep.equal(['D002', 'D003']);
  });

  it('A3: a missing unit ranked with 0 can be last', () => {
    const q1 = { period: '2026Q1', results: [row('D001', 1), row('D002', 2), row('D003', 3, '不合格', ['missing'])] };
    const q2 = { period: '2026Q2', publishedAt, results: [row('D001', 1), row('D002', 2), row('D003', 3, '不合格', ['missing'])] };
    expect(casesToOpen(DEFAULT_SCHEME, q2, [q1]).map((c) => c.rule)).to.deep.equal(['A1', 'A2', 'A3']);
  });

  it('A3: no case for a category with fewer than 3 ranked units, in either quarter', () => {
    // cities: only 2 ranked → never "last" for A3
    const c = (unit: string, rank: number | null) => row(unit, rank, '合格', [], 'city');
    const q1 = { period: '2026Q1', results: [c('C001', 1), c('C002', 2)] };
    const q2 = { period: '2026Q2', publishedAt, results: [c('C001', 1), c('C002', 2)] };
    expect(casesToOpen(DEFAULT_SCHEME, q2, [q1])).to.deep.equal([]);
    // 3 units now but only 2 ranked in the previous quarter (one pending then) → no case
    const q1b = { period: '2026Q1', results: [c('C001', 1), c('C002', 2), c('C003', null)] };
    const q2b = { period: '2026Q2', publishedAt, results: [c('C001', 1), c('C003', 2), c('C002', 3)] };
    expect(casesToOpen(DEFAULT_SCHEME, q2b, [q1b])).to.deep.equal([]);
  });

  it('A3: the quarters must be consecutive (and the earlier one published), across a year boundary too', () => {
    const last3 = (period: string) => ({ period, results: [row('D001', 1), row('D002', 2), row('D003', 3)] });
    // 2026Q1 after 2025Q4: consecutive
    expect(casesToOpen(DEFAULT_SCHEME, { ...last3('2026Q1'), publishedAt }, [last3('2025Q4')]).map((c) => c.unit)).to.deep.equal(['D003']);
    // 2026Q3 with only 2026Q1 published (Q2 not in history) → no case
    expect(casesToOpen(DEFAULT_SCHEME, { ...last3('2026Q3'), publishedAt }, [last3('2026Q1')])).to.deep.equal([]);
    // consecutiveQuarters = 3 needs Q1, Q2, Q3
    const s3 = cloneScheme(DEFAULT_SCHEME);
    s3.accountability.A3.consecutiveQuarters = 3;
    expect(casesToOpen(s3, { ...last3('2026Q3'), publishedAt }, [last3('2026Q2')])).to.deep.equal([]);
    expect(casesToOpen(s3, { ...last3('2026Q3'), publishedAt }, [last3('2026Q2'), last3('2026Q1')]).map((c) => c.unit)).to.deep.equal(['D003']);
  });

  it('disabled rules open nothing', () => {
    const s = cloneScheme(DEFAULT_SCHEME);
    s.accountability.A1.enabled = false;
    s.accountability.A2.enabled = false;
    s.accountability.A3.enabled = false;
    const r = [row('D001', 1, '不合格', ['missing']), row('D002', 1, '不合格', ['missing']), row('D003', 1, '不合格', ['missing'])];
    expect(casesToOpen(s, { period: '2026Q2', publishedAt, results: r }, [{ period: '2026Q1', results: r }])).to.deep.equal([]);
  });

  describe('case status', () => {
    const due = new Date('2026-08-22T02:00:00Z');
    const before = new Date('2026-08-22T02:00:00Z'); // exactly at due: not yet past
    const after = new Date('2026-08-22T02:00:01Z');

    it('open → rectifying → resolved; open → resolved', () => {
      expect(transitionCase({ status: 'open', dueAt: due }, 'rectifying', before)).to.equal('rectifying');
      expect(transitionCase({ status: 'rectifying', dueAt: due }, 'resolved', before)).to.equal('resolved');
      expect(transitionCase({ status: 'open', dueAt: null }, 'resolved', after)).to.equal('resolved');
    });

    it('is overdue once past due, and then can only be resolved', () => {
      expect(effectiveStatus({ status: 'open', dueAt: due }, before)).to.equal('open');
      expect(effectiveStatus({ status: 'rectifying', dueAt: due }, after)).to.equal('overdue');
      expect(effectiveStatus({ status: 'resolved', dueAt: due }, after)).to.equal('resolved');
      expect(effectiveStatus({ status: 'open', dueAt: null }, after)).to.equal('open');
      expect(() => transitionCase({ status: 'open', dueAt: due }, 'rectifying', after))
        .to.throw(AppError, '已逾期')
        .with.property('code', 'case_bad_transition');
      expect(transitionCase({ status: 'overdue', dueAt: due }, 'resolved', after)).to.equal('resolved');
    });

    it('refuses other transitions with a Chinese message', () => {
      expect(() => transitionCase({ status: 'resolved', dueAt: null }, 'open', after)).to.throw(AppError, '已办结');
      expect(() => transitionCase({ status: 'rectifying', dueAt: null }, 'open', after)).to.throw(AppError, '“整改中”变为“待整改”');
      expect(() => transitionCase({ status: 'open', dueAt: null }, 'overdue', after)).to.throw(AppError);
      expect(() => transitionCase({ status: 'open', dueAt: null }, 'bogus' as never, after))
        .to.throw(AppError)
        .with.property('code', 'invalid_case_status');
    });

    it('lists the cases the daily job must mark overdue', () => {
      const cases: CaseLike[] = [
        { unit: 'A', period: '2026Q2', status: 'open', dueAt: due },
        { unit: 'B', period: '2026Q2', status: 'rectifying', dueAt: due },
        { unit: 'C', period: '2026Q2', status: 'resolved', dueAt: due, resolvedAt: before },
        { unit: 'D', period: '2026Q2', status: 'overdue', dueAt: due },
        { unit: 'E', period: '2026Q2', status: 'open', dueAt: null },
      ];
      expect(casesToMarkOverdue(cases, before).map((c) => c.unit)).to.deep.equal([]);
      expect(casesToMarkOverdue(cases, after).map((c) => c.unit)).to.deep.equal(['A', 'B']);
    });

    it('a case resolved after its due date was overdue (for merit)', () => {
      expect(wasOverdue({ unit: 'A', period: '2026Q2', status: 'resolved', dueAt: due, resolvedAt: after }, null)).to.equal(true);
      expect(wasOverdue({ unit: 'A', period: '2026Q2', status: 'resolved', dueAt: due, resolvedAt: before }, null)).to.equal(false);
      expect(wasOverdue({ unit: 'A', period: '2026Q2', status: 'open', dueAt: due }, after)).to.equal(true);
      expect(wasOverdue({ unit: 'A', period: '2026Q2', status: 'open', dueAt: due }, before)).to.equal(false);
      const e = meritEligibility({
        year: 2026,
        unit: 'A',
        quarterGrades: { '2026Q1': '良好', '2026Q2': '合格' },
        cases: [{ unit: 'A', period: '2026Q2', rule: 'A1', status: 'resolved', dueAt: due, resolvedAt: after }],
        now: null,
      });
      expect(e).to.deep.equal({ eligible: false, reasons: ['2026Q2 的问责案件（A1）逾期未整改'] });
    });
  });
});
