import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { FIELD_KEYS } from '../domain/fields.ts';

// One submission batch: an Excel upload (one or many units) or, never needed for single PUTs, a web form.
// Life cycle (see services/returns.ts, "commit protocol"):
//   staged     — parsed and validated, waiting for the user to confirm the preview; no revisions exist yet.
//   pending    — its revisions are being inserted with committed:false; invisible to readers.
//   committed  — THE atomic commit record: from this single write on, all its revisions are visible.
//                `finalized` becomes true once every revision carries committed:true (roll-forward done).
//   discarded  — abandoned (error, crash, expired preview); its uncommitted revisions are deleted.
const valuesShape = Object.fromEntries(FIELD_KEYS.map((k) => [k, { type: Number, required: true, min: 0 }]));

const uploadBatchSchema = new Schema(
  {
    period: { type: String, required: true },
    status: { type: String, required: true, enum: ['staged', 'pending', 'committed', 'discarded'] },
    source: { type: String, required: true, enum: ['web', 'excel', 'api'] },
    /** Username of the submitter and, for reporters, their unit (scope re-checked on confirm). */
    createdBy: { type: String, required: true },
    createdByUnit: { type: String, default: null },
    createdAt: { type: Date, required: true },
    /** The validated rows of the file, in file order. */
    rows: {
      type: [
        new Schema(
          { unit: { type: String, required: true }, row: { type: Number, default: null }, values: { type: new Schema(valuesShape, { _id: false }), required: true } },
          { _id: false },
        ),
      ],
      default: [],
    },
    /** GridFS id, name, size and type of the original file. */
    file: { type: Schema.Types.ObjectId, default: null },
    fileName: { type: String, default: null },
    fileSize: { type: Number, default: null },
    /** Lease of the process committing the batch (wall time, not the business clock). */
    owner: { host: { type: String, default: null }, pid: { type: Number, default: null } },
    leaseAt: { type: Date, default: null },
    committedAt: { type: Date, default: null },
    finalized: { type: Boolean, default: false },
    /** Revision numbers assigned at commit: [{unit, revision}]. */
    accepted: { type: [{ unit: String, revision: Number, _id: false }], default: [] },
    discardedReason: { type: String, default: null },
  },
  { collection: 'upload_batches' },
);
uploadBatchSchema.index({ status: 1, finalized: 1 });
uploadBatchSchema.index({ period: 1, createdAt: -1 });

export type UploadBatchDoc = InferSchemaType<typeof uploadBatchSchema>;
export const UploadBatch = mongoose.model('UploadBatch', uploadBatchSchema);
