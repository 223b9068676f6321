import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// Secrets generated once per deployment (session cookie and token signing keys) when they are
// not given in the environment: kept in the database so that every instance shares them and
// tokens and sessions survive restarts.
const appSecretSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    value: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'app_secrets' },
);

export type AppSecretDoc = InferSchemaType<typeof appSecretSchema>;
export const AppSecret = mongoose.model('AppSecret', appSecretSchema);
