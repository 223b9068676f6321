// The template explains each field exactly as the web form does: the 说明 sheet's 口径, unit and rule
// columns and the header cells' notes are read back from the xlsx and compared with the one source
// (server/domain/fields.ts FIELD_DEFINITIONS).
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { FIELD_DEFINITIONS, FIELD_LABELS, fieldNote, fieldRuleText } from '../../server/domain/fields.ts';
import { buildTemplate } from '../../server/excel/template.ts';
import { TEMPLATE_INPUT } from '../fixtures/build-fixtures.ts';

function noteText(note: unknown): string {
  if (typeof note === 'string') return note;
  const texts = (note as { texts?: { text: string }[] } | undefined)?.texts;
  return texts ? texts.map((t) => t.text).join('') : '';
}

describe('template: 口径 and units from the one source', () => {
  let wb: ExcelJS.Workbook;
  before(async () => {
    wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await buildTemplate(TEMPLATE_INPUT)) as unknown as ExcelJS.Buffer);
  });

  it('every field has a 口径 text and a unit among 个 / 条 / 件 / 项', () => {
    expect(FIELD_DEFINITIONS).to.have.length(11);
    for (const f of FIELD_DEFINITIONS) {
      expect(f.definition.length, f.key).to.be.greaterThan(10);
      expect(['个', '条', '件', '项'], f.key).to.include(f.unit);
    }
    expect(fieldRuleText(FIELD_DEFINITIONS[1]!)).to.equal('必填；不小于 0 的整数（单位：个）；不得大于「信息系统总数」');
  });

  it('the 说明 sheet lists each field with its key, 口径, unit and rule, in column order', () => {
    const ws = wb.getWorksheet('说明')!;
    expect(ws.getRow(1).values).to.deep.equal([undefined, '列', '指标（表头）', '键（英文表头）', '口径（统计什么）', '计量单位', '校验规则']);
    const rows = FIELD_DEFINITIONS.map((_, i) => {
      const r = ws.getRow(4 + i);
      return { col: r.getCell(1).value, label: r.getCell(2).value, key: r.getCell(3).value, definition: r.getCell(4).value, unit: r.getCell(5).value, rule: r.getCell(6).value };
    });
    const letters = 'CDEFGHIJKLM';
    expect(rows).to.deep.equal(
      FIELD_DEFINITIONS.map((f, i) => ({ col: letters[i], label: f.label, key: f.key, definition: f.definition, unit: f.unit, rule: fieldRuleText(f) })),
    );
    expect(ws.getRow(4 + FIELD_DEFINITIONS.length).getCell(2).value).to.equal(null);
  });

  it('each header cell of the data sheet carries the same 口径, unit and rule as its note', () => {
    const ws = wb.worksheets[0]!;
    FIELD_DEFINITIONS.forEach((f, i) => {
      const cell = ws.getRow(3).getCell(3 + i);
      expect(cell.value).to.equal(f.label);
      const note = noteText(cell.note);
      expect(note).to.equal(fieldNote(f));
      expect(note.split('\n')).to.deep.equal([
        f.key,
        `口径：${f.definition}`,
        `单位：${f.unit}`,
        `规则：${fieldRuleText(f)}`,
      ]);
      if (f.atMost) expect(note).to.contain(`不得大于「${FIELD_LABELS[f.atMost]}」`);
    });
    // the code and name columns carry no note
    expect(ws.getCell('A3').note).to.equal(undefined);
  });
});
