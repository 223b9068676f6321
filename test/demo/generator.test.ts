import { expect } from 'chai';
import { AT_MOST_RULES, FIELD_KEYS } from '../../server/domain/fields.ts';
import { defaultDeadline } from '../../server/domain/periods.ts';
import { apportion, demoPeriods, planDemo } from '../../server/services/demo/generator.ts';

const NOW = new Date('2026-11-22T10:00:00+08:00');

describe('demo province plan (pure)', () => {
  const plan = planDemo(NOW);

  it('has 87 departments, 11 cities and their counties, with unique codes and names', () => {
    const by = (c: string) => plan.units.filter((u) => u.category === c);
    expect(by('department')).to.have.length(87);
    expect(by('city')).to.have.length(11);
    expect(by('county').length).to.be.within(40, 110);
    expect(new Set(plan.units.map((u) => u.code)).size).to.equal(plan.units.length);
    expect(new Set(plan.units.map((u) => u.name)).size).to.equal(plan.units.length);
    const cities = new Set(by('city').map((u) => u.code));
    for (const c of by('county')) expect(cities.has(c.parent!)).to.equal(true);
  });

  it('publishes the four quarters before the one being collected, relative to now', () => {
    expect(plan.published).to.deep.equal(['2025Q4', '2026Q1', '2026Q2', '2026Q3']);
    expect(plan.current).to.equal('2026Q4');
    // Before 2026Q3's deadline + grace, 2026Q3 is still the quarter being collected.
    expect(demoPeriods(new Date('2026-10-20T00:00:00+08:00'), 'Asia/Shanghai').current).to.equal('2026Q3');
    expect(demoPeriods(new Date('2027-02-01T00:00:00+08:00'), 'Asia/Shanghai').published).to.deep.equal([
      '2026Q1', '2026Q2', '2026Q3', '2026Q4',
    ]);
  });

  it('is deterministic', () => {
    const again = planDemo(NOW);
    expect(again.units).to.deep.equal(plan.units);
    expect(again.submissions.map((s) => [s.unit, s.period, s.at.toISOString(), s.values])).to.deep.equal(
      plan.submissions.map((s) => [s.unit, s.period, s.at.toISOString(), s.values]),
    );
  });

  it('keeps the field figures in every published quarter: 767 systems, 11 connected, 28 standalone', () => {
    for (const period of plan.published) {
      const latest = new Map<string, (typeof plan.submissions)[number]>();
      for (const s of plan.submissions) if (s.period === period) latest.set(s.unit, s);
      const deps = [...latest.values()].filter((s) => s.unit.startsWith('D'));
      expect(deps, period).to.have.length(87);
      expect(deps.every((s) => s.review?.decision !== 'reject'), period).to.equal(true);
      expect(deps.reduce((a, s) => a + s.values.systems_total, 0)).to.equal(767);
      expect(deps.filter((s) => s.values.networks_private > 0 && s.values.networks_standalone === 0)).to.have.length(11);
      expect(deps.filter((s) => s.values.networks_standalone > 0)).to.have.length(28);
    }
  });

  it('produces valid values, some late, missing and rejected returns, and an improving trend', () => {
    for (const s of plan.submissions) {
      for (const k of FIELD_KEYS) expect(Number.isInteger(s.values[k]) && s.values[k] >= 0, k).to.equal(true);
      for (const [f, max] of AT_MOST_RULES) expect(s.values[f]).to.be.at.most(s.values[max]);
      expect(s.at.getTime()).to.be.below(NOW.getTime());
    }
    const late = plan.submissions.filter((s) => plan.published.includes(s.period) && s.at > defaultDeadline(s.period, 'Asia/Shanghai'));
    expect(late.length).to.be.greaterThan(5);
    expect(plan.submissions.filter((s) => s.review?.decision === 'reject').length).to.be.greaterThan(3);
    const submitted = (p: string) => new Set(plan.submissions.filter((s) => s.period === p).map((s) => s.unit)).size;
    expect(plan.published.some((p) => submitted(p) < plan.units.length)).to.equal(true);
    const rate = (p: string) => {
      const latest = new Map<string, (typeof plan.submissions)[number]>();
      for (const s of plan.submissions) if (s.period === p) latest.set(s.unit, s);
      let a = 0;
      let b = 0;
      for (const s of latest.values()) {
        a += s.values.catalogue_shared;
        b += s.values.catalogue_items;
      }
      return a / b;
    };
    expect(rate(plan.published[3])).to.be.greaterThan(rate(plan.published[0]));
  });

  it('apportions a total into whole parts ≥ 1', () => {
    const parts = apportion(767, [5, 1, 1, 0.1, 3]);
    expect(parts.reduce((a, b) => a + b, 0)).to.equal(767);
    expect(Math.min(...parts)).to.be.at.least(1);
  });
});
