// Configuration from the environment (SPEC §8). Every value is validated here, once: a bad value
// makes start-up fail at once with a one-line reason (ConfigError), never later at first use.
import net from 'node:net';
import path from 'node:path';

export interface Config {
  /** HTTP port; 0 = any free port (tests). */
  port: number;
  /** Interface to listen on; undefined = all interfaces. */
  host: string | undefined;
  /** A MongoDB deployment; undefined = start the embedded engine on `dataDir`. */
  mongodbUri: string | undefined;
  /** Database name used on the deployment / engine. */
  dbName: string;
  /** Absolute path of the data directory of the embedded engine. */
  dataDir: string;
  /** On a database with no users, creates user `admin` with this password. */
  adminPassword: string | undefined;
  /** Load the demo province on an empty database. */
  demoData: boolean;
  /** IANA time zone for deadlines, jobs and display. */
  tz: string;
  /** First assessed quarter (ASSESSMENT_START); undefined: the quarter in which the database was created. */
  assessmentStart: string | undefined;
  /** Delay after a change before provisional results are recomputed (RECOMPUTE_DELAY_MS; changes in it are coalesced). */
  recomputeDelayMs: number;
  /** Secrets for session cookies and API tokens; when unset, generated once and kept in the database. */
  sessionSecret: string | undefined;
  tokenSecret: string | undefined;
  /** Lifetime of API tokens, seconds. */
  tokenTtlSeconds: number;
  /** Lifetime of an idle web session, seconds. */
  sessionTtlSeconds: number;
  /** Largest accepted upload (Excel returns), bytes. */
  uploadMaxBytes: number;
  /** Largest attachment (整改报告附件、佐证材料) accepted, each (ATTACHMENT_MAX_BYTES, default 20 MB). */
  attachmentMaxBytes: number;
  /** Largest accepted JSON / form body, bytes. */
  bodyMaxBytes: number;
  logLevel: LogLevel;
  /** bcrypt cost factor for password hashes. */
  bcryptRounds: number;
  /**
   * Express 'trust proxy' setting: false (believe no X-Forwarded-* header; the client is the socket's
   * peer), or the reverse proxies whose X-Forwarded-For / -Proto are believed, as addresses, subnets
   * and Express's names (loopback, linklocal, uniquelocal), comma-separated.
   */
  trustProxy: false | string;
  /** Mark cookies Secure and send HSTS (when served over HTTPS). */
  secureCookies: boolean;
  /** Where the nightly backup job writes (embedded engine only); default DATA_DIR/backups. */
  backupDir: string;
  /** How many backups the backup job keeps in backupDir (older ones are removed). */
  backupKeep: number;
  /** V8's old-generation growth between full collections, percent (HEAP_GROWTH_PERCENT; 0 = V8's own rule). See server/heap.ts. */
  heapGrowthPercent: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function present(env: Env, key: string): string | undefined {
  const v = env[key];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function integer(env: Env, key: string, def: number, min: number, max: number): number {
  const raw = present(env, key);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${key} 必须是 ${min}–${max} 之间的整数（当前为 "${raw}"）`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${key} 必须是 ${min}–${max} 之间的整数（当前为 "${raw}"）`);
  }
  return n;
}

