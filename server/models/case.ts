import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { CASE_STATUSES } from '../domain/scoring/accountability.ts';

// An accountability case (问责, SPEC §4). One per (period, unit, rule): opening is an upsert on that
// key, so re-running the accountability job never duplicates a case.
const historySchema = new Schema(
  {
    at: { type: Date, required: true },
    by: { type: String, required: true },
    from: { type: String, default: null },
    to: { type: String, required: true },
    comment: { type: String, default: '' },
  },
  { _id: false },
);

const caseSchema = new Schema(
  {
    period: { type: String, required: true },
    unit: { type: String, required: true },
    rule: { type: String, required: true, enum: ['A1', 'A2', 'A3'] },
    type: { type: String, required: true },
    status: { type: String, required: true, enum: CASE_STATUSES },
    dueAt: { type: Date, default: null },
    openedAt: { type: Date, required: true },
    resolvedAt: { type: Date, default: null },
    /** Why the rule fired (e.g. total, grade, the two quarters). */
    reason: { type: String, default: '' },
    history: { type: [historySchema], default: [] },
  },
  { collection: 'cases', timestamps: true },
);
caseSchema.index({ period: 1, unit: 1, rule: 1 }, { unique: true });
caseSchema.index({ status: 1, dueAt: 1 });
caseSchema.index({ unit: 1 });

export type CaseDoc = InferSchemaType<typeof caseSchema>;
export const Case = mongoose.model('Case', caseSchema);
