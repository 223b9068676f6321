// Authentication: passwords, login throttling, signed revocable API tokens, deployment secrets.
import crypto from 'node:crypto';
import bcrypt from 'bcryptjs';
import mongoose from 'mongoose';
import { clock } from '../clock.ts';
import { AppError } from '../domain/errors.ts';
import type { Role } from '../domain/fields.ts';
import { AppSecret } from '../models/app-secret.ts';
import { AuthToken } from '../models/auth-token.ts';
import { LoginAttempt } from '../models/login-attempt.ts';
import { User } from '../models/user.ts';

export interface AuthPrincipal {
  id: string;
  username: string;
  role: Role;
  unit?: string;
  /** Present (true) while the user's generated password has not been changed (http/auth.ts passwordChangeGate). */
  mustChangePassword?: true;
}

interface AuthSettings {
  tokenSecret: string;
  tokenTtlSeconds: number;
  bcryptRounds: number;
}

let settings: AuthSettings | null = null;

/** Called once by createApp with the resolved secrets. */
export function configureAuth(s: AuthSettings): void {
  settings = s;
}

function cfg(): AuthSettings {
  if (!settings) throw new Error('auth service not configured (configureAuth)');
  return settings;
}

// ---------------------------------------------------------------- secrets

/** The value of secret `name`: `given` when set, else one generated once and kept in the database (shared by all instances). */
export async function resolveSecret(name: string, given: string | undefined): Promise<string> {
  if (given) return given;
  const fresh = crypto.randomBytes(32).toString('base64url');
  const doc = await AppSecret.findOneAndUpdate(
    { name },
    { $setOnInsert: { name, value: fresh, createdAt: clock.now() } },
    { upsert: true, returnDocument: 'after', lean: true },
  );
  return doc!.value;
}

// ---------------------------------------------------------------- passwords

export const PASSWORD_MIN_LENGTH = 8;

export function checkPasswordPolicy(password: unknown): string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN_LENGTH) {
    throw new AppError(400, 'weak_password', `密码至少需要 ${PASSWORD_MIN_LENGTH} 个字符`);
  }
  if (password.length > 200) throw new AppError(400, 'weak_password', '密码不能超过 200 个字符');
  return password;
}

export async function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, cfg().bcryptRounds);
}

// A hash to compare against when the user does not exist, so that both cases take the same time.
let dummyHash: string | null = null;
async function dummy(): Promise<string> {
  dummyHash ??= await bcrypt.hash('not-a-password', cfg().bcryptRounds);
  return dummyHash;
}

// ---------------------------------------------------------------- throttling
//
// OWASP's "protect without locking out": failures are counted per (account, address) and per address
// across accounts, never per account alone — a guesser slows down and then is refused for that account
// from that address, while the account's owner, from any other address, still gets in; other users at
// the guessing address are refused only once that address has failed for many accounts (spraying).
// Every attempt takes a slot of both counters with an atomic conditional update BEFORE the password is
// checked, so parallel attempts can never get more checks than the limits; a correct password gives
// the slot back (and clears the pair's counter). Refused attempts are not counted: hammering a refused
// pair never locks the address.

export const THROTTLE = {
  /** Counting window, from the first counted attempt. */
  windowMs: 15 * 60 * 1000,
  /** Checked failures of one account from one address before its attempts are refused until the window ends. */
  perPair: 5,
  /** After this many failures of a pair, each next attempt waits slowDownMs × 4^(failures − slowAfter). */
  slowAfter: 2,
  slowDownMs: 2000,
  /** Checked failures from one address, whatever the accounts (≥ perAddress / perPair accounts sprayed). */
  perAddress: 30,
};

const EPOCH = new Date(0);
/** Usernames are bounded in the key (a hostile one could be the whole request body). */
const accountOf = (username: string) => username.trim().toLowerCase().slice(0, 128);
const pairKey = (username: string, ip: string) => `pair:${accountOf(username)}|${ip}`;
const ipKey = (ip: string) => `ip:${ip}`;

function tooMany(retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const wait = seconds >= 120 ? `${Math.ceil(seconds / 60)} 分钟` : `${seconds} 秒`;
  return new AppError(429, 'too_many_attempts', `登录失败次数过多，请 ${wait}后再试`, { retryAfterSeconds: seconds });
}

/** Seconds a 429 asks to wait (the Retry-After header). */
export function retryAfterOf(err: AppError): number | undefined {
  const d = err.details as { retryAfterSeconds?: unknown } | undefined;
  return typeof d?.retryAfterSeconds === 'number' ? d.retryAfterSeconds : undefined;
}

const isDuplicate = (err: unknown) => (err as { code?: unknown } | null)?.code === 11000;

