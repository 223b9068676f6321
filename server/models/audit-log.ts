import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// Append-only audit trail: who did what to which entity, with the state before and after. Never updated.
const auditLogSchema = new Schema(
  {
    at: { type: Date, required: true },
    actor: { type: String, required: true },
    actorRole: { type: String, default: null },
    /** e.g. unit.create, unit.update, period.deadline, return.submit, return.review, upload.commit */
    action: { type: String, required: true },
    entity: { type: String, required: true },
    entityId: { type: String, required: true },
    before: { type: Schema.Types.Mixed, default: null },
    after: { type: Schema.Types.Mixed, default: null },
    /** Idempotency key for entries written by a re-runnable step (batch roll-forward). */
    key: { type: String },
  },
  { collection: 'audit_log' },
);
auditLogSchema.index({ entity: 1, entityId: 1, at: 1 });
auditLogSchema.index({ key: 1 }, { unique: true, sparse: true });

export type AuditLogDoc = InferSchemaType<typeof auditLogSchema>;
export const AuditLog = mongoose.model('AuditLog', auditLogSchema);
