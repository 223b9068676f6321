// The jobs page in words (issue 17): cron expressions as people say them ("每天 02:00（北京时间）"), the
// next run time, a time zone's name, and a run's counts named ("期次 0 个、单位 0 个、通知 0 条").
// Pure: the caller gives the instant to count from and the zone.
import { zonedTime } from './periods.ts';

/** A zone's name for people: Asia/Shanghai (and the zones that keep its time) is 北京时间. */
export function zoneLabel(tz: string): string {
  if (['Asia/Shanghai', 'Asia/Chongqing', 'Asia/Harbin', 'Asia/Urumqi', 'PRC', 'Asia/Beijing'].includes(tz)) return tz === 'Asia/Urumqi' ? '乌鲁木齐时间' : '北京时间';
  if (tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT') return '协调世界时（UTC）';
  return `${tz} 时区`;
}

// ---- cron ----

interface CronField {
  /** Every allowed value, ascending. */
  values: number[];
  /** The field was `*` (every value). */
  any: boolean;
  /** `*\/n`: every n. */
  step: number | null;
}

export interface ParsedCron {
  second: CronField;
  minute: CronField;
  hour: CronField;
  dayOfMonth: CronField;
  month: CronField;
  dayOfWeek: CronField;
}

function field(src: string, min: number, max: number, what: string): CronField {
  const values = new Set<number>();
  let step: number | null = null;
  const any = src === '*';
  for (const part of src.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`cron ${what}: ${src}`);
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    const by = m[4] !== undefined ? Number(m[4]) : 1;
    if (m[1] === '*' && m[4] !== undefined && !src.includes(',')) step = by;
    if (lo < min || hi > max || lo > hi || by < 1) throw new Error(`cron ${what} out of range: ${src}`);
    for (let v = lo; v <= hi; v += by) values.add(what === 'dayOfWeek' && v === 7 ? 0 : v);
  }
  return { values: [...values].sort((a, b) => a - b), any, step };
}

/** Parses a 5-field (or node-cron's 6-field, seconds first) numeric cron expression. Throws on anything else. */
export function parseCron(expr: string): ParsedCron {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) throw new Error(`cron: ${expr}`);
  const [sec, ...rest] = parts.length === 6 ? parts : ['0', ...parts];
  const [mi, h, dom, mon, dow] = rest as [string, string, string, string, string];
  return {
    second: field(sec!, 0, 59, 'second'),
    minute: field(mi, 0, 59, 'minute'),
    hour: field(h, 0, 23, 'hour'),
    dayOfMonth: field(dom, 1, 31, 'dayOfMonth'),
    month: field(mon, 1, 12, 'month'),
    dayOfWeek: field(dow, 0, 7, 'dayOfWeek'),
  };
}

const WEEKDAYS = ['日', '一', '二', '三', '四', '五', '六'];
const pad = (n: number) => String(n).padStart(2, '0');

function times(c: ParsedCron): string {
  const sec = c.second.values.length === 1 && c.second.values[0] === 0 ? '' : null;
  if (c.hour.any && c.minute.step !== null) return `每 ${c.minute.step} 分钟`;
  if (c.hour.any && c.minute.values.length === 1) return `每小时第 ${c.minute.values[0]} 分`;
  if (c.hour.step !== null && c.minute.values.length === 1) return `每 ${c.hour.step} 小时（第 ${c.minute.values[0]} 分）`;
  const list: string[] = [];
  for (const h of c.hour.values) for (const m of c.minute.values) list.push(`${pad(h)}:${pad(m)}${sec === null ? `:${pad(c.second.values[0]!)}` : ''}`);
  return list.length <= 6 ? list.join('、') : `${list.slice(0, 3).join('、')} 等 ${list.length} 个时点`;
}

/** "每天 02:00", "每周一 09:00", "每月 1 日 03:00", "每 5 分钟" … (no zone). */
export function describeCron(expr: string): string {
  const c = parseCron(expr);
  const t = times(c);
  const everyDay = c.dayOfMonth.any && c.dayOfWeek.any;
  let days: string;
  if (everyDay) days = c.month.any ? (t.startsWith('每') ? '' : '每天 ') : '';
  else if (c.dayOfMonth.any) days = `每周${c.dayOfWeek.values.map((d) => WEEKDAYS[d]).join('、周')} `;
  else if (c.dayOfWeek.any) days = `每月 ${c.dayOfMonth.values.join('、')} 日 `;
  else days = `每月 ${c.dayOfMonth.values.join('、')} 日及每周${c.dayOfWeek.values.map((d) => WEEKDAYS[d]).join('、周')} `;
  if (!c.month.any) {
    const months = `${c.month.values.join('、')} 月`;
    days = everyDay ? `每年 ${months}每天 ` : `每年 ${months} ${days.replace(/^每月 /, '')}`;
  }
  return `${days}${t}`.trim();
}

