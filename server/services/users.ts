// User accounts: create, list, deactivate / reactivate, reset password; the first admin.
import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';
import mongoose from 'mongoose';
import { clock } from '../clock.ts';
import { AppError, conflict, notFound, unprocessable } from '../domain/errors.ts';
import { ROLES, type Role } from '../domain/fields.ts';
import { ROLE_LABELS as LABELS } from '../domain/vocabulary.ts';
import { readUserListOffThread } from '../excel/off-thread.ts';
import type { UserListError } from '../excel/user-list.ts';
import { Unit } from '../models/unit.ts';
import { User } from '../models/user.ts';
import { log } from '../log.ts';
import { audit, auditMany } from './audit.ts';
import { checkPasswordPolicy, hashPassword, revokeTokensOfUser } from './auth.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

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
  /** Generated password not changed yet: every page and API call but changing it is refused. */
  mustChangePassword: boolean;
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
  mustChangePassword?: boolean | null;
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
    mustChangePassword: u.mustChangePassword === true,
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
  // Accounts of an import still inserting (or that died half-way) are not accounts yet.
  const users = await User.find({ pendingImport: null }).sort({ role: 1, username: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  return users.map((u) => toView(u as UserLean));
}

async function findUser(id: string) {
  if (!mongoose.isValidObjectId(id)) throw notFound('user_not_found', '用户不存在');
  const user = await User.findOne({ _id: id, pendingImport: null }); // accounts of an unfinished import do not exist yet
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
  const units = await Unit.find({ active: true }, { code: 1, name: 1 }).sort({ code: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  return units.map((u) => ({ code: u.code, name: u.name }));
}

/** Reporter units that have an active account, by code (for the import template). */
async function unitsWithReporter(): Promise<Set<string>> {
  const docs = await User.find({ role: 'reporter', active: true }, { _id: 0, unit: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  return new Set(docs.map((d) => d.unit).filter((u): u is string => typeof u === 'string'));
}

/** The import template's rows: every active unit without an active reporter account, a user name suggested. */
export async function importTemplateUnits(): Promise<{ code: string; name: string; username: string }[]> {
  const [units, taken] = await Promise.all([unitOptions(), unitsWithReporter()]);
  return units.filter((u) => !taken.has(u.code)).map((u) => ({ ...u, username: u.code.toLowerCase() }));
}

// ---- bulk import (issue 17) ----

/** The role of a 角色 cell: a key or its label (and the usual short names); empty = 单位填报员. null: unknown. */
export function parseRole(raw: string): Role | null {
  const s = raw.normalize('NFKC').replace(/[\s\u3000]/g, '').replace(/[（）]/g, (c) => (c === '（' ? '(' : ')')).toLowerCase();
  if (s === '') return 'reporter';
  for (const r of ROLES) {
    if (s === r || s === LABELS[r].replace(/\s/g, '').toLowerCase()) return r;
  }
  const short: Record<string, Role> = { 填报员: 'reporter', 单位填报员: 'reporter', 填报: 'reporter', 审核员: 'reviewer', 审核: 'reviewer', '审核员(大数据局)': 'reviewer', 大数据局: 'reviewer', 领导小组办公室: 'office', 办公室: 'office', 领导: 'office', 管理员: 'admin' };
  return short[s] ?? null;
}

// Readable initial passwords: 12 characters of lower-case letters and digits without the look-alikes
// (0 o 1 l i), in three groups (about 59 bits from crypto.randomInt).
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export function generatePassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 3; g++) {
    let s = '';
    for (let i = 0; i < 4; i++) s += PASSWORD_ALPHABET[crypto.randomInt(PASSWORD_ALPHABET.length)];
    groups.push(s);
  }
  return groups.join('-');
}

export interface ImportedUser {
  id: string;
  username: string;
  role: Role;
  unit: string | null;
  unitName: string | null;
  displayName: string | null;
  /** The generated initial password: returned once, never stored (only its hash). */
  password: string;
}

/** Errors listed for a refused account list (the rest are counted). */
const MAX_IMPORT_ERRORS = 1000;
/** After this long, accounts of an import that never activated them are removed by the next import. */
const PENDING_IMPORT_MS = 3600_000;
/** Accounts one file may create. */
export const MAX_IMPORT_USERS = 5000;

/**
 * Creates the accounts of an account list (用户清单: 用户名, 单位代码, 姓名, 角色), read off the event loop
 * within bounds. All rows are checked first — user name format, names taken or repeated in the file,
 * unknown role, a reporter without a registered unit or a unit listed twice, a unit on another role —
 * and any problem refuses the whole file (422 invalid_file, every problem as {sheet, row, column, field,
 * message}) with nothing created. Each account gets a random initial password (returned once, only its
 * hash stored) and must change it at first login. The accounts are inserted inactive under one batch id
 * and made active by one write, so a failure half-way leaves no usable account (and removes the batch).
 */
export async function importUsers(actor: UserAdmin, buffer: Buffer): Promise<ImportedUser[]> {
  const list = await readUserListOffThread(buffer);
  if (!list.ok) throw unprocessable(list.code, list.message, { errors: list.errors });
  const { sheet, columns: cols } = list;
  const errors: UserListError[] = [];
  const push = (row: number | null, field: 'username' | 'unit' | 'displayName' | 'role' | null, message: string) =>
    errors.push({ sheet, row, column: field ? cols[field] ?? null : null, field, message: row ? `第${row}行 ${message}` : message });
  const rows = list.rows.filter((x) => x.username || x.unit || x.displayName || x.role);
  if (!rows.length) throw unprocessable('invalid_file', '文件中没有账号数据（「用户名」表头下没有任何行）');
  if (rows.length > MAX_IMPORT_USERS) throw unprocessable('invalid_file', `一个文件最多导入 ${MAX_IMPORT_USERS} 个账号，本文件有 ${rows.length} 个`);

  // Leftovers of an import that died between its insert and its activation (an hour old) free their names.
  await User.deleteMany({ pendingImport: { $ne: null }, createdAt: { $lt: new Date(clock.now().getTime() - PENDING_IMPORT_MS) } });
  const units = new Map((await Unit.find({}, { _id: 0, code: 1, name: 1, active: 1 }).batchSize(DOCS_PER_COMMAND).lean()).map((u) => [u.code, u]));
  const names = rows.map((x) => x.username).filter((n) => USERNAME_RE.test(n));
  const taken = new Set((await User.find({ username: { $in: names } }, { _id: 0, username: 1 }).lean()).map((u) => u.username));
  const seenName = new Map<string, number>();
  const seenUnit = new Map<string, number>();
  const clean: { row: number; username: string; role: Role; unit: string | null; unitName: string | null; displayName: string | null }[] = [];
  for (const x of rows) {
    const r = x.row;
    let ok = true;
    const fail = (field: Parameters<typeof push>[1], message: string) => {
      push(r, field, message);
      ok = false;
    };
    if (!x.username) fail('username', '用户名为空');
    else if (!USERNAME_RE.test(x.username)) fail('username', `用户名「${x.username.slice(0, 40)}」无效：应为 2–64 位字母、数字或 _ . @ -`);
    else if (taken.has(x.username)) fail('username', `用户名「${x.username}」已存在`);
    else if (seenName.has(x.username.toLowerCase())) fail('username', `用户名「${x.username}」与第${seenName.get(x.username.toLowerCase())}行重复`);
    else seenName.set(x.username.toLowerCase(), r);
    const role = parseRole(x.role);
    if (!role) fail('role', `角色「${x.role.slice(0, 40)}」无效，应为 ${ROLES.map((k) => LABELS[k]).join('、')} 之一（不填即为单位填报员）`);
    let unit: string | null = null;
    if (role === 'reporter') {
      const u = x.unit ? units.get(x.unit) : undefined;
      if (!x.unit) fail('unit', '单位填报员必须填写单位代码');
      else if (!u) fail('unit', `单位代码「${x.unit.slice(0, 40)}」不存在`);
      else if (u.active === false) fail('unit', `单位 ${x.unit}（${u.name}）已停用`);
      else if (seenUnit.has(x.unit)) fail('unit', `单位 ${x.unit} 与第${seenUnit.get(x.unit)}行重复：每个单位只导入一个账号`);
      else {
        seenUnit.set(x.unit, r);
        unit = x.unit;
      }
    } else if (role && x.unit) fail('unit', `只有单位填报员可以绑定单位（本行角色为${LABELS[role]}）`);
    if (x.displayName.length > 100) fail('displayName', '姓名不能超过 100 个字');
    if (ok && role) clean.push({ row: r, username: x.username, role, unit, unitName: unit ? units.get(unit)!.name : null, displayName: x.displayName || null });
  }
  if (errors.length) {
    const listed = errors.slice(0, MAX_IMPORT_ERRORS);
    if (errors.length > MAX_IMPORT_ERRORS) listed.push({ sheet, row: null, column: null, field: null, message: `错误过多，另有 ${errors.length - MAX_IMPORT_ERRORS} 处错误未列出` });
    throw unprocessable('invalid_file', `用户清单有 ${errors.length} 处错误，未导入任何账号`, { errors: listed });
  }

  const batch = crypto.randomBytes(12).toString('hex');
  const passwords = clean.map(() => generatePassword());
  const hashes: string[] = [];
  for (const pw of passwords) hashes.push(await hashPassword(pw));
  try {
    await User.insertMany(
      clean.map((x, i) => ({ username: x.username, passwordHash: hashes[i], role: x.role, unit: x.unit, displayName: x.displayName, active: false, mustChangePassword: true, pendingImport: batch })),
      { ordered: true },
    );
    const res = await User.updateMany({ pendingImport: batch }, { $set: { active: true, pendingImport: null } });
    if (res.modifiedCount !== clean.length) throw new Error(`activated ${res.modifiedCount} of ${clean.length} imported accounts`);
  } catch (err) {
    await User.deleteMany({ pendingImport: batch });
    if ((err as { code?: number }).code === 11000) throw conflict('username_taken', '导入时有用户名刚被他人占用，未导入任何账号，请重新导入');
    throw err;
  }
  const docs = await User.find({ username: { $in: clean.map((x) => x.username) } }, { _id: 1, username: 1 }).lean();
  const byName = new Map(docs.map((d) => [d.username, d]));
  const out = clean.map((x, i): ImportedUser => ({ id: String(byName.get(x.username)!._id), username: x.username, role: x.role, unit: x.unit, unitName: x.unitName, displayName: x.displayName, password: passwords[i]! }));
  await auditMany(actor, [
    ...out.map((u) => ({ action: 'user.create', entity: 'user', entityId: u.id, after: { username: u.username, role: u.role, unit: u.unit, displayName: u.displayName, active: true, mustChangePassword: true, importBatch: batch } })),
    { action: 'user.import', entity: 'user', entityId: batch, after: { created: out.length, usernames: out.map((u) => u.username) } },
  ]);
  return out;
}

// ---- changing one's own password ----

/**
 * The signed-in user changes their password: the current one must be right (401 invalid_credentials,
 * no throttle bypass: a wrong one is refused as a login would be), the new one must pass the policy and
 * differ from the current one. Clears mustChangePassword, revokes every token and every other session
 * (authVersion + 1): returns the new authVersion for the caller's own session.
 */
export async function changeOwnPassword(userId: string, current: unknown, next: unknown, confirm?: unknown): Promise<number> {
  const user = await findUser(userId);
  if (typeof current !== 'string' || current === '') throw new AppError(400, 'missing_credentials', '请输入当前密码');
  const pw = checkPasswordPolicy(next);
  if (confirm !== undefined && confirm !== pw) throw new AppError(400, 'password_mismatch', '两次输入的新密码不一致');
  if (!(await bcrypt.compare(current, user.passwordHash))) throw new AppError(401, 'invalid_credentials', '当前密码不正确');
  if (pw === current) throw new AppError(400, 'weak_password', '新密码不能与当前密码相同');
  const res = await User.findOneAndUpdate(
    { _id: user._id },
    { $set: { passwordHash: await hashPassword(pw), mustChangePassword: false }, $inc: { authVersion: 1 } },
    { returnDocument: 'after', lean: true },
  );
  await revokeTokensOfUser(userId);
  await audit({ username: user.username, role: user.role }, { action: 'user.password_change', entity: 'user', entityId: userId, after: { username: user.username, tokensRevoked: true, wasRequired: user.mustChangePassword === true } });
  return res!.authVersion;
}
