// The assessment scheme as data (SPEC §4): stored, versioned; v1 is seeded from DEFAULT_SCHEME at start-up
// (server/boot.ts) — never by a read: until it is stored, reads answer the default as v1. Saving an edit inserts version n+1 (versions are never changed), so every result can name the
// exact scheme it used.
import { clock } from '../clock.ts';
import { conflict, notFound } from '../domain/errors.ts';
import { assertValidScheme, cloneScheme, DEFAULT_SCHEME, type AssessmentScheme } from '../domain/scoring/scheme.ts';
import { SchemeVersion } from '../models/scheme.ts';
import { audit, isDuplicateKey, type Actor } from './audit.ts';
import { markStale } from './periods.ts';

export interface SchemeRecord {
  version: number;
  scheme: AssessmentScheme;
  note: string;
  createdBy: string;
  createdAt: Date;
}

function toRecord(doc: { version: number; definition: unknown; note?: string | null; createdBy: string; createdAt: Date }): SchemeRecord {
  const scheme = { ...(doc.definition as AssessmentScheme), version: doc.version };
  return { version: doc.version, scheme, note: doc.note ?? '', createdBy: doc.createdBy, createdAt: doc.createdAt };
}

const DEFAULT_NOTE = '考核方案 v1（默认）';

/** Stores v1 from DEFAULT_SCHEME when the database has no scheme yet (start-up, and before a save). Idempotent. */
export async function ensureDefaultScheme(): Promise<void> {
  if (await SchemeVersion.exists({ version: 1 })) return;
  try {
    await SchemeVersion.create({ version: 1, definition: cloneScheme(DEFAULT_SCHEME), note: DEFAULT_NOTE, createdBy: 'system', createdAt: clock.now() });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

/** v1 as {@link ensureDefaultScheme} stores it, for a read that comes before it was stored. */
function defaultRecord(): SchemeRecord {
  return toRecord({ version: 1, definition: cloneScheme(DEFAULT_SCHEME), note: DEFAULT_NOTE, createdBy: 'system', createdAt: clock.now() });
}

type SchemeDoc = Parameters<typeof toRecord>[0];

// Read on every ranking page: a plain driver read (the same document as the model's lean read,
// without mongoose's query machinery). Not cached: another instance may save a version at any time.
async function latestDoc(): Promise<SchemeDoc | null> {
  return (await SchemeVersion.collection.findOne({}, { sort: { version: -1 } })) as SchemeDoc | null;
}

/** The scheme in force: the latest stored version (the default as v1 before any is stored). */
export async function currentScheme(): Promise<SchemeRecord> {
  const doc = await latestDoc();
  return doc ? toRecord(doc) : defaultRecord();
}

export async function schemeVersion(version: number): Promise<SchemeRecord> {
  const doc = await SchemeVersion.findOne({ version }).lean();
  if (doc) return toRecord(doc);
  if (version === 1 && !(await latestDoc())) return defaultRecord();
  throw notFound('scheme_not_found', `考核方案第 ${version} 版不存在`);
}

export async function listSchemeVersions(): Promise<Omit<SchemeRecord, 'scheme'>[]> {
  const docs = await SchemeVersion.find({}, { version: 1, note: 1, createdBy: 1, createdAt: 1 }).sort({ version: -1 }).lean();
  if (!docs.length) {
    const { scheme: _s, ...v1 } = defaultRecord();
    return [v1];
  }
  return docs.map((d) => ({ version: d.version, note: d.note ?? '', createdBy: d.createdBy, createdAt: d.createdAt }));
}

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
  await ensureDefaultScheme(); // version n+1 needs its predecessors stored
  const current = await currentScheme();
  if (opts.baseVersion !== undefined && opts.baseVersion !== current.version) {
    throw conflict('scheme_changed', `考核方案已被修改为第 ${current.version} 版，请刷新后重新编辑`);
  }
  const next = current.version + 1;
  const scheme = validateDraft(draft, next);
  try {
    await SchemeVersion.create({
      version: next,
      definition: scheme,
      note: (opts.note ?? '').trim().slice(0, 500),
      createdBy: actor.username,
      createdAt: clock.now(),
    });
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict('scheme_changed', '考核方案刚被他人修改，请刷新后重新编辑');
    throw err;
  }
  await audit(actor, {
    action: 'scheme.save',
    entity: 'scheme',
    entityId: String(next),
    before: { version: current.version },
    after: { version: next, note: opts.note ?? '' },
  });
  // Open periods are scored with the scheme in force; published ones keep the version they used.
  await markStale('unpublished');
  return schemeVersion(next);
}