/**
 * Takes one slot of counter `key` (limit `limit` per window), atomically: → null when taken, else
 * the milliseconds until a slot may be free (the window's end, or the slow-down's).
 */
async function takeSlot(key: string, limit: number, now: Date): Promise<number | null> {
  const windowEnd = new Date(now.getTime() + THROTTLE.windowMs);
  for (let round = 0; round < 4; round++) {
    const taken = await LoginAttempt.findOneAndUpdate(
      { key, resetAt: { $gt: now }, count: { $lt: limit }, notBefore: { $lte: now } },
      { $inc: { count: 1 } },
      { returnDocument: 'after', lean: true },
    );
    if (taken) return null;
    const cur = await LoginAttempt.findOne({ key }).lean();
    if (!cur) {
      try {
        await LoginAttempt.collection.insertOne({ key, count: 1, resetAt: windowEnd, notBefore: EPOCH });
        return null;
      } catch (err) {
        if (isDuplicate(err)) continue; // someone else created it: take a slot of theirs
        throw err;
      }
    }
    if (cur.resetAt.getTime() <= now.getTime()) {
      // The window is over: start a new one (only one of concurrent attempts wins this; the others retry).
      const r = await LoginAttempt.updateOne({ key, resetAt: cur.resetAt }, { $set: { count: 1, resetAt: windowEnd, notBefore: EPOCH } });
      if (r.modifiedCount === 1) return null;
      continue;
    }
    if (cur.count >= limit) return cur.resetAt.getTime() - now.getTime();
    if (cur.notBefore.getTime() > now.getTime()) return cur.notBefore.getTime() - now.getTime();
    // Changed between the two reads: try again.
  }
  return 1000;
}

/** Gives back a slot taken by takeSlot (the attempt was not a failure, or was not checked). */
async function giveBack(key: string): Promise<void> {
  await LoginAttempt.updateOne({ key, count: { $gt: 0 } }, { $inc: { count: -1 } });
}

/** After a checked failure of a pair: the slow-down before its next attempt. */
async function slowDown(key: string, now: Date): Promise<void> {
  const doc = await LoginAttempt.findOne({ key }, { count: 1 }).lean();
  if (!doc || doc.count < THROTTLE.slowAfter || doc.count >= THROTTLE.perPair) return;
  const wait = THROTTLE.slowDownMs * 4 ** (doc.count - THROTTLE.slowAfter);
  await LoginAttempt.updateOne({ key }, { $max: { notBefore: new Date(now.getTime() + wait) } });
}

/**
 * Checks a username and password from client address `ip`. Throws 429 `too_many_attempts` (details
 * {retryAfterSeconds}) while the account is throttled for this address or the address for every
 * account, 401 `invalid_credentials` for a wrong password, unknown or deactivated user.
 */
export async function verifyLogin(username: unknown, password: unknown, ip: string): Promise<AuthPrincipal & { authVersion: number }> {
  if (typeof username !== 'string' || username.trim() === '' || typeof password !== 'string' || password === '') {
    throw new AppError(400, 'missing_credentials', '请输入用户名和密码');
  }
  const now = clock.now();
  const pair = pairKey(username, ip);
  const addr = ipKey(ip);
  const pairWait = await takeSlot(pair, THROTTLE.perPair, now);
  if (pairWait !== null) throw tooMany(pairWait);
  const addrWait = await takeSlot(addr, THROTTLE.perAddress, now);
  if (addrWait !== null) {
    await giveBack(pair);
    throw tooMany(addrWait);
  }

  let user: Awaited<ReturnType<typeof findLoginUser>>;
  let ok: boolean;
  try {
    user = await findLoginUser(username);
    ok = await bcrypt.compare(password, user ? user.passwordHash : await dummy());
  } catch (err) {
    // Not checked after all (the database failed): the attempt is not a failure.
    await Promise.all([giveBack(pair), giveBack(addr)]).catch(() => {});
    throw err;
  }
  if (!user || !ok || !user.active) {
    await slowDown(pair, now);
    // Occasionally drop counters whose window is long over (cheap, indexed).
    if (Math.random() < 0.05) await LoginAttempt.deleteMany({ resetAt: { $lt: new Date(now.getTime() - THROTTLE.windowMs) } }).catch(() => {});
    throw new AppError(401, 'invalid_credentials', '用户名或密码错误');
  }
  await Promise.all([LoginAttempt.deleteOne({ key: pair }), giveBack(addr)]);
  return { ...principalOfUser(user), authVersion: user.authVersion };
}

function findLoginUser(username: string) {
  return User.findOne({ username: username.trim() }).lean();
}

// ---------------------------------------------------------------- principals

interface UserLike {
  _id: mongoose.Types.ObjectId;
  username: string;
  role: string;
  unit?: string | null;
  mustChangePassword?: boolean | null;
}

