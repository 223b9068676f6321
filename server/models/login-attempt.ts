import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// Login throttling counters (server/services/auth.ts; the collection of the older one-document-per-
// failure shape, login_attempts, is no longer read), kept in the database so that they hold across
// app instances: one document per key, `pair:<account>|<address>` (failures of one account from one
// address) or `ip:<address>` (failures from one address, whatever the account). `count` is changed only
// by atomic $inc / conditional updates: attempts in flight are counted before the password is checked.
// A counter lives until `resetAt` (its window); expired ones are pruned by the auth service.
const loginAttemptSchema = new Schema(
  {
    key: { type: String, required: true },
    /** Attempts counted in this window (checked failures, plus attempts being checked right now). */
    count: { type: Number, required: true },
    /** End of the window: the counter starts again from 0 after it. */
    resetAt: { type: Date, required: true },
    /** Slow-down: no attempt for this key is checked before it (epoch = none). */
    notBefore: { type: Date, required: true },
  },
  { collection: 'login_counters' },
);
loginAttemptSchema.index({ key: 1 }, { unique: true });
loginAttemptSchema.index({ resetAt: 1 });

export type LoginAttemptDoc = InferSchemaType<typeof loginAttemptSchema>;
export const LoginAttempt = mongoose.model('LoginAttempt', loginAttemptSchema);
