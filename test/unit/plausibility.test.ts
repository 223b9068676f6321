// The plausibility check (server/domain/plausibility.ts): properties of the pure function under any
// rule set and any history (fast-check), the defaults on the cases the issue names, and validation of
// an admin's draft with Chinese messages.
import { expect } from 'chai';
import fc from 'fast-check';
import { FIELD_KEYS, FIELD_LABELS, type FieldKey, type ReturnValues } from '../../server/domain/fields.ts';
import {
  checkPlausibility,
  cloneRules,
  DEFAULT_PLAUSIBILITY_RULES,
  isJump,
  validateRules,
  type PlausibilityRule,
  type PlausibilityRules,
} from '../../server/domain/plausibility.ts';

const RUNS = { numRuns: 300 };

const arbCount = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 5000 }));
const arbValues: fc.Arbitrary<ReturnValues> = fc.record(Object.fromEntries(FIELD_KEYS.map((k) => [k, arbCount])) as Record<FieldKey, fc.Arbitrary<number>>) as fc.Arbitrary<ReturnValues>;
const arbFields = fc.subarray([...FIELD_KEYS], { minLength: 1 });
const arbRule: fc.Arbitrary<PlausibilityRule> = fc.oneof(
  fc.record({ kind: fc.constant('jump' as const), factor: fc.double({ min: 1.01, max: 10, noNaN: true }), floor: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ kind: fc.constant('fall' as const), minDrop: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant('reappear' as const) }),
).chain((k) =>
  fc.record({ enabled: fc.boolean(), base: fc.constantFrom('previous' as const, 'yearAgo' as const), fields: arbFields }).map((c, ) => ({ id: 'X', name: 'x', ...c, ...k }) as PlausibilityRule),
);
const arbRules: fc.Arbitrary<PlausibilityRules> = fc
  .array(arbRule, { minLength: 0, maxLength: 6 })
  .map((rules) => ({ version: 1, rules: rules.map((r, i) => ({ ...r, id: `R${i}` })) }));
const arbHistory = fc.record({
  previous: fc.option(arbValues.map((values) => ({ period: '2026Q2', values })), { nil: null }),
  yearAgo: fc.option(arbValues.map((values) => ({ period: '2025Q3', values })), { nil: null }),
});

