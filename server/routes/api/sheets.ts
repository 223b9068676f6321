import { Router, type Response } from 'express';
import { clock } from '../../clock.ts';
import { assertCanSeeUnit, principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { periodTitle } from '../../excel/template.ts';
import { writeAnnualWorkbook, writeAssessmentWorkbook, writeUnitWorkbook } from '../../excel/workbook.ts';
import { annualResults, assertYear } from '../../services/eligibility.ts';
import { assertQuarter, timeZone } from '../../services/periods.ts';
import { assessmentSheetInput, unitSheetInput } from '../../services/sheets.ts';

// Assessment workbooks (考核表, SPEC §6/§7), streamed to the response:
//   GET /api/v1/results/:period/sheet.xlsx               ranking + returns + cases (admin, reviewer, office)
//   GET /api/v1/results/:period/units/:code/sheet.xlsx   printable single-unit sheet (reporters: own unit)
//   GET /api/v1/years/:year/sheet.xlsx                   annual results with merit eligibility (admin, reviewer, office)
// The period workbook carries every unit's raw returns and cases, so reporters get their own unit's
// sheet only. Mounted by server/app.ts at /api/v1.
export const router = Router();

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Characters that cannot appear in a file name on common systems (and quotes / controls). */
function fileSafe(s: string): string {
  return s.replace(/[\\/:*?"<>|\u0000-\u001f\u007f]+/g, '_').trim().slice(0, 120) || 'sheet';
}

/**
 * Content-Disposition with an ASCII fallback and the real (Chinese) name in RFC 5987 `filename*`.
 * encodeURIComponent leaves ' ( ) * ! unescaped, which RFC 5987's attr-char does not allow.
 */
export function contentDisposition(asciiName: string, utf8Name: string): string {
  const ascii = asciiName.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(fileSafe(utf8Name)).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

function startXlsx(res: Response, asciiName: string, utf8Name: string): void {
  res.status(200);
  res.setHeader('Content-Type', XLSX);
  res.setHeader('Content-Disposition', contentDisposition(asciiName, utf8Name));
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

router.get('/results/:period/sheet.xlsx', requireRole('admin', 'reviewer', 'office'), async (req, res) => {
  const period = assertQuarter(String(req.params.period));
  const input = await assessmentSheetInput(period);
  startXlsx(res, `assessment-${period}.xlsx`, `${periodTitle(period)}政务数据共享考核表.xlsx`);
  await writeAssessmentWorkbook(input, res);
});

router.get('/results/:period/units/:code/sheet.xlsx', requireAuth, async (req, res) => {
  const period = assertQuarter(String(req.params.period));
  const code = String(req.params.code);
  assertCanSeeUnit(principalOf(req), code);
  const { input, unitName } = await unitSheetInput(period, code);
  startXlsx(res, `assessment-${period}-${code}.xlsx`, `${period}-${unitName}-考核表.xlsx`);
  await writeUnitWorkbook(input, res);
});

router.get('/years/:year/sheet.xlsx', requireRole('admin', 'reviewer', 'office'), async (req, res) => {
  const year = assertYear(String(req.params.year));
  const view = await annualResults(year);
  startXlsx(res, `assessment-${year}.xlsx`, `${year}年度政务数据共享考核表.xlsx`);
  await writeAnnualWorkbook(
    {
      year,
      final: view.final,
      schemeVersion: view.schemeVersion,
      generatedAt: clock.now(),
      timeZone: timeZone(),
      results: view.results.map((r) => ({
        unit: r.unit,
        name: r.name,
        category: r.category,
        total: r.total,
        grade: r.grade,
        rank: r.rank,
        eligible: r.eligible,
        quarters: r.quarters,
        reasons: r.ineligibleReasons,
      })),
    },
    res,
  );
});
