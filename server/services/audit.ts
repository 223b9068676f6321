// Append-only audit trail (who, what, before, after, when). Entries are only ever inserted.
import { Types } from 'mongoose';
import { clock } from '../clock.ts';
import { AuditLog } from '../models/audit-log.ts';

export interface Actor {
  username: string;
  role?: string | null;
}

export interface AuditEntry {
  action: string;
  entity: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  /** Makes the entry idempotent: a second write with the same key is ignored. */
  key?: string;
  at?: Date;
}

const plain = (v: unknown): unknown => (v == null ? null : JSON.parse(JSON.stringify(v)));

export async function audit(actor: Actor, entry: AuditEntry): Promise<void> {
  const doc = {
    at: entry.at ?? clock.now(),
    actor: actor.username,
    actorRole: actor.role ?? null,
    action: entry.action,
    entity: entry.entity,
    entityId: entry.entityId,
    before: plain(entry.before),
    after: plain(entry.after),
    ...(entry.key ? { key: entry.key } : {}),
  };
  try {
    await AuditLog.create(doc);
  } catch (err) {
    if (entry.key && isDuplicateKey(err)) return;
    throw err;
  }
}

/** The stored shape of an audit entry: exactly what `AuditLog` (schema order, `__v: 0`) stores. */
export interface AuditLogShape {
  _id: Types.ObjectId;
  at: Date;
  actor: string;
  actorRole: string | null;
  action: string;
  entity: string;
  entityId: string;
  before: unknown;
  after: unknown;
  key?: string;
  __v: 0;
}

function required(v: unknown, what: string): string {
  if (typeof v !== 'string' || !v) throw new Error(`AuditLog validation failed: ${what} is required`);
  return v;
}

/**
 * Several entries in one write; entries whose key already exists are skipped (idempotent re-runs).
 * Written through the driver (a batch roll-forward writes one entry per unit: mongoose's hydration of
 * each cost more than the write); the documents are built in the schema's shape, which
 * test/intake/stored-shape.test.ts compares with what the model stores.
 */
export async function auditMany(actor: Actor, entries: AuditEntry[]): Promise<void> {
  if (!entries.length) return;
  const now = clock.now();
  const username = required(actor.username, 'actor');
  const role = actor.role ?? null;
  const docs: AuditLogShape[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const at = e.at ?? now;
    const action = required(e.action, 'action');
    const entity = required(e.entity, 'entity');
    const entityId = required(e.entityId, 'entityId');
    const before = plain(e.before);
    const after = plain(e.after);
    // `key`, when there is one, sits between `after` and `__v`, where the model puts it.
    docs[i] = e.key
      ? { _id: new Types.ObjectId(), at, actor: username, actorRole: role, action, entity, entityId, before, after, key: e.key, __v: 0 }
      : { _id: new Types.ObjectId(), at, actor: username, actorRole: role, action, entity, entityId, before, after, __v: 0 };
  }
  try {
    await AuditLog.collection.insertMany(docs, { ordered: false });
  } catch (err) {
    const writeErrors = (err as { writeErrors?: { code?: number; err?: { code?: number } }[] }).writeErrors;
    if (!Array.isArray(writeErrors) || !writeErrors.every((w) => (w.code ?? w.err?.code) === 11000)) throw err;
  }
}

export async function auditTrail(entity: string, entityId: string) {
  return AuditLog.find({ entity, entityId }).sort({ at: 1, _id: 1 }).lean();
}

export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; cause?: { code?: number }; writeErrors?: { code?: number }[] } | null;
  return !!e && (e.code === 11000 || e.cause?.code === 11000 || !!e.writeErrors?.some((w) => w.code === 11000));
}
