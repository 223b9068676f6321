import { expect } from 'chai';
import fc from 'fast-check';
import { AT_MOST_RULES, FIELD_KEYS, FIELD_LABELS, type FieldKey } from '../../server/domain/fields.ts';
import { checkAtMostRules, parseWholeNumber, validateReturnValues } from '../../server/domain/validation.ts';

const ok = (raw: unknown) => {
  const r = parseWholeNumber(raw);
  if (!r.ok) throw new Error(`expected ${String(raw)} to parse, got: ${r.message}`);
  return r.value;
};
const bad = (raw: unknown) => {
  const r = parseWholeNumber(raw);
  if (r.ok) throw new Error(`expected ${String(raw)} to be refused, got ${r.value}`);
  return r;
};

const FULL = '０１２３４５６７８９';
const toFullWidth = (s: string) => s.replace(/[0-9]/g, (d) => FULL[Number(d)]!);

describe('parseWholeNumber', () => {
  it('accepts numbers and numeric text in the forms people type', () => {
    expect(ok(0)).to.equal(0);
    expect(Object.is(ok(-0), 0)).to.equal(true);
    expect(ok(42)).to.equal(42);
    expect(ok('42')).to.equal(42);
    expect(ok('  42 \t')).to.equal(42);
    expect(ok('\u300042\u3000')).to.equal(42);
    expect(ok('４２')).to.equal(42);
    expect(ok('1,234')).to.equal(1234);
    expect(ok('1，234')).to.equal(1234);
    expect(ok('１，２３４')).to.equal(1234);
    expect(ok('1 234 567')).to.equal(1234567);
    expect(ok('1\u00a0234')).to.equal(1234);
    expect(ok('+5')).to.equal(5);
    expect(ok('0012')).to.equal(12);
    expect(ok('12.0')).to.equal(12);
    expect(ok('12.00')).to.equal(12);
    expect(ok('-0')).to.equal(0);
    expect(ok(String(Number.MAX_SAFE_INTEGER))).to.equal(Number.MAX_SAFE_INTEGER);
    expect(ok(Number.MAX_SAFE_INTEGER)).to.equal(Number.MAX_SAFE_INTEGER);
    expect(ok(9007199254740991n)).to.equal(Number.MAX_SAFE_INTEGER);
  });

  it('takes a float-noise formula result as the whole number Excel shows', () => {
    expect(0.1 * 3 * 10).to.not.equal(3);
    expect(ok(0.1 * 3 * 10)).to.equal(3);
    expect(ok(2.9999999999999996)).to.equal(3);
    expect(bad(1.1 * 3).problem).to.equal('fraction');
  });

  it('refuses negatives, fractions, text, NaN/Infinity and huge values with Chinese messages', () => {
    expect(bad(-1)).to.include({ problem: 'negative', message: '-1 为负数，应填写不小于 0 的整数' });
    expect(bad('-5').problem).to.equal('negative');
    expect(bad('－５').problem).to.equal('negative');
    expect(bad('(5)').problem).to.equal('negative');
    expect(bad('-1.5').problem).to.equal('negative');
    expect(bad(1.5)).to.include({ problem: 'fraction', message: '1.5 不是整数，应填写不小于 0 的整数' });
    expect(bad('2.50').problem).to.equal('fraction');
    expect(bad('.5').problem).to.equal('fraction');
    expect(bad('无')).to.include({ problem: 'not_number', message: '“无”不是数字，应填写不小于 0 的整数（没有请填 0）' });
    expect(bad('12个').problem).to.equal('not_number');
    expect(bad('50%').problem).to.equal('not_number');
    expect(bad('1e3').problem).to.equal('not_number');
    expect(bad('.').problem).to.equal('not_number');
    expect(bad(true).problem).to.equal('not_number');
    expect(bad(new Date(Date.UTC(2026, 0, 2))).message).to.equal('日期 2026-01-02 不是数字，应填写不小于 0 的整数（没有请填 0）');
    expect(bad({}).problem).to.equal('not_number');
    expect(bad(Number.NaN)).to.include({ problem: 'not_finite', message: 'NaN 不是有效的数值，应填写不小于 0 的整数' });
    expect(bad(Number.POSITIVE_INFINITY).problem).to.equal('not_finite');
    expect(bad(Number.NEGATIVE_INFINITY).problem).to.equal('not_finite');
    expect(bad('Infinity').problem).to.equal('not_finite');
    expect(bad('NaN').problem).to.equal('not_finite');
    expect(bad(Number.MAX_SAFE_INTEGER + 1)).to.include({ problem: 'too_large', message: '9007199254740992 超出允许的最大值 9007199254740991' });
    expect(bad('9007199254740992').problem).to.equal('too_large');
    expect(bad('99,999,999,999,999,999').problem).to.equal('too_large');
    expect(bad(1e300).problem).to.equal('too_large');
    expect(bad(9007199254740992n).problem).to.equal('too_large');
    expect(bad('12,34')).to.include({ problem: 'bad_grouping', message: '“12,34”的千位分隔符位置不正确，应填写不小于 0 的整数（如 1,234）' });
    expect(bad('1,2345').problem).to.equal('bad_grouping');
    expect(bad('1,,234').problem).to.equal('bad_grouping');
    expect(bad('').problem).to.equal('blank');
    expect(bad('   ').problem).to.equal('blank');
    expect(bad(null).message).to.equal('未填写，应填写不小于 0 的整数（没有请填 0）');
    expect(bad(undefined).problem).to.equal('blank');
  });

  describe('properties', () => {
    const separator = fc.constantFrom('', ',', '，', ' ', '\u00a0', ', ');
    /** Writes n the way a person might: grouped or not, half- or full-width digits, padded. */
    const written = (n: number, sep: string, fullWidth: boolean[], pad: [string, string]) => {
      let s = String(n);
      if (sep) s = s.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
      s = [...s].map((ch, i) => (fullWidth[i % fullWidth.length] ? toFullWidth(ch) : ch)).join('');
      return pad[0] + s + pad[1];
    };
    const pad = fc.tuple(fc.constantFrom('', ' ', '\u3000', '\t'), fc.constantFrom('', ' ', '\u3000'));

    it('any safe whole number, however written, parses back to itself', () => {
      fc.assert(
        fc.property(fc.maxSafeNat(), separator, fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), pad, (n, sep, fw, p) => {
          expect(ok(n)).to.equal(n);
          expect(ok(written(n, sep, fw, p))).to.equal(n);
        }),
        { numRuns: 500 },
      );
    });

    it('negatives are always refused, as numbers and as text', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), separator, fc.array(fc.boolean(), { minLength: 1 }), pad, fc.constantFrom('-', '－', '−'), (n, sep, fw, p, minus) => {
          expect(bad(-n).problem).to.equal('negative');
          expect(bad(minus + written(n, sep, fw, ['', ''])).problem).to.equal('negative');
          expect(bad(`${p[0]}(${written(n, sep, fw, ['', ''])})${p[1]}`).problem).to.equal('negative');
        }),
        { numRuns: 300 },
      );
    });

    it('fractions are always refused, as numbers and as text', () => {
      const fraction = fc
        .double({ min: 0, max: 1e9, noNaN: true, noDefaultInfinity: true })
        .filter((d) => !Number.isInteger(Number(d.toPrecision(15))));
      fc.assert(
        fc.property(fraction, (d) => {
          expect(bad(d).problem).to.equal('fraction');
        }),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(fc.nat(1e9), fc.stringMatching(/^[0-9]{0,5}[1-9][0-9]{0,3}$/), (i, frac) => {
          expect(bad(`${i}.${frac}`).problem).to.equal('fraction');
          expect(bad(toFullWidth(`${i}.${frac}`)).problem).to.equal('fraction');
        }),
        { numRuns: 300 },
      );
    });
  });
});

