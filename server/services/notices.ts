// In-app notices to units (rejections, reminders, …). Other services call notify().
import { clock } from '../clock.ts';
import { Notice } from '../models/notice.ts';
import { isDuplicateKey } from './audit.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export interface NewNotice {
  unit: string;
  kind: string;
  title: string;
  body?: string;
  period?: string | null;
  createdBy?: string | null;
  /** Idempotency key: a second notice with the same key is not created. */
  key?: string;
}

export async function notify(n: NewNotice): Promise<boolean> {
  try {
    await Notice.create({
      unit: n.unit,
      kind: n.kind,
      title: n.title,
      body: n.body ?? '',
      period: n.period ?? null,
      createdBy: n.createdBy ?? null,
      createdAt: clock.now(),
      ...(n.key ? { key: n.key } : {}),
    });
    return true;
  } catch (err) {
    if (n.key && isDuplicateKey(err)) return false;
    throw err;
  }
}

/** Notices inserted per command. */
const NOTICE_BATCH = 5000;

/**
 * Sends many notices with two commands (a read of the keys already used, one unordered insert):
 * a notice whose key exists already is not sent again, nor is a key twice in `list`. Keys make it
 * idempotent like notify(); a concurrent sender of the same key costs a duplicate-key error on that
 * notice only, which is ignored. Returns how many notices were created.
 */
export async function notifyMany(list: readonly NewNotice[]): Promise<number> {
  const keys = [...new Set(list.flatMap((n) => (n.key ? [n.key] : [])))];
  const used = new Set<string>();
  if (keys.length > 0) {
    for (const d of await Notice.find({ key: { $in: keys } }, { key: 1 }).batchSize(DOCS_PER_COMMAND).lean()) if (d.key) used.add(d.key);
  }
  const now = clock.now();
  const docs = [];
  for (const n of list) {
    if (n.key) {
      if (used.has(n.key)) continue;
      used.add(n.key);
    }
    docs.push({
      unit: n.unit,
      kind: n.kind,
      title: n.title,
      body: n.body ?? '',
      period: n.period ?? null,
      createdBy: n.createdBy ?? null,
      createdAt: now,
      ...(n.key ? { key: n.key } : {}),
    });
  }
  let created = 0;
  for (let i = 0; i < docs.length; i += NOTICE_BATCH) {
    try {
      created += (await Notice.insertMany(docs.slice(i, i + NOTICE_BATCH), { ordered: false, throwOnValidationError: true })).length;
    } catch (err) {
      if (!onlyDuplicateKeys(err)) throw err;
      created += (err as { result?: { insertedCount?: number } }).result?.insertedCount ?? 0;
    }
  }
  return created;
}

/** Whether a (bulk) write failed only on unique keys: every write error is a duplicate key. */
export function onlyDuplicateKeys(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] | { code?: number }; writeConcernError?: unknown } | null;
  if (!e || e.writeConcernError) return false;
  const list = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  return list.length > 0 ? list.every((w) => w.code === 11000) : e.code === 11000;
}

export async function noticesForUnit(unit: string, limit = 50) {
  return Notice.find({ unit }).sort({ createdAt: -1, _id: -1 }).limit(limit).lean();
}

export async function unreadCount(unit: string): Promise<number> {
  return Notice.countDocuments({ unit, readAt: null });
}

export async function markRead(unit: string, id: string): Promise<void> {
  await Notice.updateOne({ _id: id, unit, readAt: null }, { $set: { readAt: clock.now() } });
}
