import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// One recorded job run (SPEC §5): scheduled, caught up at start, or run now by an admin.
const jobRunSchema = new Schema(
  {
    job: { type: String, required: true },
    trigger: { type: String, required: true, enum: ['scheduled', 'catchup', 'manual'] },
    /** The cron slot this run is for (scheduled / catch-up); null for manual runs. */
    slot: { type: Date, default: null },
    period: { type: String, default: null },
    instance: { type: String, required: true },
    /** The owning process: host name and pid, and its last heartbeat (wall time) while the run lasts. */
    host: { type: String, default: null },
    pid: { type: Number, default: null },
    heartbeatAt: { type: Date, default: null },
    by: { type: String, default: null },
    startedAt: { type: Date, required: true },
    finishedAt: { type: Date, default: null },
    outcome: { type: String, required: true, enum: ['running', 'success', 'failed'] },
    counts: { type: Schema.Types.Mixed, default: {} },
    error: { type: String, default: null },
  },
  { collection: 'job_runs', minimize: false },
);
jobRunSchema.index({ job: 1, startedAt: -1 });
jobRunSchema.index({ startedAt: -1 });
jobRunSchema.index({ outcome: 1 });

export type JobRunDoc = InferSchemaType<typeof jobRunSchema>;
export const JobRun = mongoose.model('JobRun', jobRunSchema);
