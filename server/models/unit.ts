import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { UNIT_CATEGORIES } from '../domain/fields.ts';

const unitSchema = new Schema(
  {
    code: { type: String, required: true, unique: true, trim: true },
    name: { type: String, required: true, trim: true },
    category: { type: String, required: true, enum: UNIT_CATEGORIES },
    parent: { type: String, default: null },
    active: { type: Boolean, default: true },
    /** Other names the unit goes by (简称): an upload's unit-name column matches them silently (SPEC §6). */
    aliases: { type: [String], default: [] },
  },
  { timestamps: true },
);

export type UnitDoc = InferSchemaType<typeof unitSchema>;
export const Unit = mongoose.model('Unit', unitSchema);
