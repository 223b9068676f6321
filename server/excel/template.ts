// The returns template of a period (SPEC §6): plain data in, an xlsx Buffer out.
//
// Sheet 1 (填报表): a title row naming the period and the deadline, a notes row, the header row
// (单位代码, 单位名称 and the 11 Chinese labels), a second header line with the keys
// (unit_code, unit_name, systems_total …) that the upload parser recognises as a header line too,
// then one row per unit with code and name filled in. Value cells carry data validation (whole
// number ≥ 0) and a conditional format that turns a broken "≤" rule red while typing.
// Sheet 2 (说明): what each field counts (口径), its unit and its checks, for people filling it in.
// 口径, unit and checks come from server/domain/fields.ts (FIELD_DEFINITIONS), as on the web form;
// the header cells' notes say the same (fieldNote).

import ExcelJS from 'exceljs';
import { FIELD_DEFINITIONS, FIELD_LABELS, fieldNote, fieldRuleText, RETURN_FIELDS, type FieldKey } from '../domain/fields.ts';
import { columnLetter } from './upload-parse.ts';

export interface TemplateUnit {
  code: string;
  name: string;
  category?: string;
}

export interface TemplateInput {
  /** e.g. 2026Q3 */
  period: string;
  deadline: Date | string;
  /** IANA time zone the deadline is shown in, e.g. Asia/Shanghai. */
  timeZone: string;
  units: TemplateUnit[];
}

const HEADER_ROW = 3;
const KEY_ROW = 4;
const FIRST_UNIT_ROW = 5;

/** 2026Q3 → 2026年第3季度; 2026 → 2026年度; anything else unchanged. */
export function periodTitle(period: string): string {
  const q = /^(\d{4})Q([1-4])$/.exec(period);
  if (q) return `${q[1]}年第${q[2]}季度`;
  if (/^\d{4}$/.test(period)) return `${period}年度`;
  return period;
}

