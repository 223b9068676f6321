// Role-matrix rows for the results / accountability / years / jobs / scheme endpoints. Each row: the
// request and the roles that must NOT get 401/403 (every other role gets 403; anonymous gets 401).
// Reporters are bound to unit `ownUnit`; `{own}` / `{other}` in paths are replaced by the runner.
// (The foundation's matrix runner defines how rows are consumed; adapt the export name if needed.)
import type { Role } from '../../../server/domain/fields.ts';

export interface MatrixRow {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  allowed: readonly Role[];
  /** For reporters: allowed only for their own unit (the `{other}` variant is 403). */
  ownUnitOnly?: boolean;
}

const ALL: readonly Role[] = ['admin', 'reviewer', 'office', 'reporter'];

export const rows: readonly MatrixRow[] = [
  { method: 'GET', path: '/api/v1/results/2026Q3', allowed: ALL },
  { method: 'GET', path: '/api/v1/results/2026Q3/units/{own}/explain', allowed: ALL, ownUnitOnly: true },
  { method: 'GET', path: '/api/v1/results/2026Q3/units/{other}/explain', allowed: ['admin', 'reviewer', 'office'] },
  { method: 'POST', path: '/api/v1/results/2026Q3/publish', allowed: ['admin', 'reviewer'] },
  { method: 'POST', path: '/api/v1/results/2026Q3/reopen', body: { reason: '更正' }, allowed: ['admin'] },
  { method: 'GET', path: '/api/v1/accountability?period=2026Q3', allowed: ALL },
  { method: 'GET', path: '/api/v1/accountability?unit={other}', allowed: ['admin', 'reviewer', 'office'] },
  { method: 'PATCH', path: '/api/v1/accountability/cases/000000000000000000000000', body: { status: 'rectifying', comment: 'x' }, allowed: ['admin', 'reviewer'] },
  { method: 'GET', path: '/api/v1/years/2026/results', allowed: ALL },
  { method: 'POST', path: '/api/v1/jobs/score/run', body: {}, allowed: ['admin', 'reviewer'] },
  { method: 'POST', path: '/api/v1/jobs/remind/run', body: {}, allowed: ['admin'] },
  { method: 'GET', path: '/api/v1/jobs/runs', allowed: ['admin'] },
  { method: 'GET', path: '/api/v1/scheme', allowed: ALL },
  { method: 'POST', path: '/api/v1/scheme/preview', body: { scheme: {} }, allowed: ['admin'] },
  { method: 'PUT', path: '/api/v1/scheme', body: { scheme: {} }, allowed: ['admin'] },
];

export default rows;
