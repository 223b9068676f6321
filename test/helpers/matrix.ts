// The role matrix: route × role → expected status. Each area adds a file test/api/matrix/<area>.ts
// exporting `rows: MatrixRow[]` (and optionally `setup(ctx)` to create the data its rows need);
// test/api/role-matrix.test.ts loads every file of that folder and checks every row for all six callers.
import type { ApiClient, TestApp } from './app.ts';

export const WHO = ['admin', 'reviewer', 'office', 'reporterOwn', 'reporterOther', 'anonymous'] as const;
export type Who = (typeof WHO)[number];

/**
 * An exact status, a class ('2xx' | '3xx' | '4xx'), or 'allowed': the caller gets past
 * authorization (neither 401 nor 403; any other status below 500, e.g. 404 for missing data).
 */
export type Expect = number | '2xx' | '3xx' | '4xx' | 'allowed';

export interface MatrixContext {
  t: TestApp;
  /** The unit of `reporterOwn` (created before any setup): `{own}` in paths. */
  own: string;
  /** Another unit, nobody's in the matrix: `{other}` in paths. */
  other: string;
  /** The unit of `reporterOther` (a reporter of neither `own` nor `other`). */
  otherReporterUnit: string;
  tokens: Record<Exclude<Who, 'anonymous'>, string>;
  /** An admin client for setup. */
  admin: ApiClient;
  /** Free-form values set by setup functions (ids …). */
  vars: Record<string, string>;
  /**
   * Texts only {own}'s unit-private data holds (a rejection reason, a submitter's name, a file name),
   * added by setup functions: no response to `reporterOther` or `anonymous`, on any row and whatever
   * its status, may contain one of them.
   */
  secrets: string[];
}

/** A multipart upload instead of a JSON body (the file field, its name and bytes, extra text fields). */
export interface MatrixUpload {
  field: string;
  name: string;
  data: (ctx: MatrixContext) => Buffer | Promise<Buffer>;
  fields?: Record<string, string>;
}

export interface MatrixRow {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path; `{own}` / `{other}` are replaced by ctx.own / ctx.other, `{var:name}` by ctx.vars[name]. */
  path: string;
  /** JSON body (or a function of the caller, e.g. for unique names). */
  body?: unknown | ((who: Who, ctx: MatrixContext) => unknown);
  /** Multipart upload (POST only); replaces `body`. */
  upload?: MatrixUpload;
  /** Extra request headers (e.g. X-Requested-With for the upload page's script). */
  headers?: Record<string, string>;
  /** A page (Accept: text/html): anonymous callers are redirected (303) instead of 401. */
  web?: boolean;
  /** Expected status for each of the six callers (all six required) … */
  expect?: Record<Who, Expect>;
  /**
   * … or, shorter, the roles that get past authorization ('allowed'); every other signed-in
   * caller gets 403, anonymous 401 (303 for pages). A 'reporter' here means both reporters,
   * unless `ownUnitOnly` (then the reporter of another unit gets 403).
   */
  allowed?: readonly ('admin' | 'reviewer' | 'office' | 'reporter')[];
  ownUnitOnly?: boolean;
  note?: string;
}

/** The six expectations of a row, from `expect` or from `allowed`. */
export function expectationsOf(row: MatrixRow): Record<Who, Expect> {
  if (row.expect) return row.expect;
  if (!row.allowed) throw new Error(`${row.method} ${row.path}: give \`expect\` or \`allowed\``);
  const a = row.allowed;
  const who: Who[] = [];
  for (const r of ['admin', 'reviewer', 'office'] as const) if (a.includes(r)) who.push(r);
  if (a.includes('reporter')) {
    who.push('reporterOwn');
    if (!row.ownUnitOnly) who.push('reporterOther');
  }
  return allow(who, 'allowed', { web: row.web });
}

/** `roles` get `ok`; every other signed-in caller 403; anonymous 401 (303 for pages). */
export function allow(roles: readonly Who[], ok: Expect, opts: { web?: boolean } = {}): Record<Who, Expect> {
  const out = {} as Record<Who, Expect>;
  for (const w of WHO) out[w] = roles.includes(w) ? ok : w === 'anonymous' ? (opts.web ? 303 : 401) : 403;
  return out;
}

/** Every signed-in caller gets `ok`; anonymous 401 (303 for pages). */
export function signedIn(ok: Expect, opts: { web?: boolean } = {}): Record<Who, Expect> {
  return allow(['admin', 'reviewer', 'office', 'reporterOwn', 'reporterOther'], ok, opts);
}

/** Everyone, anonymous included, gets `s`. */
export function everyone(s: Expect): Record<Who, Expect> {
  return Object.fromEntries(WHO.map((w) => [w, s])) as Record<Who, Expect>;
}

export function matches(status: number, e: Expect): boolean {
  if (e === 'allowed') return status !== 401 && status !== 403 && status < 500;
  if (typeof e === 'number') return status === e;
  return Math.floor(status / 100) === Number(e[0]);
}
