import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { ATTACHMENT_TYPES } from '../domain/attachments.ts';

// One attachment (SPEC §7): its metadata here, its bytes in the GridFS bucket `attachments`. Its
// owner is a case's rectification report (`case` + `rectification`) or a return revision (`period`,
// `unit`, `revision`: 佐证材料). `unit` is the unit whose data it belongs to — who may download it.
// Carrying evidence over to a new revision adds a document for the new revision with the same `file`.
const attachmentSchema = new Schema(
  {
    name: { type: String, required: true },
    size: { type: Number, required: true, min: 0 },
    type: { type: String, required: true, enum: ATTACHMENT_TYPES },
    contentType: { type: String, required: true },
    sha256: { type: String, required: true },
    /** GridFS id (bucket `attachments`). */
    file: { type: Schema.Types.ObjectId, required: true },
    uploadedBy: { type: String, required: true },
    uploadedAt: { type: Date, required: true },
    unit: { type: String, required: true },
    owner: {
      type: new Schema(
        {
          kind: { type: String, required: true, enum: ['rectification', 'revision'] },
          case: { type: Schema.Types.ObjectId, default: null },
          rectification: { type: Schema.Types.ObjectId, default: null },
          period: { type: String, default: null },
          revision: { type: Number, default: null },
        },
        { _id: false },
      ),
      required: true,
    },
    /** The attachment this one was carried over from (沿用上一版佐证材料). */
    carriedFrom: { type: Schema.Types.ObjectId, default: null },
  },
  { collection: 'attachments' },
);
attachmentSchema.index({ 'owner.case': 1, 'owner.rectification': 1 });
attachmentSchema.index({ unit: 1, 'owner.period': 1, 'owner.revision': 1 });

export type AttachmentDoc = InferSchemaType<typeof attachmentSchema>;
export const Attachment = mongoose.model('Attachment', attachmentSchema);
