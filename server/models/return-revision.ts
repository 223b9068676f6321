import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { FIELD_KEYS } from '../domain/fields.ts';

// One immutable revision of one unit's return for one period (SPEC §3). Nothing is overwritten:
// only `committed` (set once, by the batch commit) and `review` change after insert.
const valuesShape = Object.fromEntries(FIELD_KEYS.map((k) => [k, { type: Number, required: true, min: 0 }]));

/** A warning of the upload that made the revision: {sheet, row, column, field, message} (SPEC §7). */
export const warningSchema = new Schema(
  { sheet: { type: String, default: null }, row: { type: Number, default: null }, column: { type: String, default: null }, field: { type: String, default: null }, message: { type: String, required: true } },
  { _id: false },
);

const returnRevisionSchema = new Schema(
  {
    unit: { type: String, required: true },
    period: { type: String, required: true },
    revision: { type: Number, required: true, min: 1 },
    values: { type: new Schema(valuesShape, { _id: false }), required: true },
    source: { type: String, required: true, enum: ['web', 'excel', 'api'] },
    submittedBy: { type: String, required: true },
    submittedAt: { type: Date, required: true },
    /** Upload batch for Excel files; the revision is visible only once `committed` is true. */
    batch: { type: Schema.Types.ObjectId, default: null },
    committed: { type: Boolean, required: true, default: false },
    /** GridFS id of the original uploaded file, for Excel uploads. */
    file: { type: Schema.Types.ObjectId, default: null },
    review: {
      type: new Schema(
        {
          decision: { type: String, enum: ['approve', 'reject'], required: true },
          reason: { type: String, default: null },
          by: { type: String, required: true },
          at: { type: Date, required: true },
        },
        { _id: false },
      ),
      default: null,
    },
    /** Warnings of the upload about this unit's row, shown to reviewers; absent when there were none. */
    warnings: { type: [warningSchema], default: undefined },
  },
  { collection: 'returns' },
);
returnRevisionSchema.index({ unit: 1, period: 1, revision: 1 }, { unique: true });
returnRevisionSchema.index({ period: 1, committed: 1 });
returnRevisionSchema.index({ batch: 1 });

export type ReturnRevisionDoc = InferSchemaType<typeof returnRevisionSchema>;
export const ReturnRevision = mongoose.model('ReturnRevision', returnRevisionSchema);
