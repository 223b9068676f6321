import mongoose, { Schema, type InferSchemaType } from 'mongoose';

// One version of the plausibility rule set (异常提示规则, issue 14 item 3). Versions are immutable: an
// edit inserts version n+1. `definition` holds the pure rule set of server/domain/plausibility.ts
// (validated there). Owned by server/services/plausibility.ts.
const plausibilityRulesSchema = new Schema(
  {
    version: { type: Number, required: true, unique: true, min: 1 },
    definition: { type: Schema.Types.Mixed, required: true },
    note: { type: String, default: '' },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'plausibility_rules', minimize: false },
);

export type PlausibilityRulesDoc = InferSchemaType<typeof plausibilityRulesSchema>;
export const PlausibilityRuleSet = mongoose.model('PlausibilityRuleSet', plausibilityRulesSchema);