/** "每天 02:00（北京时间）". */
export function describeSchedule(expr: string, tz: string): string {
  return `${describeCron(expr)}（${zoneLabel(tz)}）`;
}

function localParts(at: Date, tz: string) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: 'numeric', day: 'numeric', weekday: 'short', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' }).formatToParts(at);
  const g = (t: string) => parts.find((p) => p.type === t)!.value;
  return { year: Number(g('year')), month: Number(g('month')), day: Number(g('day')) };
}

/**
 * The first instant after `from` at which the expression fires in zone `tz` (null when none within a
 * year and a day — e.g. 31 February). Cron's rule: when both day fields are restricted, either matches.
 */
export function nextRunAt(expr: string, from: Date, tz: string): Date | null {
  const c = parseCron(expr);
  const start = localParts(from, tz);
  for (let d = 0; d <= 366; d++) {
    // Walk local calendar days (UTC arithmetic on the local date only).
    const day = new Date(Date.UTC(start.year, start.month - 1, start.day + d));
    const y = day.getUTCFullYear();
    const mo = day.getUTCMonth() + 1;
    const dom = day.getUTCDate();
    const dow = day.getUTCDay();
    if (!c.month.values.includes(mo)) continue;
    const domOk = c.dayOfMonth.values.includes(dom);
    const dowOk = c.dayOfWeek.values.includes(dow);
    const dayOk = c.dayOfMonth.any || c.dayOfWeek.any ? domOk && dowOk : domOk || dowOk;
    if (!dayOk) continue;
    for (const h of c.hour.values) {
      for (const m of c.minute.values) {
        for (const s of c.second.values) {
          const at = zonedTime(tz, y, mo, dom, h, m, s);
          if (at.getTime() > from.getTime()) return at;
        }
      }
    }
  }
  return null;
}

// ---- counts ----

const COUNT_WORDS: Readonly<Record<string, Readonly<Record<string, readonly [string, string]>>>> = {
  score: { periods: ['期次', '个'], opened: ['新开放期次', '个'], recomputed: ['重新计算', '期'], published: ['发布', '期'], frozen: ['已冻结未重算', '期'], rows: ['结果行', '条'] },
  accountability: { periods: ['期次', '个'], opened: ['新立案', '件'], overdue: ['标记逾期', '件'], evaluated: ['核查单位', '个'] },
  remind: { periods: ['期次', '个'], units: ['单位', '个'], notices: ['通知', '条'] },
  backup: { collections: ['集合', '个'], documents: ['文档', '条'], kept: ['保留备份', '份'], removed: ['清理旧备份', '份'], tempsRemoved: ['清理残留临时文件', '个'] },
};

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/**
 * A run's counts in words, in the job's own order: "期次 0 个、单位 0 个、通知 0 条". Counts the table
 * does not name are left out of the words and returned in `other` (for the technical details).
 */
export function describeCounts(job: string, counts: Readonly<Record<string, unknown>>): { text: string; other: string[] } {
  const words = COUNT_WORDS[job] ?? {};
  const parts: string[] = [];
  const other: string[] = [];
  if (job === 'backup' && counts.skipped) return { text: '使用外部 MongoDB，内置备份不适用，已跳过', other: [] };
  const num = (k: string) => (typeof counts[k] === 'number' ? (counts[k] as number) : null);
  if (job === 'backup' && num('bytes') !== null) parts.push(`备份大小 ${bytesText(num('bytes')!)}`);
  for (const [k, [label, unit]] of Object.entries(words)) {
    const v = num(k);
    if (v !== null) parts.push(`${label} ${v} ${unit}`);
  }
  if (job === 'backup' && num('ms') !== null) parts.push(`用时 ${(num('ms')! / 1000).toFixed(1)} 秒`);
  for (const [k, v] of Object.entries(counts)) {
    if (Object.hasOwn(words, k) || (job === 'backup' && (k === 'bytes' || k === 'ms' || k === 'skipped'))) continue;
    other.push(`${k}=${String(v)}`);
  }
  return { text: parts.join('、'), other };
}
