// The pure parts of the reading pages (issue 17): unit search matching, the compare page's input and
// view, the annual ranking presenter and default year, and the CSS string the print margin boxes read.
import { expect } from 'chai';
import { DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';
import { AppError } from '../../server/domain/errors.ts';
import { cssString } from '../../server/http/view-helpers.ts';
import { defaultYear, presentAnnual, yearsOf } from '../../server/pages/annual.ts';
import { improveLine, parseCompareUnits, presentCompare } from '../../server/pages/compare.ts';
import { directTarget, matchUnits, parseQuery } from '../../server/pages/search.ts';
import type { UnitView } from '../../server/services/units.ts';
import type { YearView } from '../../server/services/eligibility.ts';
import { buildSnapshot } from '../../server/results/snapshot.ts';

const fails = (f: () => unknown, status: number, code: string, text: string) => {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(AppError);
    expect((e as AppError).status).to.equal(status);
    expect((e as AppError).code).to.equal(code);
    expect((e as AppError).message).to.include(text);
    return;
  }
  expect.fail('did not throw');
};

const unit = (code: string, name: string, aliases: string[] = [], category: UnitView['category'] = 'department'): UnitView => ({ code, name, category, parent: null, active: true, aliases });

describe('reading pages: unit search', () => {
  const units = [unit('D001', '省发展和改革委员会', ['省发改委']), unit('D002', '省教育厅'), unit('D010', '省人力资源和社会保障厅', ['省人社厅']), unit('C0571', '云州市', [], 'city')];

  it('exact code first, then exact name or alias, code prefix, name, alias; case, spaces and full width ignored', () => {
    expect(matchUnits(units, 'd001').map((m) => [m.unit.code, m.matched])).to.deep.equal([['D001', '代码']]);
    expect(matchUnits(units, '省发改委').map((m) => [m.unit.code, m.matched])).to.deep.equal([['D001', '简称「省发改委」']]);
    expect(matchUnits(units, 'Ｄ0').map((m) => m.unit.code)).to.deep.equal(['D001', 'D002', 'D010']);
    expect(matchUnits(units, ' 教育 ').map((m) => m.unit.code)).to.deep.equal(['D002']);
    expect(matchUnits(units, '厅').map((m) => m.unit.code)).to.deep.equal(['D002', 'D010']);
    expect(matchUnits(units, '人社').map((m) => m.matched)).to.deep.equal(['简称「省人社厅」']);
    expect(matchUnits(units, '')).to.deep.equal([]);
    expect(matchUnits(units, '不存在')).to.deep.equal([]);
  });

  it('goes straight to a unit only when one matches (or the code is exact) and the viewer may open it', () => {
    const all = () => true;
    expect(directTarget(matchUnits(units, '教育'), all)).to.equal('D002');
    expect(directTarget(matchUnits(units, '厅'), all)).to.equal(null);
    expect(directTarget(matchUnits(units, 'D001'), all)).to.equal('D001');
    expect(directTarget(matchUnits(units, '云州'), (c) => c === 'D001')).to.equal(null);
  });

  it('queries: blank is empty, more than 50 characters or a repeated parameter is a 400', () => {
    expect(parseQuery(undefined)).to.equal('');
    expect(parseQuery('  D001 ')).to.equal('D001');
    fails(() => parseQuery('长'.repeat(51)), 400, 'invalid_query', '不能超过 50 个字');
    fails(() => parseQuery(['a', 'b']), 400, 'invalid_query', '查询内容无效');
  });
});

