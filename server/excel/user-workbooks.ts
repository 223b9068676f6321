// The bulk user import's workbooks (issue 17): the template of the account list (read by user-list.ts)
// and the one-time list of initial passwords. Plain data in, xlsx Buffers out.
import ExcelJS from 'exceljs';
import { safeText } from './workbook.ts';

export interface UserTemplateUnit {
  code: string;
  name: string;
  /** Suggested user name (the admin may change it). */
  username: string;
}

const HEAD = ['单位代码', '单位名称', '用户名', '姓名', '角色'] as const;

function styleHeader(ws: ExcelJS.Worksheet, widths: number[]) {
  ws.columns = widths.map((width) => ({ width }));
  const h = ws.getRow(1);
  h.font = { bold: true };
  h.alignment = { vertical: 'middle' };
  h.eachCell((c) => {
    c.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE8EEF7' } };
  });
  ws.views = [{ state: 'frozen', ySplit: 1 }];
}

/**
 * The template of the import: one row per given unit (code, name, a suggested user name, 单位填报员),
 * 姓名 to fill in; a 角色 list to choose from; a 说明 sheet after the data sheet.
 */
export async function userTemplateBuffer(units: readonly UserTemplateUnit[], roleLabels: readonly string[], defaultRole: string): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('用户清单');
  ws.addRow([...HEAD]);
  styleHeader(ws, [14, 30, 18, 14, 20]);
  for (const u of units) ws.addRow([safeText(u.code), safeText(u.name), safeText(u.username), '', defaultRole]);
  const last = Math.max(units.length + 1, 200);
  for (let r = 2; r <= last; r++) {
    for (let c = 1; c <= 4; c++) ws.getCell(r, c).numFmt = '@';
    ws.getCell(r, 5).dataValidation = {
      type: 'list',
      allowBlank: true,
      formulae: [`"${roleLabels.join(',')}"`],
      showErrorMessage: true,
      errorTitle: '角色无效',
      error: `请从列表中选择：${roleLabels.join('、')}`,
    };
  }
  const help = wb.addWorksheet('说明');
  help.columns = [{ width: 16 }, { width: 80 }];
  help.addRow(['列', '说明']).font = { bold: true };
  help.addRow(['用户名', '必填。2–64 位字母、数字或 _ . @ -，不能与已有账号或本表其他行重复。']);
  help.addRow(['单位代码', '单位填报员必填，须为已登记的单位；每个单位在本表中只能出现一次。其他角色不填。']);
  help.addRow(['单位名称', '仅供核对，导入时不读取。']);
  help.addRow(['姓名', '选填，账号使用人的姓名。']);
  help.addRow(['角色', `选填，不填即为单位填报员。可选：${roleLabels.join('、')}。`]);
  help.addRow(['初始密码', '由系统随机生成，导入成功后只显示一次（可当场下载）；用户首次登录须修改密码。']);
  help.addRow(['整表校验', '任何一行有误，整个文件都不导入，并列出每处错误（行、列、原因）。']);
  help.getColumn(2).alignment = { wrapText: true, vertical: 'top' };
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export interface InitialPassword {
  username: string;
  displayName: string | null;
  role: string;
  unit: string | null;
  unitName: string | null;
  password: string;
}

/** The one-time list of initial passwords (given to the admin once, never stored). */
export async function initialPasswordsBuffer(rows: readonly InitialPassword[], meta: { at: string; by: string }): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('初始密码');
  ws.addRow(['单位代码', '单位名称', '用户名', '姓名', '角色', '初始密码']);
  styleHeader(ws, [14, 30, 18, 14, 20, 22]);
  for (const r of rows) {
    ws.addRow([r.unit, r.unitName, r.username, r.displayName, r.role, r.password].map((v) => (v === null ? '' : safeText(v))));
  }
  ws.addRow([]);
  ws.addRow([`${meta.at} 由 ${safeText(meta.by)} 导入。初始密码只在此文件中出现一次，请妥善分发后删除本文件；用户首次登录须修改密码。`]);
  return Buffer.from(await wb.xlsx.writeBuffer());
}
