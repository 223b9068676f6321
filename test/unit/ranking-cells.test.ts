// Ranking cells (server/pages/ranking.ts rankingCells): 待报 / 缺报 rows without values or 扣分, the
// 优秀-quota mark derived from grade and bands, indicator bands with a glyph.
import { expect } from 'chai';
import { DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';
import type { ResultFlag } from '../../server/domain/scoring/score.ts';
import { rankingCells, scoreBand } from '../../server/pages/ranking.ts';

const rules = { grades: DEFAULT_SCHEME.grades, excellentQuota: 0.3 };
const inds = [
  { id: 'I1', name: '外网接入率', weight: 25 },
  { id: 'I2', name: '目录共享率', weight: 20 },
];
const row = (o: Partial<Parameters<typeof rankingCells>[0]>) => ({
  total: 90.76, base: 90.76, deductions: 0, grade: '良好' as const, flags: [] as ResultFlag[],
  indicators: { I1: { value: 1, score: 25, applicable: true }, I2: { value: 0.5, score: 10, applicable: true } }, ...o,
});

describe('ranking cells', () => {
  it('a 良好 at or above the 优秀 line is marked capped with the reason; a plain 良好 is not', () => {
    const c = rankingCells(row({}), inds, rules);
    expect(c.capped).to.equal(true);
    expect(c.cappedTitle).to.equal('总分达到优秀分数线（90 分），受 30% 优秀名额限制评为良好');
    expect(rankingCells(row({ total: 89.99 }), inds, rules).capped).to.equal(false);
    expect(rankingCells(row({ grade: '优秀' }), inds, rules).capped).to.equal(false);
  });

  it('pending: 待报, no indicator values, no 扣分, no total; missing: 缺报 cells, total 0, no 扣分', () => {
    const p = rankingCells(row({ total: null, base: null, deductions: null, grade: null, flags: ['pending'], indicators: { I1: { value: null, score: null, applicable: false }, I2: { value: null, score: null, applicable: false } } }), inds, rules);
    expect(p).to.include({ noReturn: 'pending', gradeText: '待报送', totalText: '—', baseText: '—', deductionsText: '—', capped: false });
    expect(p.scores.map((s) => [s.text, s.title])).to.deep.equal([['—', '待报送'], ['—', '待报送']]);
    const m = rankingCells(row({ total: 0, base: null, deductions: 0, grade: '不合格', flags: ['missing'] }), inds, rules);
    expect(m).to.include({ noReturn: 'missing', gradeText: '不合格', totalText: '0.00', deductionsText: '—' });
    expect(m.scores.every((s) => s.text === '—' && s.title === '缺报')).to.equal(true);
  });

  it('indicator bands by share of the maximum, each with a glyph and words', () => {
    const c = rankingCells(row({ flags: ['late'], deductions: 2 }), inds, rules);
    expect(c.deductionsText).to.equal('−2.00');
    expect(c.scores.map((s) => [s.band, s.glyph])).to.deep.equal([['high', '●'], ['low', '○']]);
    expect(c.scores[1]!.title).to.equal('目录共享率：10.00 / 20 分，偏弱（< 60%）');
    expect(scoreBand(13.5, 15).band).to.equal('high');
    expect(scoreBand(12, 20).band).to.equal('mid');
    expect(scoreBand(11.99, 20).band).to.equal('low');
    const na = rankingCells(row({ indicators: { I1: { value: null, score: null, applicable: false }, I2: { value: 1, score: 20, applicable: true } } }), inds, rules);
    expect(na.scores[0]).to.include({ text: '不适用', band: null });
  });
});
