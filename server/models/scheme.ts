import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// One version of the assessment scheme (考核方案, SPEC §4). Versions are immutable: an edit inserts
// version n+1. `definition` holds the pure scheme object of server/domain/scoring (validated there).
const schemeSchema = new Schema(
  {
    version: { type: Number, required: true, unique: true, min: 1 },
    definition: { type: Schema.Types.Mixed, required: true },
    note: { type: String, default: '' },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'schemes', minimize: false },
);

export type SchemeVersionDoc = InferSchemaType<typeof schemeSchema>;
export const SchemeVersion = mongoose.model('SchemeVersion', schemeSchema);
