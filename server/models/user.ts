import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { ROLES } from '../domain/fields.ts';

// Accounts. Reporters are bound to one unit; other roles see all units (SPEC "Users").
const userSchema = new Schema(
  {
    username: { type: String, required: true, unique: true, trim: true },
    passwordHash: { type: String, required: true },
    role: { type: String, required: true, enum: ROLES },
    /** Unit code: required for reporters, absent for every other role. */
    unit: {
      type: String,
      default: null,
      validate: {
        validator(this: { role?: string }, v: string | null) {
          return this.role === 'reporter' ? typeof v === 'string' && v.length > 0 : v === null || v === undefined;
        },
        message: '填报员必须绑定一个单位，其他角色不能绑定单位',
      },
    },
    displayName: { type: String, default: null },
    active: { type: Boolean, required: true, default: true },
    /** Bumped on deactivation and password reset: web sessions carrying an older value are refused. */
    authVersion: { type: Number, required: true, default: 0 },
    /** Set for accounts whose password was generated (bulk import): every page and API call but changing it is refused until then. */
    mustChangePassword: { type: Boolean, default: false },
    /** Set while a bulk import inserts its accounts (inactive); cleared by the one write that activates them all. */
    pendingImport: { type: String, default: null },
  },
  { timestamps: true },
);

export type UserDoc = InferSchemaType<typeof userSchema>;
export const User = mongoose.model('User', userSchema);
