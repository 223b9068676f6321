import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// A quarter (YYYYQn). Created on first use with the default deadline (SPEC §2); admins may move the deadline.
const periodSchema = new Schema(
  {
    period: { type: String, required: true, unique: true, match: /^\d{4}Q[1-4]$/ },
    deadline: { type: Date, required: true },
    /** Set when the results are published (final); a reopened period clears it. */
    publishedAt: { type: Date, default: null },
    /** Closed by an admin: no more submissions (returns intake answers 409). */
    closed: { type: Boolean, default: false },
  },
  { timestamps: true },
);

export type PeriodDoc = InferSchemaType<typeof periodSchema>;
export const Period = mongoose.model('Period', periodSchema);
