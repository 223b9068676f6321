import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// Failed logins, one document per failure and key (`user:<name>` or `ip:<address>`), kept in the
// database so that throttling holds across app instances. Old ones are pruned by the auth service.
const loginAttemptSchema = new Schema(
  {
    key: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'login_attempts' },
);
loginAttemptSchema.index({ key: 1, at: 1 });
loginAttemptSchema.index({ at: 1 });

export type LoginAttemptDoc = InferSchemaType<typeof loginAttemptSchema>;
export const LoginAttempt = mongoose.model('LoginAttempt', loginAttemptSchema);
