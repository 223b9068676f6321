// Role-matrix rows for the paths besides the happy one (issue 12, item 4): refused submissions that
// re-render a form, refused uploads, previews, confirms and cancels of staged uploads, and the lists
// a reporter reads. The setup gives {own} private data (a rejection reason, a submitter's name, an
// upload's file name) that the matrix checks no response to another unit's reporter or to an
// anonymous caller ever shows (ctx.secrets), whatever the status.
import { expect } from 'chai';
import type { MatrixContext, MatrixRow, Who } from '../../helpers/matrix.ts';
import { buildWorkbook, vals } from '../../intake/helpers.ts';

const P = '2026Q4';
const SECRET_REASON = '矩阵秘密退回理由甲';
const SECRET_SUBMITTER = 'mxsecretsubmitter';
const SECRET_FILE = '矩阵秘密混合批次.xlsx';

/** Stages an upload of {own} through the page (as its reporter) → the batch id. */
async function stage(ctx: MatrixContext): Promise<string> {
  const buf = await buildWorkbook([{ code: ctx.own, values: vals(7) }]);
  const r = await ctx.t.api(ctx.tokens.reporterOwn).postFile(`/returns/upload?period=${P}`, 'file', buf, 'staged.xlsx', {}, { accept: 'text/html' });
  expect(r.status, r.text.slice(0, 200)).to.equal(303);
  const m = /\/returns\/uploads\/([0-9a-f]{24})$/.exec(r.headers.get('location') ?? '');
  if (!m) throw new Error(`web-scope setup: no batch in ${r.headers.get('location')}`);
  return m[1]!;
}

export async function setup(ctx: MatrixContext): Promise<void> {
  const { t } = ctx;
  // A revision by a reporter of {own} with a telling name, rejected with a telling reason.
  const submitter = await t.userFor('reporter', ctx.own, { username: SECRET_SUBMITTER });
  const put = await t.api(submitter.token).put(`/api/v1/returns/${P}/${ctx.own}`, { values: vals(4) });
  expect(put.status, put.text).to.equal(200);
  const rej = await t.api(ctx.tokens.reviewer).post(`/api/v1/returns/${P}/${ctx.own}/review`, { decision: 'reject', reason: SECRET_REASON });
  expect(rej.status, rej.text).to.equal(200);
  // An admin's batch holding {own} and the other reporter's unit: that reporter sees their own row of
  // it in the uploads list, never {own}'s, nor the file's name.
  const mixed = await buildWorkbook([
    { code: ctx.own, values: vals(5) },
    { code: ctx.otherReporterUnit, values: vals(6) },
  ]);
  const up = await ctx.admin.postFile(`/api/v1/returns/upload?period=${P}`, 'file', mixed, SECRET_FILE);
  expect(up.status, up.text).to.equal(200);
  ctx.secrets.push(SECRET_REASON, SECRET_SUBMITTER, SECRET_FILE);
  // Three staged uploads of {own}'s reporter: one to preview, one to cancel, one to confirm.
  ctx.vars.stagedPreview = await stage(ctx);
  ctx.vars.stagedCancel = await stage(ctx);
  ctx.vars.stagedConfirm = await stage(ctx);
}

const notXlsx = () => Buffer.from('this is not a spreadsheet');
const validOwn = async (ctx: MatrixContext) => buildWorkbook([{ code: ctx.own, values: vals(8) }]);
const invalidValues = (): Record<string, unknown> => ({ ...vals(1), systems_total: 'abc' });

/** Staff who may not fill returns; and what the two reporters and anonymous get, given. */
function e(admin: number, reporterOwn: number, reporterOther: number, anonymous: number, staff = 403): Record<Who, number> {
  return { admin, reviewer: staff, office: staff, reporterOwn, reporterOther, anonymous };
}

