// In-app notices to units (rejections, reminders, …). Other services call notify().
import { clock } from '../clock.ts';
import { Notice } from '../models/notice.ts';
import { isDuplicateKey } from './audit.ts';

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

export async function noticesForUnit(unit: string, limit = 50) {
  return Notice.find({ unit }).sort({ createdAt: -1, _id: -1 }).limit(limit).lean();
}

export async function unreadCount(unit: string): Promise<number> {
  return Notice.countDocuments({ unit, readAt: null });
}

export async function markRead(unit: string, id: string): Promise<void> {
  await Notice.updateOne({ _id: id, unit, readAt: null }, { $set: { readAt: clock.now() } });
}
