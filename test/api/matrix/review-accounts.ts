// Role-matrix rows for the routes issue 14 and the account import added: bulk approval on the review
// board (POST /review/:period), the plausibility rule set (GET|POST /admin/plausibility), the bulk
// account import (its template, the page upload, the API upload), one's own password (/password), and
// the reading pages' query parameters given twice or not at all (/search, /compare, /annual, /review).
// Nothing here changes state for the other rows: the bulk approval picks a unit without a return, the
// rule-set draft and the imports are invalid, and the password change names a wrong current password.
import type { MatrixContext, MatrixRow, Who } from '../../helpers/matrix.ts';
import { allow, signedIn } from '../../helpers/matrix.ts';

const P = '2026Q4';
const notXlsx = () => Buffer.from('this is not a spreadsheet');

/** Admin and reviewer get `ok`; office and both reporters 403; anonymous `anonymous` (a page POST without a session: 403, the CSRF check). */
function reviewers(ok: number, anonymous = 403): Record<Who, number> {
  return { admin: ok, reviewer: ok, office: 403, reporterOwn: 403, reporterOther: 403, anonymous };
}
/** Admin only gets `ok`; every other signed-in caller 403; anonymous `anonymous`. */
function adminOnly(ok: number, anonymous: number): Record<Who, number> {
  return { admin: ok, reviewer: 403, office: 403, reporterOwn: 403, reporterOther: 403, anonymous };
}

export const rows: MatrixRow[] = [
  // 批量审核通过: back to the board with a message (here: the picked unit has no return, refused).
  {
    method: 'POST',
    path: `/review/${P}`,
    web: true,
    body: (_w: Who, ctx: MatrixContext) => ({ pick: [`${ctx.other}:1`], state: 'submitted' }),
    expect: reviewers(303),
    note: 'bulk approval: reviewers and admins; a unit without a return is refused in the message',
  },
  { method: 'POST', path: `/review/${P}`, web: true, body: {}, expect: reviewers(303), note: 'nothing picked: back to the board with a message' },
  { method: 'POST', path: `/review/${P}`, web: true, body: { scope: 'filtered', warn: 'with' }, expect: reviewers(303), note: 'every pending row of a filter (with warnings: none approved)' },
  { method: 'POST', path: '/review/not-a-period', web: true, body: {}, expect: reviewers(400), note: 'a malformed period' },
  { method: 'GET', path: `/review?period=${P}&period=2026Q3`, web: true, expect: allow(['admin', 'reviewer'], 200, { web: true }), note: 'the period given twice: as if not given (the board of the period being collected)' },
  // The plausibility rule set (admins).
  { method: 'GET', path: '/admin/plausibility', web: true, expect: allow(['admin'], 200, { web: true }) },
  {
    method: 'POST',
    path: '/admin/plausibility',
    web: true,
    body: { baseVersion: '1', rules: { 0: { enabled: 'on', factor: 'abc', floor: '5', fields: ['systems_total'] } } },
    expect: adminOnly(422, 403),
    note: 'an invalid draft: the form again with the problems, nothing saved',
  },
  // Bulk account import.
  { method: 'GET', path: '/admin/users/import/template', web: true, expect: allow(['admin'], 200, { web: true }) },
  {
    method: 'POST',
    path: '/admin/users/import',
    web: true,
    upload: { field: 'file', name: 'users.xlsx', data: notXlsx },
    expect: adminOnly(422, 303),
    note: 'not a workbook: the users page with the problems; anonymous: to the login page before the body is read',
  },
  { method: 'POST', path: '/admin/users/import', web: true, body: {}, expect: adminOnly(303, 403), note: 'no file: back with a message' },
  { method: 'POST', path: '/api/v1/users/import', upload: { field: 'file', name: 'users.xlsx', data: notXlsx }, expect: adminOnly(422, 401) },
  { method: 'POST', path: '/api/v1/users/import', body: {}, expect: adminOnly(400, 401), note: 'no file' },
  // One's own password: every signed-in account (a wrong current password changes nothing).
  { method: 'GET', path: '/password', web: true, expect: signedIn(200, { web: true }) },
  {
    method: 'POST',
    path: '/password',
    web: true,
    body: { current: 'not-the-current-password', password: 'Matrix-new-pass-9', confirm: 'Matrix-new-pass-9' },
    expect: { ...signedIn(422), anonymous: 403 },
    note: 'a wrong current password: the form again',
  },
  // Reading pages with a parameter missing or given twice: an answer, never a 500.
  { method: 'GET', path: '/search', web: true, expect: signedIn(200, { web: true }), note: 'no query: the empty search page' },
  { method: 'GET', path: '/search?q={own}&q={other}', web: true, expect: signedIn('allowed', { web: true }), note: 'q given twice' },
  { method: 'GET', path: `/compare?period=${P}&units={own}`, web: true, expect: signedIn(400, { web: true }), note: 'one unit only: refused before any data is read, whoever asks' },
  {
    method: 'GET',
    path: `/compare?period=${P}&period=2026Q3&units={own}&units={other}`,
    web: true,
    expect: signedIn(200, { web: true }),
    note: 'the period given twice: as if not given (the latest published period, which reporters may read; only their own 提分路径)',
  },
  { method: 'GET', path: '/annual?year=2026&year=2025', web: true, expect: signedIn(200, { web: true }), note: 'the year given twice: as if not given (the current year)' },
  { method: 'GET', path: '/annual?year=abc', web: true, expect: signedIn(400, { web: true }) },
];