describe('plausibility (pure domain)', () => {
  it('property: no history, or every rule disabled → no warnings', () => {
    fc.assert(
      fc.property(arbRules, arbValues, arbHistory, (rules, values, history) => {
        expect(checkPlausibility(rules, values, {})).to.deep.equal([]);
        const off = { ...rules, rules: rules.rules.map((r) => ({ ...r, enabled: false })) };
        expect(checkPlausibility(off, values, history)).to.deep.equal([]);
      }),
      RUNS,
    );
  });

  it('property: the same values as the history → no warnings', () => {
    fc.assert(
      fc.property(arbRules, arbValues, (rules, values) => {
        expect(checkPlausibility(rules, values, { previous: { period: '2026Q2', values }, yearAgo: { period: '2025Q3', values } })).to.deep.equal([]);
      }),
      RUNS,
    );
  });

  it('property: at most one warning per field and base; each names its field, base period and both values, and its rule flags it', () => {
    fc.assert(
      fc.property(arbRules, arbValues, arbHistory, (rules, values, history) => {
        const found = checkPlausibility(rules, values, history);
        const keys = found.map((f) => `${f.field}/${f.base}`);
        expect(new Set(keys).size).to.equal(keys.length);
        // field order
        const idx = found.map((f) => FIELD_KEYS.indexOf(f.field));
        expect(idx).to.deep.equal([...idx].sort((a, b) => a - b));
        for (const f of found) {
          const point = history[f.base]!;
          expect(point, 'a finding needs its base').to.not.equal(null);
          expect(f.basePeriod).to.equal(point.period);
          expect(f.before).to.equal(point.values[f.field]);
          expect(f.after).to.equal(values[f.field]);
          expect(f.message).to.contain(`「${FIELD_LABELS[f.field]}」`).and.to.contain(point.period).and.to.contain('请核实');
          const rule = rules.rules.find((r) => r.id === f.rule)!;
          expect(rule.enabled).to.equal(true);
          expect(rule.fields).to.include(f.field);
          expect(rule.base).to.equal(f.base);
          if (rule.kind === 'jump') expect(isJump(f.before, f.after, rule.factor, rule.floor)).to.equal(true);
          if (rule.kind === 'fall') expect(f.before - f.after).to.be.at.least(rule.minDrop);
          if (rule.kind === 'reappear') expect(f.before === 0 && f.after > 0).to.equal(true);
        }
      }),
      RUNS,
    );
  });

  it('property: a field some enabled rule flags always gets a warning (nothing is lost by deduplication)', () => {
    fc.assert(
      fc.property(arbRules, arbValues, arbHistory, (rules, values, history) => {
        const found = new Set(checkPlausibility(rules, values, history).map((f) => `${f.field}/${f.base}`));
        for (const r of rules.rules) {
          const point = history[r.base];
          if (!r.enabled || !point) continue;
          for (const k of r.fields) {
            const b = point.values[k];
            const a = values[k];
            const flags = r.kind === 'jump' ? isJump(b, a, r.factor, r.floor) : r.kind === 'fall' ? b - a >= r.minDrop : b === 0 && a > 0;
            if (flags) expect(found.has(`${k}/${r.base}`), `${r.id} ${k} ${b}→${a}`).to.equal(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('property: a jump is symmetric, needs the floor, and a larger factor or floor flags no more', () => {
    fc.assert(
      fc.property(arbCount, arbCount, fc.double({ min: 1.01, max: 10, noNaN: true }), fc.integer({ min: 0, max: 50 }), fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 0, max: 20 }), (a, b, factor, floor, moreF, moreFloor) => {
        expect(isJump(a, b, factor, floor)).to.equal(isJump(b, a, factor, floor));
        if (Math.abs(a - b) < floor) expect(isJump(a, b, factor, floor)).to.equal(false);
        if (isJump(a, b, factor + moreF, floor + moreFloor)) expect(isJump(a, b, factor, floor)).to.equal(true);
        if (a > 0 && b >= a * factor && b - a >= floor) expect(isJump(a, b, factor, floor)).to.equal(true);
      }),
      RUNS,
    );
  });

  describe('the defaults', () => {
    const base: ReturnValues = { systems_total: 30, systems_extranet: 12, systems_cloud: 20, networks_private: 5, networks_standalone: 2, catalogue_items: 100, catalogue_shared: 80, requests_received: 251, requests_on_time: 240, duties_total: 200, duties_with_data: 150 };
    const prev = (values: ReturnValues) => ({ previous: { period: '2026Q2', values } });
    const check = (after: Partial<ReturnValues>, history: Parameters<typeof checkPlausibility>[2]) => checkPlausibility(DEFAULT_PLAUSIBILITY_RULES, { ...base, ...after }, history);

    it('a small unit going 1 → 3 is quiet; 10 → 40 and 251 → 1 260 are flagged against the previous quarter', () => {
      const small = { ...base, systems_total: 1, systems_extranet: 1, systems_cloud: 1 };
      expect(checkPlausibility(DEFAULT_PLAUSIBILITY_RULES, { ...small, systems_total: 3 }, prev(small))).to.deep.equal([]);
      const f = check({ requests_received: 1260, requests_on_time: 1200, systems_total: 120 }, prev(base));
      expect(f.map((x) => [x.rule, x.field])).to.deep.equal([['P1', 'systems_total'], ['P1', 'requests_received'], ['P1', 'requests_on_time']]);
      expect(f[0]!.message).to.equal('「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实');
      expect(f[1]!.message).to.equal('「收到的共享申请数」为 1260，上季度（2026Q2）为 251，增至 5 倍，请核实');
    });

    it('halving is flagged; a shared count that falls is one 累计数 warning; standalone networks that reappear', () => {
      const f = check({ duties_total: 100, catalogue_shared: 70 }, prev(base));
      expect(f.map((x) => [x.rule, x.field])).to.deep.equal([['P3', 'catalogue_shared'], ['P1', 'duties_total']]);
      expect(f[0]!.message).to.equal('「已发布共享的目录数」为 70，上季度（2026Q2）为 80，减少 10；此项通常只增不减，请核实');
      expect(f[1]!.message).to.equal('「权责清单事项数」为 100，上季度（2026Q2）为 200，降至 50%，请核实');
      const zero = { ...base, networks_standalone: 0 };
      const r = check({ networks_standalone: 8 }, prev(zero));
      expect(r.map((x) => [x.rule, x.field])).to.deep.equal([['P4', 'networks_standalone']]);
      expect(r[0]!.message).to.equal('「仍独立运行的业务专网数」为 8，上季度（2026Q2）已降为 0，现又出现，请核实');
    });

    it('against the same quarter last year: ×3 with a floor of 10 (×2 in a year is quiet)', () => {
      const yearAgo = { yearAgo: { period: '2025Q3', values: base } };
      expect(check({ systems_total: 60, systems_cloud: 30 }, yearAgo)).to.deep.equal([]);
      const f = check({ systems_total: 95, catalogue_items: 3 }, yearAgo);
      expect(f.map((x) => [x.rule, x.field, x.basePeriod])).to.deep.equal([['P2', 'systems_total', '2025Q3'], ['P2', 'catalogue_items', '2025Q3']]);
      expect(f[0]!.message).to.equal('「信息系统总数」为 95，去年同期（2025Q3）为 30，增至 3.2 倍，请核实');
      expect(f[1]!.message).to.equal('「数据资源目录编目数」为 3，去年同期（2025Q3）为 100，降至 3%，请核实');
    });
  });

  describe('validating an edited rule set', () => {
    const tpl = DEFAULT_PLAUSIBILITY_RULES;
    it('accepts the defaults and changed numbers; keeps ids, names, kinds and bases of the set in force', () => {
      const d = cloneRules(tpl);
      (d.rules[0] as { factor: number }).factor = 2.5;
      d.rules[3]!.enabled = false;
      const v = validateRules({ rules: d.rules.map((r) => ({ ...r, kind: 'reappear', base: 'yearAgo', name: 'hacked' })) }, tpl, 7);
      expect(v.ok).to.equal(true);
      if (!v.ok) return;
      expect(v.rules.version).to.equal(7);
      expect(v.rules.rules.map((r) => [r.id, r.kind, r.base, r.name])).to.deep.equal(tpl.rules.map((r) => [r.id, r.kind, r.base, r.name]));
      expect((v.rules.rules[0] as { factor: number }).factor).to.equal(2.5);
      expect(v.rules.rules[3]!.enabled).to.equal(false);
    });

    it('lists every problem in Chinese with its path', () => {
      const d = cloneRules(tpl).rules.map((r) => ({ ...r })) as Record<string, unknown>[];
      d[0]!.factor = 1;
      d[1]!.floor = -1;
      d[2]!.minDrop = 0.5;
      d[3]!.fields = [];
      d[0]!.fields = ['systems_total', 'nope'];
      const v = validateRules({ rules: d }, tpl, 2);
      expect(v.ok).to.equal(false);
      if (v.ok) return;
      expect(v.errors).to.deep.equal([
        { path: 'rules[0].fields', message: '规则 P1（与上季度相比大幅增减）的适用指标中有未知指标「nope」' },
        { path: 'rules[0].factor', message: '规则 P1（与上季度相比大幅增减）的倍数应为大于 1、不超过 1000 的数' },
        { path: 'rules[1].floor', message: '规则 P2（与去年同期相比大幅增减）的最小变化量应为不小于 0 的整数' },
        { path: 'rules[2].minDrop', message: '规则 P3（共享类累计数比上季度减少）的最小减少量应为不小于 1 的整数' },
        { path: 'rules[3].fields', message: '规则 P4（独立运行的专网降为 0 后又出现）已启用，请至少选择一项适用指标' },
      ]);
      expect(validateRules({ rules: [] }, tpl, 2)).to.deep.equal({ ok: false, errors: [{ path: 'rules', message: '规则数量应为 4 条' }] });
      expect(validateRules('x', tpl, 2)).to.deep.equal({ ok: false, errors: [{ path: 'rules', message: '规则集应包含规则列表' }] });
    });
  });
});
