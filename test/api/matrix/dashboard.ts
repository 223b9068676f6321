// Role-matrix rows for the read-side pages (总览, 排名, 单位详情, 问责, 填报进度) and the
// assessment workbook downloads. The intake rows' setup gives {own} a 2026Q4 return; results of
// 2026Q4 are provisional (computed on first read).
import { allow, signedIn, type MatrixRow } from '../../helpers/matrix.ts';

const staff = ['admin', 'reviewer', 'office'] as const;
const ownOnly = (ok: number | 'allowed') => ({ admin: ok, reviewer: ok, office: ok, reporterOwn: ok, reporterOther: 403, anonymous: 401 }) as const;

export const rows: MatrixRow[] = [
  // Workbooks: the period and annual workbooks hold every unit's returns → staff only; a unit's sheet → its reporter too.
  { method: 'GET', path: '/api/v1/results/2026Q4/sheet.xlsx', expect: allow([...staff], 200) },
  { method: 'GET', path: '/api/v1/results/2026Q4/units/{own}/sheet.xlsx', expect: ownOnly(200) },
  { method: 'GET', path: '/api/v1/results/2026Q4/units/{other}/sheet.xlsx', expect: allow([...staff], 200) },
  { method: 'GET', path: '/api/v1/years/2026/sheet.xlsx', expect: allow([...staff], 200) },
  // Pages.
  { method: 'GET', path: '/', web: true, expect: signedIn(200, { web: true }), note: 'reporters without published results see their own unit' },
  { method: 'GET', path: '/ranking?period=2026Q4', web: true, expect: { ...allow([...staff], 200, { web: true }), reporterOwn: 403, reporterOther: 403 }, note: 'provisional ranking: staff only' },
  { method: 'GET', path: '/units/{own}', web: true, expect: { ...ownOnly(200), anonymous: 303 } },
  { method: 'GET', path: '/units/{other}', web: true, expect: allow([...staff], 200, { web: true }) },
  { method: 'GET', path: '/accountability', web: true, expect: signedIn(200, { web: true }) },
  { method: 'GET', path: '/progress', web: true, expect: allow([...staff], 200, { web: true }) },
  { method: 'GET', path: '/annual?year=2026', web: true, expect: signedIn(200, { web: true }), note: 'reporters: their own row until the year is final' },
  { method: 'GET', path: '/annual?year=1999', web: true, expect: signedIn(404, { web: true }), note: 'no opened quarter in 1999' },
  { method: 'GET', path: '/search?q={own}', web: true, expect: { ...signedIn(303, { web: true }), reporterOther: 200 }, note: 'one match the viewer may open → its page; another unit\'s reporter gets the list without a link' },
  { method: 'GET', path: '/compare?period=2026Q4&units={own}&units={other}', web: true, expect: { ...allow([...staff], 200, { web: true }), reporterOwn: 403, reporterOther: 403 }, note: 'provisional period: staff only' },
  {
    method: 'POST',
    path: '/accountability/cases/000000000000000000000000/status',
    web: true,
    body: { status: 'rectifying', comment: '矩阵' },
    expect: { admin: 303, reviewer: 303, office: 403, reporterOwn: 403, reporterOther: 403, anonymous: 403 },
    note: 'reviewers and admins: back to the page with a message (no such case); anonymous: no CSRF session → 403',
  },
];
