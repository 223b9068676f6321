// Pure presenters of the returns form: issueTable (errors and warnings as table lines, one line per
// row refused whole) and formRatios (the scheme's indicator values of what is typed).
import { expect } from 'chai';
import { formIndicators, formRatios } from '../../server/domain/form-ratios.ts';
import { issueTable } from '../../server/domain/issues.ts';
import { DEFAULT_SCHEME } from '../../server/domain/scoring/scheme.ts';

describe('issueTable', () => {
  it('folds the other problems of a row refused whole into its line and drops that row\'s warnings', () => {
    const errors = [
      { sheet: 'S', row: 3, column: 'E', field: 'networks_private', message: '第3行 E列「业务专网总数」不能是负数' },
      { sheet: 'S', row: 4, column: 'A', field: 'unit_code', message: '第4行 A列 单位代码 D002 不是您所在的单位' },
      { sheet: 'S', row: 4, column: 'C', field: 'systems_total', message: '第4行 C列「信息系统总数」不是数字' },
      { sheet: 'S', row: 4, column: 'L', field: 'duties_total', message: '第4行 L列「权责清单事项数」不能是负数' },
      { sheet: null, row: null, column: null, field: null, message: '错误过多' },
    ];
    const warnings = [
      { sheet: 'S', row: 4, column: 'B', field: 'unit_name', message: '第4行 B列 名称不一致' },
      { sheet: 'S', row: 3, column: 'B', field: 'unit_name', message: '第3行 B列 名称不一致' },
    ];
    const lines = issueTable(errors, warnings);
    expect(lines.map((l) => [l.kind, l.row, l.column, l.fieldLabel, l.message, l.folded, l.wholeRow])).to.deep.equal([
      ['error', 3, 'E', '业务专网总数', '「业务专网总数」不能是负数', 0, false],
      ['error', 4, 'A', '单位代码', '单位代码 D002 不是您所在的单位', 2, true],
      ['error', null, null, null, '错误过多', 0, false],
      ['warning', 3, 'B', '单位名称', '名称不一致', 0, false],
    ]);
  });

  it('keeps a web form\'s {field, message} problems as they are', () => {
    expect(issueTable([{ field: 'values', message: 'x' }, { field: 'systems_total', message: '第3行不是前缀' }])).to.deep.equal([
      { kind: 'error', sheet: null, row: null, column: null, field: 'values', fieldLabel: null, message: 'x', folded: 0, wholeRow: false },
      { kind: 'error', sheet: null, row: null, column: null, field: 'systems_total', fieldLabel: '信息系统总数', message: '第3行不是前缀', folded: 0, wholeRow: false },
    ]);
  });
});

describe('formRatios', () => {
  const defs = formIndicators(DEFAULT_SCHEME.indicators);
  const byId = (raw: Record<string, unknown>) => Object.fromEntries(formRatios(defs, raw).map((r) => [r.id, r.note ?? r.value]));

  it('computes each indicator from typed text as the server parses it, and says what is missing', () => {
    expect(defs[2]!.formula).to.equal('(业务专网总数 − 仍独立运行的业务专网数) ÷ 业务专网总数');
    const r = byId({ systems_total: '１，０００', systems_extranet: '250', systems_cloud: 'abc', networks_private: '0', networks_standalone: '0', catalogue_items: '0', catalogue_shared: '0', requests_received: '8', requests_on_time: '', duties_total: 4, duties_with_data: 5 });
    expect(r).to.deep.equal({ I1: 0.25, I2: '不适用', I3: 1, I4: '待填写', I5: '待填写', I6: 1.25 });
    expect(byId({})).to.deep.equal({ I1: '待填写', I2: '待填写', I3: '待填写', I4: '待填写', I5: '待填写', I6: '待填写' });
  });
});
