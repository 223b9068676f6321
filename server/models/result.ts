import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// Results of one period (SPEC §4, §7). A computation writes its rows into `result_rows` under a new
// computeId, then flips the period's pointer (`result_sets`) to that computeId in one atomic write.
// Readers only follow the pointer, so a computation killed half-way is invisible and its stray rows
// are removed by the next one. A final (published) set is never flipped again, except by an
// explicit, audited reopen.
const reopenSchema = new Schema(
  {
    at: { type: Date, required: true },
    by: { type: String, required: true },
    reason: { type: String, required: true },
    previousComputeId: { type: Schema.Types.ObjectId, default: null },
  },
  { _id: false },
);

const resultSetSchema = new Schema(
  {
    period: { type: String, required: true, unique: true },
    status: { type: String, required: true, enum: ['provisional', 'final'] },
    computeId: { type: Schema.Types.ObjectId, required: true },
    schemeVersion: { type: Number, required: true },
    computedAt: { type: Date, required: true },
    /** Deadline in force when computed (for lateness / pending). */
    deadline: { type: Date, required: true },
    rowCount: { type: Number, required: true },
    publishedAt: { type: Date, default: null },
    publishedBy: { type: String, default: null },
    /** Set by a reopen: the nightly job never re-publishes a reopened period by itself. */
    reopened: { type: Boolean, default: false },
    reopens: { type: [reopenSchema], default: [] },
  },
  { collection: 'result_sets' },
);

export type ResultSetDoc = InferSchemaType<typeof resultSetSchema>;
export const ResultSet = mongoose.model('ResultSet', resultSetSchema);

const resultRowSchema = new Schema(
  {
    period: { type: String, required: true },
    computeId: { type: Schema.Types.ObjectId, required: true },
    unit: { type: String, required: true },
    name: { type: String, required: true },
    category: { type: String, required: true },
    /** The return revision number this row was computed from (null: no usable return). */
    revision: { type: Number, default: null },
    indicators: { type: Schema.Types.Mixed, required: true },
    base: { type: Number, default: null },
    deductions: { type: Number, default: null },
    total: { type: Number, default: null },
    grade: { type: String, default: null },
    rank: { type: Number, default: null },
    rankChange: { type: Number, default: null },
    flags: { type: [String], default: [] },
    /** Position in the result list (category, rank, code), for a stable order. */
    order: { type: Number, required: true },
    /** Explanation of the score (inputs, formulas, redistribution, deductions). */
    explain: { type: Schema.Types.Mixed, default: null },
  },
  { collection: 'result_rows', minimize: false },
);
resultRowSchema.index({ period: 1, computeId: 1, unit: 1 }, { unique: true });

export type ResultRowDoc = InferSchemaType<typeof resultRowSchema>;
export const ResultRow = mongoose.model('ResultRow', resultRowSchema);