// One formatter per time zone: building an Intl.DateTimeFormat costs ≈ 100 µs, and the assessment
// workbook formats two dates per return and per case.
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** "2026-10-15 23:59:59" in the given time zone. */
export function formatDateTime(when: Date | string, timeZone: string): string {
  const d = typeof when === 'string' ? new Date(when) : when;
  if (Number.isNaN(d.getTime())) return String(when);
  let fmt = dateTimeFormats.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dateTimeFormats.set(timeZone, fmt);
  }
  const parts = Object.fromEntries(fmt.formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

const thin = { style: 'thin' as const, color: { argb: 'FFB7B7B7' } };
const BORDER: Partial<ExcelJS.Borders> = { top: thin, left: thin, bottom: thin, right: thin };
const fill = (argb: string): ExcelJS.Fill => ({ type: 'pattern', pattern: 'solid', fgColor: { argb } });

export async function buildTemplate(input: TemplateInput): Promise<Buffer> {
  const { period, timeZone, units } = input;
  const deadline = formatDateTime(input.deadline, timeZone);
  const wb = new ExcelJS.Workbook();
  wb.creator = '政务数据共享考核平台';
  wb.title = `${periodTitle(period)}政务数据共享考核填报表`;
  wb.subject = period;

  const lastCol = 2 + RETURN_FIELDS.length;
  const lastLetter = columnLetter(lastCol);
  const ws = wb.addWorksheet('填报表', {
    views: [{ state: 'frozen', xSplit: 2, ySplit: KEY_ROW, topLeftCell: `C${FIRST_UNIT_ROW}`, activeCell: `C${FIRST_UNIT_ROW}` }],
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: `${HEADER_ROW}:${KEY_ROW}` },
  });

  // Title and notes.
  ws.mergeCells(`A1:${lastLetter}1`);
  const title = ws.getCell('A1');
  title.value = `${periodTitle(period)}（${period}）政务数据共享考核填报表　报送截止时间：${deadline}（${timeZone}）`;
  title.font = { bold: true, size: 15 };
  title.alignment = { horizontal: 'center', vertical: 'middle' };
  ws.getRow(1).height = 30;
  ws.mergeCells(`A2:${lastLetter}2`);
  const notes = ws.getCell('A2');
  notes.value =
    '填写说明：每个单位一行；数值请填不小于 0 的整数（没有请填 0）；请勿修改表头和单位代码；' +
    '保存为 .xlsx 格式上传；各项含义和校验规则见“说明”工作表。';
  notes.font = { size: 10, color: { argb: 'FF595959' } };
  notes.alignment = { wrapText: true, vertical: 'middle' };
  ws.getRow(2).height = 30;

  // Header (labels) and the key line.
  const labels = ['单位代码', '单位名称', ...RETURN_FIELDS.map((f) => f.label)];
  const keys = ['unit_code', 'unit_name', ...RETURN_FIELDS.map((f) => f.key)];
  const header = ws.getRow(HEADER_ROW);
  const keyRow = ws.getRow(KEY_ROW);
  labels.forEach((label, i) => {
    const c = header.getCell(i + 1);
    c.value = label;
    c.font = { bold: true };
    c.fill = fill('FFDDEBF7');
    c.border = BORDER;
    c.alignment = { wrapText: true, horizontal: 'center', vertical: 'middle' };
    const k = keyRow.getCell(i + 1);
    k.value = keys[i]!;
    k.font = { size: 9, italic: true, color: { argb: 'FF7F7F7F' } };
    k.fill = fill('FFF2F2F2');
    k.border = BORDER;
    k.alignment = { horizontal: 'center' };
  });
  FIELD_DEFINITIONS.forEach((f, i) => {
    header.getCell(i + 3).note = fieldNote(f);
  });
  header.height = 48;

  // One row per unit.
  const last = FIRST_UNIT_ROW + Math.max(units.length, 1) - 1;
  units.forEach((u, i) => {
    const row = ws.getRow(FIRST_UNIT_ROW + i);
    const code = row.getCell(1);
    code.value = String(u.code);
    code.numFmt = '@';
    const name = row.getCell(2);
    name.value = String(u.name); // always a string: a name starting with "=" stays text
    name.numFmt = '@';
    for (const c of [code, name]) {
      c.fill = fill('FFF2F2F2');
      c.border = BORDER;
    }
    for (let col = 3; col <= lastCol; col++) {
      const c = row.getCell(col);
      c.numFmt = '0';
      c.border = BORDER;
    }
  });

  // Whole numbers ≥ 0 in every value cell.
  if (units.length > 0) {
    const validation: ExcelJS.DataValidation = {
      type: 'whole',
      operator: 'greaterThanOrEqual',
      allowBlank: true,
      formulae: [0],
      showErrorMessage: true,
      errorStyle: 'stop',
      errorTitle: '请输入整数',
      error: '请填写不小于 0 的整数（没有请填 0）。',
      showInputMessage: false,
    };
    (ws as unknown as { dataValidations: { add(range: string, v: ExcelJS.DataValidation): void } }).dataValidations.add(
      `C${FIRST_UNIT_ROW}:${lastLetter}${last}`,
      validation,
    );

    // A broken "≤" rule turns the cell red.
    for (const f of RETURN_FIELDS) {
      if (!('atMost' in f)) continue;
      const col = columnLetter(3 + RETURN_FIELDS.findIndex((x) => x.key === f.key));
      const bound = columnLetter(3 + RETURN_FIELDS.findIndex((x) => x.key === f.atMost));
      const r = FIRST_UNIT_ROW;
      ws.addConditionalFormatting({
        ref: `${col}${r}:${col}${last}`,
        rules: [
          {
            type: 'expression',
            priority: 1,
            formulae: [`AND(ISNUMBER(${col}${r}),ISNUMBER($${bound}${r}),${col}${r}>$${bound}${r})`],
            style: { fill: { type: 'pattern', pattern: 'solid', bgColor: { argb: 'FFFFC7CE' } }, font: { color: { argb: 'FF9C0006' } } },
          },
        ],
      });
    }
  }

  ws.getColumn(1).width = 12;
  ws.getColumn(2).width = 26;
  for (let col = 3; col <= lastCol; col++) ws.getColumn(col).width = 15;

  addInstructions(wb, period, deadline, timeZone);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

function addInstructions(wb: ExcelJS.Workbook, period: string, deadline: string, timeZone: string) {
  const ws = wb.addWorksheet('说明', { pageSetup: { paperSize: 9, orientation: 'portrait', fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
  ws.columns = [
    { header: '列', key: 'col', width: 6 },
    { header: '指标（表头）', key: 'label', width: 28 },
    { header: '键（英文表头）', key: 'key', width: 22 },
    { header: '口径（统计什么）', key: 'help', width: 56 },
    { header: '计量单位', key: 'unit', width: 10 },
    { header: '校验规则', key: 'rule', width: 40 },
  ];
  const head = ws.getRow(1);
  head.font = { bold: true };
  head.eachCell((c) => {
    c.fill = fill('FFDDEBF7');
    c.border = BORDER;
  });
  ws.addRow({ col: 'A', label: '单位代码', key: 'unit_code', help: '系统登记的单位代码，已预先填好，请勿修改。', unit: '', rule: '必填；必须是已登记的单位；每个单位只能有一行' });
  ws.addRow({ col: 'B', label: '单位名称', key: 'unit_name', help: '已预先填好，便于核对。', unit: '', rule: '可留空；与登记名称或简称不一致时给出提示；如写成其他单位的名称则不予导入' });
  FIELD_DEFINITIONS.forEach((f, i) => {
    ws.addRow({ col: columnLetter(i + 3), label: f.label, key: f.key, help: f.definition, unit: f.unit, rule: fieldRuleText(f) });
  });
  ws.eachRow((row, n) => {
    if (n === 1) return;
    row.eachCell((c) => {
      c.border = BORDER;
      c.alignment = { wrapText: true, vertical: 'top' };
    });
  });
  ws.addRow([]);
  const general = [
    `报送期次：${periodTitle(period)}（${period}）；报送截止时间：${deadline}（${timeZone}）。截止时间后首次报送的视为逾期，按考核方案扣分。`,
    '文件要求：只接受 .xlsx 格式（旧版 .xls、WPS .et、CSV 请先“另存为” .xlsx），不超过 10 MB，不要设置打开密码。',
    '系统读取第一个有表头的可见工作表（本表前面的说明页、封面页和隐藏的工作表会被跳过）：表头为含“单位代码”的那一行（须在前 20 行内），表头上方的标题行和空行会被忽略；列的顺序可以调整，可以增加备注等其他列。',
    '每个单位一行；只有单位代码而没有填写任何数值的行不会导入；“合计”行会被忽略。',
    '数值可以是数字或数字文本，允许全角数字和千位分隔符（如 1,234）；不能是负数、小数、文字或空白（没有请填 0）。公式可以使用，系统读取保存时的计算结果。',
    '以下指标不得大于其对应的总数：' +
      RETURN_FIELDS.filter((f) => 'atMost' in f)
        .map((f) => `「${f.label}」≤「${FIELD_LABELS[(f as { atMost: FieldKey }).atMost]}」`)
        .join('，') +
      '。违反时单元格显示为红色，上传时会被拒绝。',
    '整个文件要么全部导入，要么全部不导入：只要有一处错误，系统会列出所有错误（第几行、哪一列、什么问题），请改正后重新上传。每次成功上传都会生成新的修订版本，不会覆盖历史数据。',
  ];
  const startRow = ws.rowCount + 1;
  ws.addRow(['填写须知']).font = { bold: true, size: 12 };
  general.forEach((text, i) => {
    const r = startRow + 1 + i;
    ws.mergeCells(`A${r}:F${r}`);
    const c = ws.getCell(`A${r}`);
    c.value = `${i + 1}. ${text}`;
    c.alignment = { wrapText: true, vertical: 'top' };
    ws.getRow(r).height = 36;
  });
}
