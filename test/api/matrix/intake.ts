// Role-matrix rows for intake: units, periods, returns (PUT / GET / review / upload / template /
// originals), notices, and the intake pages.
import { allow, signedIn, type MatrixContext, type MatrixRow } from '../../helpers/matrix.ts';
import { buildWorkbook, vals } from '../../intake/helpers.ts';

let seq = 0;

export async function setup(ctx: MatrixContext): Promise<void> {
  const put = await ctx.admin.put(`/api/v1/returns/2026Q4/${ctx.own}`, { values: vals(1) });
  if (put.status !== 200) throw new Error(`intake matrix setup: ${put.status} ${put.text}`);
  const buf = await buildWorkbook([{ code: ctx.own, values: vals(2) }]);
  const up = await ctx.admin.postFile('/api/v1/returns/upload?period=2026Q4', 'file', buf, 'matrix.xlsx');
  if (up.status !== 200) throw new Error(`intake matrix setup upload: ${up.status} ${up.text}`);
  ctx.vars.intakeBatch = up.body.batch;
}

const notOther = { admin: 200, reviewer: 200, office: 200, reporterOwn: 200, reporterOther: 403, anonymous: 401 } as const;

export const rows: MatrixRow[] = [
  { method: 'GET', path: '/api/v1/units', expect: signedIn(200) },
  { method: 'PUT', path: '/api/v1/units/MX01', body: () => ({ name: `矩阵新增单位${++seq}`, category: 'county' }), expect: allow(['admin'], '2xx') },
  { method: 'GET', path: '/api/v1/periods/2026Q4', expect: signedIn(200) },
  { method: 'PUT', path: '/api/v1/periods/2027Q1', body: { deadline: '2027-04-20T23:59:59+08:00' }, expect: allow(['admin'], '2xx') },
  { method: 'GET', path: '/api/v1/returns/template?period=2026Q4', expect: signedIn(200), note: 'reporters get their own unit' },
  { method: 'GET', path: '/api/v1/returns/template?period=2026Q4&unit={own}', expect: notOther },
  { method: 'GET', path: '/api/v1/returns?period=2026Q4', expect: signedIn(200), note: 'reporters see only their own unit' },
  { method: 'GET', path: '/api/v1/returns/2026Q4/{own}', expect: notOther },
  { method: 'GET', path: '/api/v1/returns/2026Q4/{own}/revisions', expect: notOther },
  { method: 'PUT', path: '/api/v1/returns/2026Q4/{own}', body: { values: vals(3) }, expect: allow(['admin', 'reporterOwn'], 200) },
  { method: 'POST', path: '/api/v1/returns/2026Q4/{own}/review', body: { decision: 'approve' }, expect: allow(['admin', 'reviewer'], 200) },
  {
    method: 'POST',
    path: '/api/v1/returns/upload?period=2026Q4',
    body: {},
    expect: { ...allow(['admin', 'reporterOwn', 'reporterOther'], 400) },
    note: 'roles checked before the body: a JSON body is a 400 (no file) for those who may upload',
  },
  { method: 'GET', path: '/api/v1/returns/uploads?period=2026Q4', expect: signedIn(200) },
  { method: 'GET', path: '/api/v1/returns/uploads/{var:intakeBatch}/file', expect: notOther },
  { method: 'GET', path: '/api/v1/notices?unit={own}', expect: signedIn(200), note: 'reporters always get their own unit' },
  { method: 'GET', path: '/returns', web: true, expect: allow(['admin', 'reporterOwn', 'reporterOther'], 200, { web: true }) },
  { method: 'GET', path: '/returns/2026Q4/{own}', web: true, expect: allow(['admin', 'reporterOwn'], 200, { web: true }) },
  { method: 'GET', path: '/review?period=2026Q4', web: true, expect: allow(['admin', 'reviewer'], 200, { web: true }) },
  { method: 'GET', path: '/admin/units', web: true, expect: allow(['admin'], 200, { web: true }) },
  { method: 'GET', path: '/admin/periods', web: true, expect: allow(['admin'], 200, { web: true }) },
];
