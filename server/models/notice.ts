import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// In-app notice to a unit (rejection of a return, reminders, accountability).
const noticeSchema = new Schema(
  {
    unit: { type: String, required: true },
    kind: { type: String, required: true },
    period: { type: String, default: null },
    title: { type: String, required: true },
    body: { type: String, default: '' },
    createdAt: { type: Date, required: true },
    createdBy: { type: String, default: null },
    readAt: { type: Date, default: null },
    /** Idempotency key (e.g. one reminder per unit, period and day). */
    key: { type: String },
  },
  { collection: 'notices' },
);
noticeSchema.index({ unit: 1, createdAt: -1 });
noticeSchema.index({ key: 1 }, { unique: true, sparse: true });

export type NoticeDoc = InferSchemaType<typeof noticeSchema>;
export const Notice = mongoose.model('Notice', noticeSchema);
