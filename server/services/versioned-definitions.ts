// A definition kept as immutable versions (the assessment scheme, the plausibility rules): v1 is the
// built-in default, stored at start-up (server/boot.ts) and never by a read — until it is stored,
// reads answer the default as v1; an edit inserts version n+1 (a unique version index refuses the
// second of two concurrent saves), so everything computed can name the exact version it used.
// Each owning service keeps its own record shape, validation, messages and audit entry.
import type { Model } from 'mongoose';
import { clock } from '../clock.ts';
import { conflict, notFound } from '../domain/errors.ts';
import { isDuplicateKey } from './audit.ts';

export interface StoredVersion {
  version: number;
  definition: unknown;
  note?: string | null;
  createdBy: string;
  createdAt: Date;
}

export interface VersionSummary {
  version: number;
  note: string;
  createdBy: string;
  createdAt: Date;
}

export interface VersionedDefinitionsSpec<R> {
  model: Model<any>;
  /** A fresh copy of the built-in default (stored as v1). */
  defaultDefinition: () => unknown;
  defaultNote: string;
  toRecord: (doc: StoredVersion) => R;
  /** 404 of a version that does not exist. */
  notFound: { code: string; message: (version: number) => string };
  /** 409 of a save that lost: the editor's base is stale, or another save took the number. */
  changed: { code: string; message: (current: number) => string; raced: string };
}

export function versionedDefinitions<R extends { version: number }>(spec: VersionedDefinitionsSpec<R>) {
  const { model } = spec;

  /** Stores v1 from the default when none is stored (start-up, and before a save). Idempotent. */
  async function ensureDefault(): Promise<void> {
    if (await model.exists({ version: 1 })) return;
    try {
      await model.create({ version: 1, definition: spec.defaultDefinition(), note: spec.defaultNote, createdBy: 'system', createdAt: clock.now() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** v1 as {@link ensureDefault} stores it, for a read that comes before it was stored. */
  function defaultRecord(): R {
    return spec.toRecord({ version: 1, definition: spec.defaultDefinition(), note: spec.defaultNote, createdBy: 'system', createdAt: clock.now() });
  }

  // Read on every ranking page: a plain driver read (the same document as the model's lean read,
  // without mongoose's query machinery). Not cached: another instance may save a version at any time.
  async function latestDoc(): Promise<StoredVersion | null> {
    return (await model.collection.findOne({}, { sort: { version: -1 } })) as StoredVersion | null;
  }

  /** The version in force: the latest stored one (the default as v1 before any is stored). */
  async function current(): Promise<R> {
    const doc = await latestDoc();
    return doc ? spec.toRecord(doc) : defaultRecord();
  }

  async function byVersion(version: number): Promise<R> {
    const doc = (await model.findOne({ version }).lean()) as StoredVersion | null;
    if (doc) return spec.toRecord(doc);
    if (version === 1 && !(await latestDoc())) return defaultRecord();
    throw notFound(spec.notFound.code, spec.notFound.message(version));
  }

  /** Every version, newest first (without definitions). */
  async function list(): Promise<VersionSummary[]> {
    const docs = (await model.find({}, { version: 1, note: 1, createdBy: 1, createdAt: 1 }).sort({ version: -1 }).lean()) as Omit<StoredVersion, 'definition'>[];
    if (!docs.length) return [{ version: 1, note: spec.defaultNote, createdBy: 'system', createdAt: clock.now() }];
    return docs.map((d) => ({ version: d.version, note: d.note ?? '', createdBy: d.createdBy, createdAt: d.createdAt }));
  }

  /**
   * Inserts version n+1 with the definition `build(current, n+1)` returns (it validates and throws).
   * 409 when `baseVersion` (the version the editor started from) is not the current one, or when
   * another save took n+1 meanwhile. → the version before and the version saved.
   */
  async function saveNext(
    createdBy: string,
    build: (current: R, next: number) => unknown,
    opts: { baseVersion?: number; note: string },
  ): Promise<{ before: R; next: number; definition: unknown }> {
    await ensureDefault(); // version n+1 needs its predecessors stored
    const before = await current();
    const cur = before.version;
    if (opts.baseVersion !== undefined && opts.baseVersion !== cur) throw conflict(spec.changed.code, spec.changed.message(cur));
    const next = cur + 1;
    const definition = build(before, next);
    try {
      await model.create({ version: next, definition, note: opts.note, createdBy, createdAt: clock.now() });
    } catch (err) {
      if (isDuplicateKey(err)) throw conflict(spec.changed.code, spec.changed.raced);
      throw err;
    }
    return { before, next, definition };
  }

  return { ensureDefault, current, byVersion, list, saveNext };
}
