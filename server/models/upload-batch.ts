import mongoose, { Schema, Types, type InferSchemaType } from 'mongoose';
import { FIELD_KEYS } from '../domain/fields.ts';
import { warningSchema } from './return-revision.ts';

// One submission batch: an Excel upload (one or many units) or, never needed for single PUTs, a web form.
// Life cycle (see services/returns.ts, "commit protocol"):
//   staged     — parsed and validated, waiting for the user to confirm the preview; no revisions exist yet.
//   pending    — its revisions are being inserted with committed:false; invisible to readers.
//   committed  — THE atomic commit record: from this single write on, all its revisions are visible
//                (they keep committed:false; batches committed before 2026-12 also flipped them).
//                `finalized` becomes true once its audit entries are written (roll-forward done).
//   discarded  — abandoned (error, crash, expired preview); its revisions are deleted, then
//                `finalized` becomes true (clean-up done).
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
    /** The validated rows of the file, in file order (a staged batch's with values and warnings). */
    rows: {
      type: [
        new Schema(
          {
            unit: { type: String, required: true },
            row: { type: Number, default: null },
            /** Absent on a direct (API) commit's rows: its revisions hold them. */
            values: { type: new Schema(valuesShape, { _id: false }), default: undefined },
            /** Warnings about this row (unit name …), kept for its revision; absent when none. */
            warnings: { type: [warningSchema], default: undefined },
          },
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

// ---- the stored shape, for writes through the driver ----
// A many-unit batch holds thousands of rows; hydrating, casting and validating each as a mongoose
// subdocument cost more than storing them (issue 6). Its rows come from the domain validation, so the
// service inserts the document below through `UploadBatch.collection` instead. It is exactly what
// `UploadBatch.create` stores (same keys in the same order, same defaults, `__v: 0`, `owner` without the
// fields the schema does not declare) — test/intake/stored-shape.test.ts compares the two field by field,
// so a change to the schema above must be mirrored here.

export interface UploadWarningShape {
  sheet: string | null;
  row: number | null;
  column: string | null;
  field: string | null;
  message: string;
}

export interface UploadBatchRowShape {
  unit: string;
  row: number | null;
  values?: Record<(typeof FIELD_KEYS)[number], number>;
  warnings?: UploadWarningShape[];
}

export interface UploadBatchInsertShape {
  _id: Types.ObjectId;
  period: string;
  status: 'staged' | 'pending';
  source: 'web' | 'excel' | 'api';
  createdBy: string;
  createdByUnit: string | null;
  createdAt: Date;
  rows: UploadBatchRowShape[];
  file: Types.ObjectId | null;
  fileName: string | null;
  fileSize: number | null;
  owner: { host: string | null; pid: number | null };
  leaseAt: Date | null;
  committedAt: null;
  finalized: false;
  discardedReason: null;
  accepted: { unit: string; revision: number }[];
  __v: 0;
}

export interface UploadBatchInput {
  period: string;
  status: 'staged' | 'pending';
  source: 'web' | 'excel' | 'api';
  createdBy: string;
  createdByUnit?: string | null;
  createdAt: Date;
  rows: readonly { unit: string; row?: number | null; values?: Readonly<Record<string, unknown>>; warnings?: readonly UploadWarningShape[] | null }[];
  file?: Types.ObjectId | null;
  fileName?: string | null;
  fileSize?: number | null;
  owner?: { host?: string | null; pid?: number | null } | null;
  leaseAt?: Date | null;
}

function invalid(what: string): never {
  throw new Error(`UploadBatch validation failed: ${what}`);
}

/**
 * The document `UploadBatch.create(input)` would insert, built directly. Checks what the schema checks
 * (required strings, enum values, every value a number ≥ 0) and throws like it; callers pass validated rows.
 */
export function uploadBatchDocument(input: UploadBatchInput): UploadBatchInsertShape {
  if (typeof input.period !== 'string' || !input.period) invalid('period is required');
  if (input.status !== 'staged' && input.status !== 'pending') invalid(`invalid status ${String(input.status)}`);
  if (input.source !== 'web' && input.source !== 'excel' && input.source !== 'api') invalid(`invalid source ${String(input.source)}`);
  if (typeof input.createdBy !== 'string' || !input.createdBy) invalid('createdBy is required');
  if (!(input.createdAt instanceof Date) || Number.isNaN(input.createdAt.getTime())) invalid('createdAt is required');
  const keys = FIELD_KEYS;
  const nk = keys.length;
  const rows: UploadBatchRowShape[] = new Array(input.rows.length);
  for (let i = 0; i < input.rows.length; i++) {
    const r = input.rows[i]!;
    if (typeof r.unit !== 'string' || !r.unit) invalid(`rows.${i}.unit is required`);
    const row = r.row ?? null;
    if (row !== null && (typeof row !== 'number' || Number.isNaN(row))) invalid(`rows.${i}.row is not a number`);
    if (!r.values) {
      rows[i] = { unit: r.unit, row };
    } else {
      const values = {} as Record<string, number>;
      for (let k = 0; k < nk; k++) {
        const key = keys[k]!;
        const v = r.values[key];
        if (typeof v !== 'number' || !(v >= 0)) invalid(`rows.${i}.values.${key} must be a number ≥ 0`);
        values[key] = v;
      }
      rows[i] = { unit: r.unit, row, values: values as NonNullable<UploadBatchRowShape['values']> };
    }
    if (r.warnings && r.warnings.length) {
      rows[i]!.warnings = r.warnings.map((w) => {
        if (typeof w.message !== 'string' || !w.message) invalid(`rows.${i}.warnings.message is required`);
        return { sheet: w.sheet ?? null, row: w.row ?? null, column: w.column ?? null, field: w.field ?? null, message: w.message };
      });
    }
  }
  return {
    _id: new Types.ObjectId(),
    period: input.period,
    status: input.status,
    source: input.source,
    createdBy: input.createdBy,
    createdByUnit: input.createdByUnit ?? null,
    createdAt: input.createdAt,
    rows,
    file: input.file ?? null,
    fileName: input.fileName ?? null,
    fileSize: input.fileSize ?? null,
    owner: { host: input.owner?.host ?? null, pid: input.owner?.pid ?? null },
    leaseAt: input.leaseAt ?? null,
    committedAt: null,
    finalized: false,
    discardedReason: null,
    accepted: [],
    __v: 0,
  };
}
