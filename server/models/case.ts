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
    /** What happened (absent on plain status changes): rectification.submit / .accept / .return, extension.request / .grant / .deny. */
    action: { type: String, default: null },
    /** Attachments of the step (a rectification report's files). */
    files: { type: [Schema.Types.ObjectId], default: undefined },
  },
  { _id: false },
);

/** A rectification report (整改报告) of the unit, and the reviewer's decision on it (核查). */
const rectificationSchema = new Schema({
  at: { type: Date, required: true },
  by: { type: String, required: true },
  report: { type: String, required: true },
  attachments: { type: [Schema.Types.ObjectId], default: [] },
  decision: {
    type: new Schema(
      {
        at: { type: Date, required: true },
        by: { type: String, required: true },
        decision: { type: String, required: true, enum: ['accept', 'return'] },
        comment: { type: String, default: '' },
      },
      { _id: false },
    ),
    default: null,
  },
});

/** A request to extend the due date (申请延期), decided once by a reviewer. */
const extensionSchema = new Schema({
  at: { type: Date, required: true },
  by: { type: String, required: true },
  reason: { type: String, required: true },
  /** The due date when the request was made. */
  dueAt: { type: Date, default: null },
  decision: {
    type: new Schema(
      {
        at: { type: Date, required: true },
        by: { type: String, required: true },
        decision: { type: String, required: true, enum: ['grant', 'deny'] },
        dueAt: { type: Date, default: null },
        comment: { type: String, default: '' },
      },
      { _id: false },
    ),
    default: null,
  },
});

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
    rectifications: { type: [rectificationSchema], default: [] },
    extensions: { type: [extensionSchema], default: [] },
  },
  { collection: 'cases', timestamps: true },
);
caseSchema.index({ period: 1, unit: 1, rule: 1 }, { unique: true });
caseSchema.index({ status: 1, dueAt: 1 });
caseSchema.index({ unit: 1 });

export type CaseDoc = InferSchemaType<typeof caseSchema>;
export const Case = mongoose.model('Case', caseSchema);
