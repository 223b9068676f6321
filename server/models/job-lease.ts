import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// The lease that elects one runner per job among several app instances. `_id` is the job name.
// `slot` is the latest cron slot a runner took; `done` whether that run finished. A holder renews
// `expiresAt` while it runs; if it dies the lease expires and another instance may take the slot over.
const jobLeaseSchema = new Schema(
  {
    _id: { type: String, required: true },
    holder: { type: String, default: null },
    slot: { type: Date, required: true },
    done: { type: Boolean, required: true },
    acquiredAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
  },
  { collection: 'job_leases' },
);

export type JobLeaseDoc = InferSchemaType<typeof jobLeaseSchema>;
export const JobLease = mongoose.model('JobLease', jobLeaseSchema);