export function principalOfUser(u: UserLike): AuthPrincipal {
  const p: AuthPrincipal = { id: String(u._id), username: u.username, role: u.role as Role };
  if (u.role === 'reporter' && u.unit) p.unit = u.unit;
  if (u.mustChangePassword === true) p.mustChangePassword = true;
  return p;
}

// The per-request checks below read the user (and the token record) with the driver, projected to
// what the check needs: the same documents as the models' lean reads, without mongoose's query
// machinery (it cost about as much as the read itself). Nothing is cached: a revocation, deactivation
// or re-key written by any instance is seen by the very next request.
const PRINCIPAL_FIELDS = { _id: 1, username: 1, role: 1, unit: 1, active: 1, authVersion: 1, mustChangePassword: 1 } as const;
const HEX_ID = /^[0-9a-f]{24}$/i;

type PrincipalUser = UserLike & { active?: boolean | null; authVersion?: number | null };

async function principalUser(id: string): Promise<PrincipalUser | null> {
  // Ids we issue are 24 hex digits; anything else takes the model's casting path.
  if (!HEX_ID.test(id)) return (await User.findById(id, PRINCIPAL_FIELDS).lean()) as PrincipalUser | null;
  return (await User.collection.findOne({ _id: new mongoose.Types.ObjectId(id) }, { projection: PRINCIPAL_FIELDS })) as PrincipalUser | null;
}

/** The principal of a web session, or null when the user is gone, deactivated or re-keyed since. */
export async function principalFromSession(userId: string, authVersion: number | undefined): Promise<AuthPrincipal | null> {
  if (!mongoose.isValidObjectId(userId)) return null;
  const user = await principalUser(userId);
  if (!user || !user.active || (authVersion ?? 0) !== user.authVersion) return null;
  return principalOfUser(user);
}

// ---------------------------------------------------------------- tokens

interface TokenPayload {
  jti: string;
  sub: string;
  exp: number; // seconds since epoch
}

function sign(payload: string): string {
  return crypto.createHmac('sha256', cfg().tokenSecret).update(payload).digest('base64url');
}

/** Issues a signed, expiring, revocable API token for an active user. */
export async function issueToken(userId: string): Promise<{ token: string; expiresAt: Date; jti: string }> {
  const now = clock.now();
  const expiresAt = new Date(now.getTime() + cfg().tokenTtlSeconds * 1000);
  const jti = crypto.randomBytes(16).toString('base64url');
  await AuthToken.create({ jti, user: userId, issuedAt: now, expiresAt });
  const payload: TokenPayload = { jti, sub: userId, exp: Math.floor(expiresAt.getTime() / 1000) };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return { token: `${body}.${sign(body)}`, expiresAt, jti };
}

/** Checks signature and expiry without touching the database; null when invalid. */
export function decodeToken(token: string): TokenPayload | null {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  const [body, sig] = parts as [string, string];
  const expected = Buffer.from(sign(body));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) return null;
  let payload: TokenPayload;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenPayload;
  } catch {
    return null;
  }
  if (typeof payload?.jti !== 'string' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') return null;
  if (payload.exp * 1000 <= clock.now().getTime()) return null;
  return payload;
}

/** The principal of a bearer token: signed, unexpired, not revoked, and its user active. */
export async function principalFromToken(token: string): Promise<(AuthPrincipal & { jti: string }) | null> {
  const payload = decodeToken(token);
  if (!payload || !mongoose.isValidObjectId(payload.sub)) return null;
  // Both reads at once (each needs only the signed payload).
  const [rec, user] = await Promise.all([
    AuthToken.collection.findOne({ jti: payload.jti }, { projection: { user: 1, expiresAt: 1, revokedAt: 1 } }),
    principalUser(payload.sub),
  ]);
  if (!rec || rec.revokedAt || String(rec.user) !== payload.sub || !(rec.expiresAt instanceof Date) || rec.expiresAt.getTime() <= clock.now().getTime()) return null;
  if (!user || !user.active) return null;
  return { ...principalOfUser(user), jti: payload.jti };
}

export async function revokeToken(jti: string): Promise<void> {
  await AuthToken.updateOne({ jti, revokedAt: null }, { $set: { revokedAt: clock.now() } });
}

export async function revokeTokensOfUser(userId: string): Promise<void> {
  await AuthToken.updateMany({ user: userId, revokedAt: null }, { $set: { revokedAt: clock.now() } });
}

/** Removes token records long past expiry (housekeeping; safe to call any time). */
export async function pruneExpiredTokens(): Promise<number> {
  const cutoff = new Date(clock.now().getTime() - 24 * 3600 * 1000);
  const res = await AuthToken.deleteMany({ expiresAt: { $lt: cutoff } });
  return res.deletedCount ?? 0;
}
