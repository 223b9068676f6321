// Role matrix rows for the foundation: auth, users, health, unknown routes, admin pages.
import { allow, everyone, signedIn, type MatrixContext, type MatrixRow } from '../../helpers/matrix.ts';

let seq = 0;

export async function setup(ctx: MatrixContext): Promise<void> {
  const r = await ctx.admin.post('/api/v1/users', { username: 'matrix-target', password: 'matrix-pass-1', role: 'office' });
  if (r.status !== 201) throw new Error(`matrix setup: ${r.status} ${r.text}`);
  ctx.vars.userId = r.body.id;
}

export const rows: MatrixRow[] = [
  { method: 'GET', path: '/healthz', expect: everyone(200) },
  { method: 'GET', path: '/api/v1/auth/me', expect: signedIn(200) },
  {
    method: 'POST',
    path: '/api/v1/auth/token',
    body: (who: string) => ({ username: `nobody-${who}`, password: 'wrong-password' }),
    expect: everyone(401),
    note: 'bad credentials are 401 whoever asks',
  },
  {
    method: 'POST',
    path: '/api/v1/users',
    body: () => ({ username: `m-user-${++seq}`, password: 'password-123', role: 'reviewer' }),
    expect: allow(['admin'], 201),
  },
  { method: 'GET', path: '/api/v1/users', expect: allow(['admin'], 200) },
  { method: 'GET', path: '/api/v1/users/{var:userId}', expect: allow(['admin'], 200) },
  { method: 'PATCH', path: '/api/v1/users/{var:userId}', body: { active: true }, expect: allow(['admin'], 200) },
  { method: 'GET', path: '/api/v1/no-such-route', expect: everyone(404) },
  { method: 'GET', path: '/admin', web: true, expect: allow(['admin'], 200, { web: true }) },
  { method: 'GET', path: '/admin/users', web: true, expect: allow(['admin'], 200, { web: true }) },
  { method: 'GET', path: '/login', web: true, expect: { ...everyone(303), anonymous: 200 }, note: 'signed-in callers are sent on' },
];