describe('reading pages: compare', () => {
  it('takes 2–5 distinct codes from repeated or comma-separated parameters', () => {
    expect(parseCompareUnits(['D001', 'D002'])).to.deep.equal(['D001', 'D002']);
    expect(parseCompareUnits('D001,D002，D003')).to.deep.equal(['D001', 'D002', 'D003']);
    expect(parseCompareUnits(['D001', 'D001', 'D002'])).to.deep.equal(['D001', 'D002']);
    fails(() => parseCompareUnits(['D001', 'D001']), 400, 'compare_count', '当前选择了 1 个');
    fails(() => parseCompareUnits(undefined), 400, 'compare_count', '当前选择了 0 个');
    fails(() => parseCompareUnits('A,B,C,D,E,F'), 400, 'compare_count', '请选择 2–5 个单位进行对比（当前选择了 6 个）');
    fails(() => parseCompareUnits([{ x: 1 }]), 400, 'invalid_units', '所选单位无效');
  });

  const ind = (score: number | null) => ({ value: score === null ? null : score / 25, score, applicable: score !== null });
  const row = (unit: string, total: number, rank: number, s1: number | null, category: 'department' | 'city' = 'department') => ({
    unit, name: `单位${unit}`, category, indicators: { I1: ind(s1) }, base: total, deductions: 0, total, grade: (total >= 80 ? '良好' : '合格') as '良好' | '合格', rank, rankChange: null, flags: [],
  });
  const snapshot = buildSnapshot(
    { period: '2026Q3', computeId: 'c1', schemeVersion: 1 } as unknown as Parameters<typeof buildSnapshot>[0],
    [row('D001', 91, 2, 20), row('D002', 95, 1, 25), row('D003', 70, 3, 10), row('C1', 85, 1, 25, 'city')].map((r) => ({ ...r, revision: 1 })),
    { ...DEFAULT_SCHEME, indicators: [{ ...DEFAULT_SCHEME.indicators[0]!, id: 'I1', name: '外网接入率', weight: 25, target: 1, floor: 0 }], deductions: { ...DEFAULT_SCHEME.deductions, late: 2 } },
  );
  const set = { period: '2026Q3', status: 'final' as const };

  it('one column per unit in the order asked, ranks out of the category, the best indicator marked, the reporter\'s own 提分路径 only', () => {
    const iv = { heading: '当前 91.00 分（良好），目标：优秀', target: '优秀' as const, items: [{ text: '', points: 1, total: 92, grade: '优秀' as const, quotaNote: null, line: '再接入 1 个系统（+1.00 分）→ 92.00 分，可达优秀' }], note: null };
    const c = presentCompare({ username: 'r', role: 'reporter', unit: 'D001' }, set, snapshot, ['D001', 'C1', 'D003'], new Map([['D001', iv], ['D003', iv]]));
    expect(c.columns.map((x) => [x.unit, x.ranked, x.catLabel])).to.deep.equal([['D001', 3, '省直部门'], ['C1', 1, '设区市'], ['D003', 3, '省直部门']]);
    expect(c.columns[0]!.improve).to.equal('当前 91.00 分（良好），目标：优秀；再接入 1 个系统（+1.00 分）→ 92.00 分，可达优秀');
    expect(c.columns[2]).to.include({ improve: null, improveHidden: true, visible: false });
    expect(c.columns[0]!.cells.capped).to.equal(true);
    expect(c.best.I1).to.equal(25);
    const office = presentCompare({ username: 'o', role: 'office' }, set, snapshot, ['D001', 'D003'], new Map([['D003', iv]]));
    expect(office.columns.map((x) => x.visible)).to.deep.equal([true, true]);
    expect(office.columns[0]!.improve).to.equal(null);
  });

  it('a unit without a result in the period is a 404', () => {
    fails(() => presentCompare({ username: 'o', role: 'office' }, set, snapshot, ['D001', 'X9'], new Map()), 404, 'unit_not_found', '单位「X9」在 2026Q3 期没有考核结果');
  });

  it('提分路径 in one line: the heading and the first way, the count of the others', () => {
    expect(improveLine(null)).to.equal(null);
    const item = (line: string) => ({ text: '', points: 1, total: 1, grade: '优秀' as const, quotaNote: null, line });
    expect(improveLine({ heading: 'H', target: '优秀', items: [item('a'), item('b'), item('c')], note: null })).to.equal('H；a（另有 2 条途径）');
    expect(improveLine({ heading: 'H', target: null, items: [], note: '已是最高等级' })).to.equal('H；已是最高等级');
  });
});

describe('reading pages: annual ranking', () => {
  const result = (unit: string, category: 'department' | 'city', total: number, rank: number, grade: '优秀' | '良好' | '合格') => ({
    unit, name: unit, category, quarters: { '2026Q1': total, '2026Q2': null }, total, totalExact: String(total), grade, rank, eligible: grade !== '合格', ineligibleReasons: grade === '合格' ? ['x'] : [],
  });
  const view = (final: boolean): YearView => ({
    year: 2026, final, schemeVersion: 1, quarters: { '2026Q2': 'provisional', '2026Q1': 'final' },
    results: [result('D002', 'department', 92, 2, '良好'), result('D001', 'department', 95, 1, '优秀'), result('C1', 'city', 70, 1, '合格')],
  });
  const q = { category: 'department' as const, years: [2026, 2025], grades: DEFAULT_SCHEME.grades, excellentQuota: 0.3 };

  it('one category by rank with the quota mark; quarters in order; a reporter sees its own row until the year is final', () => {
    const a = presentAnnual({ username: 'o', role: 'office' }, view(false), q);
    expect(a.rows.map((r) => [r.unit, r.rank, r.capped, r.visible])).to.deep.equal([['D001', 1, false, true], ['D002', 2, true, true]]);
    expect(a.quarters.map((x) => [x.period, x.label, x.status])).to.deep.equal([['2026Q1', '第一季度', 'final'], ['2026Q2', '第二季度', 'provisional']]);
    expect(a.counts).to.deep.equal({ department: 2, city: 1, county: 0 });
    const rep = presentAnnual({ username: 'r', role: 'reporter', unit: 'D002' }, view(false), q);
    expect(rep).to.include({ ownOnly: true });
    expect(rep.rows.map((r) => r.unit)).to.deep.equal(['D002']);
    expect(rep.counts).to.deep.equal({ department: 1, city: 0, county: 0 });
    const repFinal = presentAnnual({ username: 'r', role: 'reporter', unit: 'D002' }, view(true), q);
    expect(repFinal.rows.map((r) => [r.unit, r.visible])).to.deep.equal([['D001', false], ['D002', true]]);
  });

  it('default year: the newest published quarter\'s year, else the newest opened year; none opened is a 404', () => {
    const opened = [{ period: '2027Q1' }, { period: '2026Q4' }, { period: '2026Q3' }];
    expect(yearsOf(opened)).to.deep.equal([2027, 2026]);
    expect(defaultYear(opened, ['2026Q3', '2026Q2'])).to.equal(2026);
    expect(defaultYear(opened, [])).to.equal(2027);
    fails(() => defaultYear([], []), 404, 'period_not_open', '暂无年度排名');
  });
});

describe('reading pages: print title', () => {
  it('cssString quotes any text so that no quote, backslash, newline or < ends the string', () => {
    expect(cssString('2026年第三季度省直部门考核排名（正式结果）')).to.equal('"2026年第三季度省直部门考核排名（正式结果）"');
    const s = cssString('a"b\\c\n</style>;}');
    expect(s).to.equal('"a\\22 b\\5c c\\a \\3c \\2f style\\3e \\3b \\7d "');
    expect(s.slice(1, -1)).not.to.match(/["\n<>;{}]|\\(?![0-9a-f]+ )/);
  });
});