export const rows: MatrixRow[] = [
  // The form and its re-render after a refused submission (422 with the form) — only for those who may fill it.
  { method: 'GET', path: `/returns/${P}/{own}`, web: true, expect: e(200, 200, 403, 303) },
  { method: 'POST', path: `/returns/${P}/{own}`, web: true, body: invalidValues, expect: e(422, 422, 403, 403), note: 'refused values re-render the form' },
  {
    method: 'POST',
    path: `/returns/${P}/{own}`,
    web: true,
    body: { ...vals(1), systems_total: { toString: 1 } },
    expect: e(422, 422, 403, 403),
    note: 'an object for a value: 422 with the form, never a 500',
  },
  { method: 'GET', path: '/returns?unit={own}', web: true, expect: e(200, 200, 200, 303), note: "a reporter's ?unit= is ignored: their own unit" },
  // Refused uploads: the form shown again is the caller's own (a reporter's `unit` must be theirs).
  // Anonymous: sent to the login page before the body is read (the form's CSRF field is checked after
  // multer parses it, and requireRole comes first).
  {
    method: 'POST',
    path: `/returns/upload?period=${P}&unit={own}`,
    web: true,
    upload: { field: 'file', name: 'bad.xlsx', data: notXlsx },
    expect: e(422, 422, 403, 303),
    note: "an invalid file re-renders {own}'s form: not for another unit's reporter",
  },
  {
    method: 'POST',
    path: `/returns/upload?period=${P}&unit={own}`,
    web: true,
    upload: { field: 'file', name: 'bad.xlsx', data: notXlsx },
    headers: { 'x-requested-with': 'XMLHttpRequest' },
    expect: e(422, 422, 403, 303),
    note: "the page script's upload",
  },
  {
    method: 'POST',
    path: `/returns/upload?period=${P}`,
    web: true,
    upload: { field: 'file', name: 'bad.xlsx', data: notXlsx },
    expect: e(422, 422, 422, 303),
    note: "without unit: a reporter gets their own unit's form",
  },
  {
    method: 'POST',
    path: `/returns/upload?period=${P}&unit={own}`,
    web: true,
    upload: { field: 'file', name: 'own.xlsx', data: validOwn },
    expect: e(303, 303, 403, 303),
    note: "a valid file with another unit's unit=: refused before staging",
  },
  // Staged uploads: only their uploader previews, confirms or cancels them (others: 404, nothing shown).
  { method: 'GET', path: '/returns/uploads/{var:stagedPreview}', web: true, expect: e(404, 200, 404, 303) },
  { method: 'POST', path: '/returns/uploads/{var:stagedCancel}/cancel', web: true, expect: e(404, 303, 404, 403) },
  { method: 'POST', path: '/returns/uploads/{var:stagedConfirm}/confirm', web: true, expect: e(404, 303, 404, 403) },
  { method: 'POST', path: '/returns/uploads/000000000000000000000000/cancel', web: true, expect: e(404, 404, 404, 403), note: 'no such batch' },
  // Review pages and a refused review (a redirect with a message): reviewers and admins only.
  { method: 'GET', path: `/review/${P}/{own}`, web: true, expect: { ...e(200, 403, 403, 303, 403), reviewer: 200 } },
  { method: 'POST', path: `/review/${P}/{own}`, web: true, body: { decision: 'maybe' }, expect: { ...e(303, 403, 403, 403, 403), reviewer: 303 }, note: 'refused decision' },
  // Read-side pages a reporter reaches, with the parameters that pick a period or a scope: statuses as
  // in dashboard.ts, and (the leak check) nothing of {own}'s private data for another unit's reporter.
  { method: 'GET', path: `/?period=${P}`, web: true, expect: e(200, 403, 403, 303, 200), note: 'an unpublished period: staff only' },
  { method: 'GET', path: `/?period=${P}&scope=department`, web: true, expect: e(200, 403, 403, 303, 200), note: 'an unpublished period: staff only' },
  { method: 'GET', path: `/units/{own}?period=${P}`, web: true, expect: e(200, 200, 403, 303, 200) },
  { method: 'GET', path: `/accountability?period=${P}&status=all`, web: true, expect: e(200, 200, 200, 303, 200) },
  // Lists: a reporter's show their own unit only.
  { method: 'GET', path: `/api/v1/returns/uploads?period=${P}`, expect: e(200, 200, 200, 401, 200), note: "a reporter sees their own row of an admin's batch, not its file name" },
  { method: 'GET', path: `/api/v1/returns/uploads?period=${P}&unit={own}`, expect: e(200, 200, 200, 401, 200) },
  { method: 'GET', path: `/api/v1/returns?period=${P}`, expect: e(200, 200, 200, 401, 200) },
  { method: 'GET', path: '/api/v1/notices?unit={own}', expect: e(200, 200, 200, 401, 200) },
  { method: 'GET', path: `/api/v1/accountability?period=${P}`, expect: e(200, 200, 200, 401, 200) },
  { method: 'GET', path: `/api/v1/accountability?period=${P}&unit={own}`, expect: e(200, 200, 403, 401, 200) },
];
