// The assessment scheme as data (SPEC §4): immutable versions (versioned-definitions.ts: v1 is
// DEFAULT_SCHEME, stored at start-up, never by a read; an edit inserts version n+1), so every result can
// name the exact scheme it used.
import { assertValidScheme, cloneScheme, DEFAULT_SCHEME, type AssessmentScheme } from '../domain/scoring/scheme.ts';
import { SchemeVersion } from '../models/scheme.ts';
import { audit, type Actor } from './audit.ts';
import { markStale } from './periods.ts';
import { versionedDefinitions } from './versioned-definitions.ts';

export interface SchemeRecord {
  version: number;
  scheme: AssessmentScheme;
  note: string;
  createdBy: string;
  createdAt: Date;
}

const versions = versionedDefinitions<SchemeRecord>({
  model: SchemeVersion,
  defaultDefinition: () => cloneScheme(DEFAULT_SCHEME),
  defaultNote: '考核方案 v1（默认）',
  toRecord: (doc) => ({ version: doc.version, scheme: { ...(doc.definition as AssessmentScheme), version: doc.version }, note: doc.note ?? '', createdBy: doc.createdBy, createdAt: doc.createdAt }),
  notFound: { code: 'scheme_not_found', message: (v) => `考核方案第 ${v} 版不存在` },
  changed: { code: 'scheme_changed', message: (v) => `考核方案已被修改为第 ${v} 版，请刷新后重新编辑`, raced: '考核方案刚被他人修改，请刷新后重新编辑' },
});

/** Stores v1 from DEFAULT_SCHEME when the database has no scheme yet (start-up). Idempotent. */
export const ensureDefaultScheme = versions.ensureDefault;
/** The scheme in force: the latest stored version (the default as v1 before any is stored). */
export const currentScheme = versions.current;
export const schemeVersion = versions.byVersion;
export const listSchemeVersions = versions.list;

/**
 * Validates a draft (an untrusted object) as the next version. Throws 422 invalid_scheme with every
 * problem listed. The draft's own `version` is ignored.
 */
export function validateDraft(draft: unknown, nextVersion: number): AssessmentScheme {
  const obj = typeof draft === 'object' && draft !== null && !Array.isArray(draft) ? { ...(draft as object), version: nextVersion } : draft;
  return assertValidScheme(obj);
}

/**
 * Saves a draft as a new version. `baseVersion` (the version the editor started from) guards against
 * two admins overwriting each other's edit: 409 when the scheme changed meanwhile.
 */
export async function saveScheme(actor: Actor, draft: unknown, opts: { baseVersion?: number; note?: string } = {}): Promise<SchemeRecord> {
  const note = (opts.note ?? '').trim().slice(0, 500);
  const { before, next } = await versions.saveNext(actor.username, (_current, next) => validateDraft(draft, next), { baseVersion: opts.baseVersion, note });
  await audit(actor, {
    action: 'scheme.save',
    entity: 'scheme',
    entityId: String(next),
    before: { version: before.version },
    after: { version: next, note: opts.note ?? '' },
  });
  // Open periods are scored with the scheme in force; published ones keep the version they used.
  await markStale('unpublished');
  return schemeVersion(next);
}
