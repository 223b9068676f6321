// Append-only audit trail (who, what, before, after, when). Entries are only ever inserted.
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

/** Several entries in one write; entries whose key already exists are skipped (idempotent re-runs). */
export async function auditMany(actor: Actor, entries: AuditEntry[]): Promise<void> {
  if (!entries.length) return;
  const now = clock.now();
  const docs = entries.map((e) => ({
    at: e.at ?? now,
    actor: actor.username,
    actorRole: actor.role ?? null,
    action: e.action,
    entity: e.entity,
    entityId: e.entityId,
    before: plain(e.before),
    after: plain(e.after),
    ...(e.key ? { key: e.key } : {}),
  }));
  try {
    await AuditLog.insertMany(docs, { ordered: false });
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
