import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// API tokens issued by POST /api/v1/auth/token. The token itself is HMAC-signed and carries its
// `jti`; this record makes it revocable (checked on every request).
const authTokenSchema = new Schema(
  {
    jti: { type: String, required: true, unique: true },
    user: { type: Schema.Types.ObjectId, required: true },
    issuedAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
  },
  { collection: 'auth_tokens' },
);
authTokenSchema.index({ user: 1, revokedAt: 1 });
authTokenSchema.index({ expiresAt: 1 });

export type AuthTokenDoc = InferSchemaType<typeof authTokenSchema>;
export const AuthToken = mongoose.model('AuthToken', authTokenSchema);