function flag(env: Env, key: string): boolean {
  const raw = present(env, key);
  if (raw === undefined) return false;
  const v = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${key} 必须是 1 或 0（当前为 "${raw}"）`);
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY (SPEC §8): names the reverse proxy whose X-Forwarded-For may be believed — its
 * addresses or subnets (10.0.0.5, 10.0.0.0/8, ::1, fd00::/8) or Express's names loopback,
 * linklocal, uniquelocal, comma-separated; unset, "false", "0" or "off" = no proxy. "true" and hop
 * counts are refused: they would believe an X-Forwarded-For that any client can send (and so let a
 * guesser pick the address its failed logins are counted against).
 */
function trustProxyOf(raw: string | undefined): false | string {
  if (raw === undefined || /^(false|0|off|no)$/i.test(raw)) return false;
  if (/^(true|yes|on)$/i.test(raw) || /^\d+$/.test(raw)) {
    throw new ConfigError(`TRUST_PROXY 应写出反向代理的地址或网段（如 10.0.0.5、10.0.0.0/8、loopback），不能为 "${raw}"：那样任何客户端都能伪造 X-Forwarded-For`);
  }
  const items = raw.split(',').map((x) => x.trim());
  for (const item of items) {
    if (!isProxyItem(item)) {
      throw new ConfigError(`TRUST_PROXY 中的 "${item}" 不是 IP 地址、网段或 ${PROXY_NAMES.join('/')} 之一（当前为 "${raw}"）`);
    }
  }
  return items.join(',');
}

function isProxyItem(item: string): boolean {
  if (PROXY_NAMES.includes(item)) return true;
  const [addr, prefix, ...rest] = item.split('/');
  if (rest.length > 0 || !addr) return false;
  const family = net.isIP(addr);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Reads and validates the configuration; throws ConfigError with a one-line reason. */
export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);

  const mongodbUri = present(env, 'MONGODB_URI');
  if (mongodbUri !== undefined && !/^mongodb(\+srv)?:\/\/\S+$/.test(mongodbUri)) {
    throw new ConfigError(`MONGODB_URI 必须以 mongodb:// 或 mongodb+srv:// 开头（当前为 "${mongodbUri}"）`);
  }

  const dbName = present(env, 'MONGODB_DB') ?? 'assessment';
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(dbName)) throw new ConfigError(`MONGODB_DB 不是有效的数据库名（当前为 "${dbName}"）`);

  const dataDir = path.resolve(present(env, 'DATA_DIR') ?? './data');

  const adminPassword = env.ADMIN_PASSWORD === undefined || env.ADMIN_PASSWORD === '' ? undefined : env.ADMIN_PASSWORD;
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('ADMIN_PASSWORD 至少需要 8 个字符');
  }

  const tz = present(env, 'TZ') ?? 'Asia/Shanghai';
  if (!isValidTimeZone(tz)) throw new ConfigError(`TZ 不是有效的 IANA 时区（当前为 "${tz}"，例如 Asia/Shanghai）`);

  const assessmentStart = present(env, 'ASSESSMENT_START');
  if (assessmentStart !== undefined && !/^\d{4}Q[1-4]$/.test(assessmentStart)) {
    throw new ConfigError(`ASSESSMENT_START 应为 YYYYQn 格式，如 2026Q1（当前为 "${assessmentStart}"）`);
  }

  const secret = (key: string): string | undefined => {
    const v = present(env, key);
    if (v !== undefined && v.length < 16) throw new ConfigError(`${key} 至少需要 16 个字符`);
    return v;
  };

  const logLevelRaw = (present(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    throw new ConfigError(`LOG_LEVEL 必须是 ${LOG_LEVELS.join('|')} 之一（当前为 "${logLevelRaw}"）`);
  }

  const backupDir = path.resolve(present(env, 'BACKUP_DIR') ?? path.join(dataDir, 'backups'));
  if (backupDir === dataDir) throw new ConfigError(`BACKUP_DIR 不能与 DATA_DIR 相同（当前均为 "${dataDir}"）`);

  const trustProxy = trustProxyOf(present(env, 'TRUST_PROXY'));

  return {
    port,
    host: present(env, 'HOST'),
    mongodbUri,
    dbName,
    dataDir,
    adminPassword,
    demoData: flag(env, 'DEMO_DATA'),
    tz,
    assessmentStart,
    recomputeDelayMs: integer(env, 'RECOMPUTE_DELAY_MS', 2000, 0, 600_000),
    sessionSecret: secret('SESSION_SECRET'),
    tokenSecret: secret('TOKEN_SECRET'),
    tokenTtlSeconds: integer(env, 'TOKEN_TTL_SECONDS', 12 * 3600, 60, 90 * 24 * 3600),
    sessionTtlSeconds: integer(env, 'SESSION_TTL_SECONDS', 8 * 3600, 60, 90 * 24 * 3600),
    uploadMaxBytes: integer(env, 'UPLOAD_MAX_BYTES', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    attachmentMaxBytes: integer(env, 'ATTACHMENT_MAX_BYTES', 20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    bodyMaxBytes: integer(env, 'BODY_MAX_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    logLevel: logLevelRaw as LogLevel,
    heapGrowthPercent: integer(env, 'HEAP_GROWTH_PERCENT', 20, 0, 400),
    bcryptRounds: integer(env, 'BCRYPT_ROUNDS', 10, 4, 15),
    trustProxy,
    secureCookies: flag(env, 'SECURE_COOKIES'),
    backupDir,
    backupKeep: integer(env, 'BACKUP_KEEP', 14, 1, 1000),
  };
}

/** The configuration the running app was created with (set by createApp); for modules that need it at run time. */
let current: Config | null = null;
export function setCurrentConfig(c: Config): void {
  current = c;
}
export function currentConfig(): Config {
  if (!current) current = loadConfig();
  return current;
}
