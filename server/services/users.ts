// User accounts: create, list, deactivate / reactivate, reset password; the first admin.
import mongoose from 'mongoose';
import { AppError, conflict, notFound } from '../domain/errors.ts';
import { ROLES, type Role } from '../domain/fields.ts';
import { Unit } from '../models/unit.ts';
import { User } from '../models/user.ts';
import { log } from '../log.ts';
import { audit } from './audit.ts';
import { checkPasswordPolicy, hashPassword, revokeTokensOfUser } from './auth.ts';

/** Who changes an account (for the audit trail); `id` guards against deactivating oneself. */
export interface UserAdmin {
  id?: string;
  username: string;
  role?: string | null;
}

/** The audit shape of an account: never the password hash. */
function auditView(u: UserView) {
  return { username: u.username, role: u.role, unit: u.unit, displayName: u.displayName, active: u.active };
}

export { ROLE_LABELS } from '../domain/vocabulary.ts';

export interface UserView {
  id: string;
  username: string;
  role: Role;
  unit: string | null;
  displayName: string | null;
  active: boolean;
  createdAt: Date | null;
}

const USERNAME_RE = /^[A-Za-z0-9_.@-]{2,64}$/;

interface UserLean {
  _id: mongoose.Types.ObjectId;
  username: string;
  role: string;
  unit?: string | null;
  displayName?: string | null;
  active: boolean;
  createdAt?: Date;
}

export function toView(u: UserLean): UserView {
  return {
    id: String(u._id),
    username: u.username,
    role: u.role as Role,
    unit: u.unit ?? null,
    displayName: u.displayName ?? null,
    active: u.active,
    createdAt: u.createdAt ?? null,
  };
}

export interface NewUser {
  username: unknown;
  password: unknown;
  role: unknown;
  unit?: unknown;
  displayName?: unknown;
}

/** Creates a user. 400 on bad input (unknown role, missing / foreign unit, weak password), 409 when the name is taken. */
export async function createUser(input: NewUser, opts: { checkUnit?: boolean; actor?: UserAdmin } = {}): Promise<UserView> {
  const username = typeof input.username === 'string' ? input.username.trim() : '';
  if (!USERNAME_RE.test(username)) {
    throw new AppError(400, 'invalid_username', '用户名须为 2–64 位字母、数字或 _ . @ -');
  }
  const password = checkPasswordPolicy(input.password);
  if (typeof input.role !== 'string' || !(ROLES as readonly string[]).includes(input.role)) {
    throw new AppError(400, 'invalid_role', `角色必须是 ${ROLES.join(' / ')} 之一`);
  }
  const role = input.role as Role;
  let unit: string | null = null;
  const rawUnit = typeof input.unit === 'string' ? input.unit.trim() : input.unit;
  if (role === 'reporter') {
    if (typeof rawUnit !== 'string' || rawUnit === '') throw new AppError(400, 'unit_required', '填报员必须指定所属单位');
    unit = rawUnit;
    if (opts.checkUnit !== false && !(await Unit.exists({ code: unit }))) {
      throw new AppError(400, 'unknown_unit', `单位代码 ${unit} 不存在`);
    }
  } else if (rawUnit !== undefined && rawUnit !== null && rawUnit !== '') {
    throw new AppError(400, 'unit_not_allowed', '只有填报员可以绑定单位');
  }
  const displayName = typeof input.displayName === 'string' && input.displayName.trim() ? input.displayName.trim().slice(0, 100) : null;
  if (await User.exists({ username })) throw conflict('username_taken', `用户名 ${username} 已存在`);
  try {
    const doc = await User.create({ username, passwordHash: await hashPassword(password), role, unit, displayName });
    const view = toView(doc.toObject() as UserLean);
    if (opts.actor) await audit(opts.actor, { action: 'user.create', entity: 'user', entityId: view.id, after: auditView(view) });
    return view;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) throw conflict('username_taken', `用户名 ${username} 已存在`);
    throw err;
  }
}

export async function listUsers(): Promise<UserView[]> {
  const users = await User.find({}).sort({ role: 1, username: 1 }).lean();
  return users.map((u) => toView(u as UserLean));
}

async function findUser(id: string) {
  if (!mongoose.isValidObjectId(id)) throw notFound('user_not_found', '用户不存在');
  const user = await User.findById(id);
  if (!user) throw notFound('user_not_found', '用户不存在');
  return user;
}

export async function getUser(id: string): Promise<UserView> {
  return toView((await findUser(id)).toObject() as UserLean);
}

/** Deactivates (revoking every token and web session of the user) or reactivates a user. */
export async function setUserActive(id: string, active: boolean, actor?: UserAdmin): Promise<UserView> {
  if (!active && actor?.id === id) throw new AppError(400, 'cannot_deactivate_self', '不能停用自己的账号');
  const user = await findUser(id);
  const before = toView(user.toObject() as UserLean);
  if (!active) {
    await User.updateOne({ _id: user._id }, { $set: { active: false }, $inc: { authVersion: 1 } });
    await revokeTokensOfUser(id);
  } else {
    await User.updateOne({ _id: user._id }, { $set: { active: true } });
  }
  const after = await getUser(id);
  if (actor && before.active !== after.active) {
    await audit(actor, { action: active ? 'user.activate' : 'user.deactivate', entity: 'user', entityId: id, before: auditView(before), after: auditView(after) });
  }
  return after;
}

/** Sets a new password; the user's tokens and web sessions are revoked. */
export async function resetPassword(id: string, password: unknown, actor?: UserAdmin): Promise<UserView> {
  const pw = checkPasswordPolicy(password);
  const user = await findUser(id);
  await User.updateOne({ _id: user._id }, { $set: { passwordHash: await hashPassword(pw) }, $inc: { authVersion: 1 } });
  await revokeTokensOfUser(id);
  const after = await getUser(id);
  if (actor) await audit(actor, { action: 'user.password_reset', entity: 'user', entityId: id, after: { username: after.username, tokensRevoked: true } });
  return after;
}

/** On a database with no users, creates `admin` with the given password. Returns whether it did. */
export async function ensureFirstAdmin(password: string | undefined): Promise<boolean> {
  if (!password) return false;
  if ((await User.estimatedDocumentCount()) > 0 || (await User.exists({}))) return false;
  try {
    await createUser({ username: 'admin', password, role: 'admin', displayName: '系统管理员' }, { actor: { username: 'system', role: 'system' } });
    log.info('created the first admin user "admin" from ADMIN_PASSWORD');
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === 'username_taken') return false; // another instance won
    throw err;
  }
}

/** Units to choose from when creating a reporter. */
export async function unitOptions(): Promise<{ code: string; name: string }[]> {
  const units = await Unit.find({ active: true }, { code: 1, name: 1 }).sort({ code: 1 }).lean();
  return units.map((u) => ({ code: u.code, name: u.name }));
}
