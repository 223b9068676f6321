// The explanation presenter (server/pages/explanation.ts): the scoring core's explanation in sentences
// with units and two decimals; fractions and clamp( only in the exact lines.
import { expect } from 'chai';
import type { ReturnValues } from '../../server/domain/fields.ts';
import { DEFAULT_SCHEME, scorePeriod, type UnitExplanation } from '../../server/domain/scoring/index.ts';
import { presentExplanation } from '../../server/pages/explanation.ts';

const V = (o: Partial<ReturnValues>): ReturnValues => ({
  systems_total: 9, systems_extranet: 3, systems_cloud: 9, networks_private: 4, networks_standalone: 1,
  catalogue_items: 10, catalogue_shared: 10, requests_received: 10, requests_on_time: 10, duties_total: 10, duties_with_data: 10, ...o,
});
function explain(values: ReturnValues, late = false): UnitExplanation {
  return scorePeriod(DEFAULT_SCHEME, [{ unit: 'D001', name: '甲', category: 'department', values, late }], { deadlinePassed: true }).explanations[0]!;
}
const FRACTION = /\d\s*\/\s*\d/;

describe('explanation presenter', () => {
  it('inputs in words with units, percentages and points to two decimals; the exact fractions only behind the toggle', () => {
    const ex = explain(V({}), true);
    expect(ex.indicators[0]!.text).to.include('clamp(').and.match(FRACTION); // the stored one is for mathematicians
    const w = presentExplanation(ex);
    expect(w.indicators[0]!.sentence).to.equal('已接入电子政务外网的系统数 3 个 / 信息系统总数 9 个 = 33.33%，得 8.33 分（满分 25 分）');
    expect(w.indicators[2]!.sentence).to.equal('业务专网总数 4 个、仍独立运行的业务专网数 1 个 = 75.00%，得 15.00 分（满分 20 分）');
    expect(w.deduction).to.equal('逾期报送，扣 2.00 分。');
    // 8.33… + 20 + 15 + 15 + 10 + 10 = 78.33 − 2
    expect(w.total).to.equal('总分 = 基础分 78.33 − 扣分 2.00 = 76.33 分');
    expect(w.grade).to.equal('总分 76.33，评为合格');
    expect(w.redistribution).to.equal(null);
    const words = [w.summary, ...w.indicators.map((i) => i.sentence), w.deduction, w.total, w.grade, w.rank].join('\n');
    expect(words).to.not.include('clamp(').and.not.match(FRACTION).and.not.include('÷');
    expect(w.exact.join('\n')).to.include('clamp(').and.include('25/3');
  });

  it('redistribution in one sentence; a not-applicable indicator says why', () => {
    const w = presentExplanation(explain(V({ systems_total: 0, systems_extranet: 0, systems_cloud: 0 })));
    expect(w.indicators[0]!.sentence).to.equal('信息系统总数 0 个、已接入电子政务外网的系统数 0 个：信息系统总数为 0，本指标不适用，不计分，其权重分给其余指标');
    // 0 + 20 + 15 + 15 + 0 + 10 over 65 weight → 60 × 100 ÷ 65 = 92.31
    expect(w.redistribution).to.equal('I1、I5 不适用，其 35 分权重按比例分给其余 4 个指标，基础分按 100 分折算为 92.31 分。');
    expect(w.indicators[1]!.sentence).to.include('得 20.00 分（满分 20 分），按适用指标折算后计 30.77 分');
    expect(w.total).to.equal('总分 92.31 分（即基础分，无扣分）');
  });

  it('zero denominator by rule; no return', () => {
    const w = presentExplanation(explain(V({ networks_private: 0, networks_standalone: 0 })));
    expect(w.indicators[2]!.sentence).to.equal('业务专网总数为 0，按规则取值 1，即 100.00%，得 20.00 分（满分 20 分）');
    const none = presentExplanation(scorePeriod(DEFAULT_SCHEME, [{ unit: 'D1', name: 'x', category: 'department', values: null }], { deadlinePassed: true }).explanations[0]!);
    expect(none.indicators.every((i) => i.sentence === '无可用报表，不计算')).to.equal(true);
    expect(none.total).to.equal('总分 0.00 分');
    expect(none.exact.join('')).to.not.include('clamp(');
  });
});