const valid = (): Record<FieldKey, number> => ({
  systems_total: 30, systems_extranet: 12, systems_cloud: 20, networks_private: 5, networks_standalone: 2,
  catalogue_items: 100, catalogue_shared: 80, requests_received: 40, requests_on_time: 38, duties_total: 200, duties_with_data: 150,
});

describe('validateReturnValues', () => {
  it('returns the 11 values when all is well (numeric text accepted)', () => {
    const r = validateReturnValues({ ...valid(), systems_total: '３０', catalogue_items: '1,00'.replace(',', '') });
    expect(r).to.deep.equal({ ok: true, values: valid() });
  });

  it('names the fields by their Chinese label', () => {
    const r = validateReturnValues({ ...valid(), systems_total: 10, systems_extranet: 12, systems_cloud: 5 });
    expect(r).to.deep.equal({
      ok: false,
      errors: [{ field: 'systems_extranet', message: '「已接入电子政务外网的系统数」12 大于「信息系统总数」10' }],
    });
  });

  it('lists every problem: missing, negative, fraction, text, unknown key, ≤ rules', () => {
    const input: Record<string, unknown> = { ...valid(), networks_private: -1, catalogue_shared: 2.5, duties_total: 'abc', foo: 1 };
    delete input.systems_cloud;
    input.requests_on_time = 41;
    const r = validateReturnValues(input);
    expect(r.ok).to.equal(false);
    if (r.ok) return;
    expect(r.errors).to.deep.equal([
      { field: 'systems_cloud', message: '「已部署政务云的系统数」未填写，应填写不小于 0 的整数（没有请填 0）' },
      { field: 'networks_private', message: '「业务专网总数」-1 为负数，应填写不小于 0 的整数' },
      { field: 'catalogue_shared', message: '「已发布共享的目录数」2.5 不是整数，应填写不小于 0 的整数' },
      { field: 'duties_total', message: '「权责清单事项数」“abc”不是数字，应填写不小于 0 的整数（没有请填 0）' },
      { field: 'foo', message: '未知的填报指标「foo」' },
      { field: 'requests_on_time', message: '「按时响应的共享申请数」41 大于「收到的共享申请数」40' },
    ]);
  });

  it('can ignore unknown keys (a form with _csrf) and refuses non-objects', () => {
    expect(validateReturnValues({ ...valid(), _csrf: 'x' }, { allowUnknown: true }).ok).to.equal(true);
    for (const v of [null, 5, 'x', [1, 2]]) {
      expect(validateReturnValues(v)).to.deep.equal({ ok: false, errors: [{ field: 'values', message: '填报数据应为由 11 项指标组成的对象' }] });
    }
  });

  it('property: accepted exactly when every ≤ rule holds, one error per broken rule', () => {
    const values = fc.record(Object.fromEntries(FIELD_KEYS.map((k) => [k, fc.nat(60)])) as Record<FieldKey, fc.Arbitrary<number>>);
    fc.assert(
      fc.property(values, (v) => {
        const broken = AT_MOST_RULES.filter(([f, b]) => v[f] > v[b]);
        const r = validateReturnValues(v);
        expect(r.ok).to.equal(broken.length === 0);
        expect(checkAtMostRules(v).map((x) => [x.field, x.bound])).to.deep.equal(broken.map(([f, b]) => [f, b]));
        if (!r.ok) {
          expect(r.errors).to.deep.equal(
            broken.map(([f, b]) => ({ field: f, message: `「${FIELD_LABELS[f]}」${v[f]} 大于「${FIELD_LABELS[b]}」${v[b]}` })),
          );
        } else {
          expect(r.values).to.deep.equal(v);
        }
      }),
      { numRuns: 500 },
    );
  });
});
