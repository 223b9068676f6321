// The assessment scheme as data (SPEC §4): stored, versioned; v1 is seeded from DEFAULT_SCHEME on first
// use. Saving an edit inserts version n+1 (versions are never changed), so every result can name the
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

async function seed(): Promise<void> {
  try {
    await SchemeVersion.create({
      version: 1,
      definition: cloneScheme(DEFAULT_SCHEME),
      note: '考核方案 v1（默认）',
      createdBy: 'system',
      createdAt: clock.now(),
    });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

type SchemeDoc = Parameters<typeof toRecord>[0];

// Read on every ranking page: a plain driver read (the same document as the model's lean read,
// without mongoose's query machinery). Not cached: another instance may save a version at any time.
async function latestDoc(): Promise<SchemeDoc | null> {
  return (await SchemeVersion.collection.findOne({}, { sort: { version: -1 } })) as SchemeDoc | null;
}

/** The scheme in force: the latest version (v1 seeded on first use). */
export async function currentScheme(): Promise<SchemeRecord> {
  let doc = await latestDoc();
  if (!doc) {
    await seed();
    doc = await latestDoc();
  }
  return toRecord(doc!);
}

export async function schemeVersion(version: number): Promise<SchemeRecord> {
  if (version === 1) await currentScheme(); // make sure v1 exists
  const doc = await SchemeVersion.findOne({ version }).lean();
  if (!doc) throw notFound('scheme_not_found', `考核方案第 ${version} 版不存在`);
  return toRecord(doc);
}

export async function listSchemeVersions(): Promise<Omit<SchemeRecord, 'scheme'>[]> {
  await currentScheme();
  const docs = await SchemeVersion.find({}, { version: 1, note: 1, createdBy: 1, createdAt: 1 }).sort({ version: -1 }).lean();
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
