// The demo province as plain data: units, accounts and every submission with its time.
// Pure and deterministic (seeded PRNG): the same `now` always gives the same province.
import type { ReturnValues, UnitCategory } from '../../domain/fields.ts';
import { defaultDeadline, previousQuarter, quarterStart } from '../../domain/periods.ts';
import { CITIES, COUNTY_FIRST, COUNTY_SECOND, DEPARTMENT_NAMES } from './names.ts';

export const DEMO_FIGURES = {
  departments: 87,
  departmentSystems: 767,
  departmentsConnected: 11,
  departmentsStandalone: 28,
  cities: 11,
} as const;

export const GRACE_DAYS = 7;

export interface DemoUnit {
  code: string;
  name: string;
  category: UnitCategory;
  parent: string | null;
}

export interface DemoSubmission {
  period: string;
  unit: string;
  at: Date;
  values: ReturnValues;
  /** Who submitted (a demo username), and how. */
  by: string;
  source: 'web' | 'excel' | 'api';
  /** Review of this revision, if any. */
  review?: { decision: 'approve' | 'reject'; reason?: string; at: Date };
}

export interface DemoPlan {
  units: DemoUnit[];
  /** Quarters to publish, oldest first. */
  published: string[];
  /** The quarter being collected now. */
  current: string;
  /** All submissions, in time order. */
  submissions: DemoSubmission[];
  /** When each published quarter is published (deadline + grace). */
  publishAt: Record<string, Date>;
}

/** mulberry32: small, fast, good enough for demo data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * The quarter being collected at `now`: the earliest quarter whose deadline + grace has not passed.
 * The four quarters before it are the ones the demo publishes.
 */
export function demoPeriods(now: Date, timeZone: string): { published: string[]; current: string } {
  const y = Number(new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric' }).format(now));
  // Start well before now and walk forward.
  let p = `${y - 2}Q1`;
  for (let i = 0; i < 16; i++) {
    if (defaultDeadline(p, timeZone).getTime() + GRACE_DAYS * DAY > now.getTime()) break;
    p = nextQuarter(p);
  }
  const published: string[] = [];
  let q = p;
  for (let i = 0; i < 4; i++) {
    q = previousQuarter(q)!;
    published.unshift(q);
  }
  return { published, current: p };
}

function nextQuarter(p: string): string {
  const year = Number(p.slice(0, 4));
  const n = Number(p.slice(5));
  return n === 4 ? `${year + 1}Q1` : `${year}Q${n + 1}`;
}

/** Splits `total` into `weights.length` whole parts ≥ 1 proportional to weights (largest remainder). */
export function apportion(total: number, weights: number[]): number[] {
  const n = weights.length;
  const rest = total - n;
  const sum = weights.reduce((a, b) => a + b, 0);
  const raw = weights.map((w) => (w / sum) * rest);
  const parts = raw.map((r) => Math.floor(r));
  let left = rest - parts.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k++, left--) parts[order[k % n][1]]++;
  return parts.map((p) => p + 1);
}

interface Profile {
  unit: DemoUnit;
  /** Latent quality in [0, 1]: drives every ratio. */
  quality: number;
  /** Improvement per quarter of every ratio. */
  pace: number;
  systems: number;
  networks: number;
  /** Standalone networks in the first published quarter (0 for connected or none). */
  standalone0: number;
  /** Minimum standalone networks left at the end (≥ 1 for the 28 standalone departments). */
  standaloneMin: number;
  catalogue: number;
  requests: number;
  duties: number;
  noise: number[];
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)];
}

function buildUnits(rnd: () => number): DemoUnit[] {
  const units: DemoUnit[] = [];
  DEPARTMENT_NAMES.slice(0, DEMO_FIGURES.departments).forEach((name, i) => {
    units.push({ code: `D${String(i + 1).padStart(3, '0')}`, name, category: 'department', parent: null });
  });
  const used = new Set<string>();
  for (const city of CITIES) {
    units.push({ code: city.code, name: city.name, category: 'city', parent: null });
  }
  for (const city of CITIES) {
    const count = 5 + Math.floor(rnd() * 5); // 5–9 counties per city
    for (let i = 0; i < count; i++) {
      let stem = '';
      do stem = pick(rnd, COUNTY_FIRST) + pick(rnd, COUNTY_SECOND);
      while (used.has(stem) || stem[0] === stem[1]);
      used.add(stem);
      const suffix = i === 0 ? '区' : i === 1 && rnd() < 0.6 ? '区' : rnd() < 0.2 ? '市' : '县';
      units.push({
        code: `X${city.code.slice(1)}${String(i + 1).padStart(2, '0')}`,
        name: stem + suffix,
        category: 'county',
        parent: city.code,
      });
    }
  }
  return units;
}

function buildProfiles(units: DemoUnit[], rnd: () => number): Profile[] {
  const departments = units.filter((u) => u.category === 'department');
  // Departments' systems: a few large ones (public security, health, tax…), many small; exactly 767.
  const weights = departments.map((_, i) => (i === 5 || i === 18 || i === 43 || i === 8 ? 6 : 0.4 + rnd() * 2.2));
  const systems = apportion(DEMO_FIGURES.departmentSystems, weights);
  // 39 departments run business private networks: 11 connected to the extranet, 28 standalone.
  const byNetworkChance = departments.map((_, i) => [systems[i] + rnd() * 8, i] as const).sort((a, b) => b[0] - a[0]);
  const withNetworks = byNetworkChance.slice(0, DEMO_FIGURES.departmentsConnected + DEMO_FIGURES.departmentsStandalone).map(([, i]) => i);
  const connected = new Set(withNetworks.filter((_, k) => k % 4 === 1 || k === 0).slice(0, DEMO_FIGURES.departmentsConnected));
  const standalone = new Set(withNetworks.filter((i) => !connected.has(i)));

  return units.map((unit, idx) => {
    const depIndex = unit.category === 'department' ? idx : -1;
    // A few deliberate laggards so that accountability has something to do.
    const laggard = unit.code === 'D052' || unit.code === 'C0578' || unit.code === 'X057403';
    const quality = laggard ? 0.02 + rnd() * 0.05 : 0.3 + 0.7 * Math.pow(rnd(), 0.6);
    const pace = laggard ? 0.005 : 0.01 + rnd() * 0.035;
    let sys: number;
    let networks = 0;
    let standalone0 = 0;
    let standaloneMin = 0;
    if (depIndex >= 0) {
      sys = systems[depIndex];
      if (connected.has(depIndex)) networks = 1 + Math.floor(rnd() * 3);
      if (standalone.has(depIndex)) {
        networks = 1 + Math.floor(rnd() * 4);
        standalone0 = Math.max(1, Math.round(networks * (0.5 + 0.5 * (1 - quality))));
        standaloneMin = 1;
      }
    } else if (unit.category === 'city') {
      sys = 120 + Math.floor(rnd() * 260);
      networks = 4 + Math.floor(rnd() * 8);
      standalone0 = Math.round(networks * (0.2 + 0.6 * (1 - quality)));
    } else {
      sys = 15 + Math.floor(rnd() * 70);
      networks = Math.floor(rnd() * 5);
      standalone0 = Math.round(networks * (0.2 + 0.7 * (1 - quality)));
    }
    const scale = unit.category === 'department' ? 1 : unit.category === 'city' ? 4 : 0.6;
    return {
      unit,
      quality,
      pace,
      systems: sys,
      networks,
      standalone0,
      standaloneMin,
      catalogue: Math.round((40 + rnd() * 500) * scale),
      requests: Math.round((8 + rnd() * 300) * scale),
      duties: Math.round((80 + rnd() * 900) * scale),
      noise: Array.from({ length: 12 }, () => rnd() - 0.5),
    };
  });
}

/** Values of one unit in quarter number `q` (0 = first published quarter). */
function valuesFor(p: Profile, q: number, rnd: () => number): ReturnValues {
  const ratio = (lo: number, hi: number, k: number) =>
    clamp01(lo + (hi - lo) * (0.75 * p.quality + 0.25 * (p.noise[k] + 0.5)) + p.pace * q + 0.015 * (rnd() - 0.5));
  const part = (total: number, r: number) => Math.min(total, Math.max(0, Math.round(total * r)));
  const drop = Math.floor((q * p.pace * 6 + (p.quality > 0.6 ? q * 0.34 : 0)));
  const standalone = Math.max(p.standaloneMin, p.standalone0 - drop);
  const received = Math.max(0, Math.round(p.requests * (0.9 + 0.08 * q + 0.1 * (rnd() - 0.5))));
  return {
    systems_total: p.systems,
    systems_extranet: part(p.systems, ratio(0.35, 0.97, 0)),
    systems_cloud: part(p.systems, ratio(0.3, 0.95, 1)),
    networks_private: p.networks,
    networks_standalone: Math.min(p.networks, standalone),
    catalogue_items: p.catalogue + q * Math.round(p.catalogue * 0.03),
    catalogue_shared: part(p.catalogue + q * Math.round(p.catalogue * 0.03), ratio(0.35, 0.97, 2)),
    requests_received: received,
    requests_on_time: part(received, ratio(0.55, 1, 3)),
    duties_total: p.duties,
    duties_with_data: part(p.duties, ratio(0.35, 0.95, 4)),
  };
}

const REJECT_REASONS = [
  '已接入外网的系统数与信息系统台账不一致，请核实后重新报送',
  '共享目录数未扣除已下架目录，请更正',
  '按时响应数与共享交换平台记录不符，请附说明后重报',
];

/** Plans the whole demo province for the instant `now`. */
export function planDemo(now: Date, timeZone = 'Asia/Shanghai', seed = 20261122): DemoPlan {
  const rnd = prng(seed);
  const units = buildUnits(rnd);
  const profiles = buildProfiles(units, rnd);
  const { published, current } = demoPeriods(now, timeZone);
  const submissions: DemoSubmission[] = [];
  const publishAt: Record<string, Date> = {};
  const reporterOf = (u: DemoUnit) => `rep_${u.code.toLowerCase()}`;

  published.forEach((period, q) => {
    const qEnd = quarterStart(nextQuarter(period), timeZone).getTime();
    const deadline = defaultDeadline(period, timeZone).getTime();
    publishAt[period] = new Date(deadline + GRACE_DAYS * DAY + 9 * 3_600_000);
    for (const p of profiles) {
      const u = p.unit;
      const r = rnd();
      const dept = u.category === 'department';
      const laggard = p.quality < 0.1;
      // Departments always end with a usable return (so the province's figures hold every quarter);
      // counties and cities sometimes miss the deadline entirely.
      const missChance = dept ? 0 : laggard ? 0.35 : 0.03 - 0.005 * q;
      if (r < missChance) continue;
      const lateChance = laggard ? 0.5 : 0.1 - 0.015 * q;
      const late = rnd() < lateChance;
      const at = late
        ? new Date(deadline + (0.2 + rnd() * (GRACE_DAYS - 1.5)) * DAY)
        : new Date(qEnd + (0.5 + rnd() * ((deadline - qEnd) / DAY - 1)) * DAY);
      const values = valuesFor(p, q, rnd);
      const source = rnd() < 0.55 ? 'excel' : 'web';
      const rejectChance = 0.04 + (laggard ? 0.2 : 0);
      const rejected = rnd() < rejectChance;
      const reviewAt = new Date(Math.min(at.getTime() + (0.3 + rnd() * 2) * DAY, deadline + GRACE_DAYS * DAY - 3_600_000));
      if (rejected) {
        // A first version with an inflated figure, rejected with a reason…
        const wrong = { ...values, systems_extranet: values.systems_total };
        submissions.push({
          period, unit: u.code, at, values: wrong, by: reporterOf(u), source,
          review: { decision: 'reject', reason: pick(rnd, REJECT_REASONS), at: reviewAt },
        });
        // …then corrected (departments always; others usually), or left rejected.
        if (dept || rnd() < 0.6) {
          const again = new Date(Math.min(reviewAt.getTime() + (0.2 + rnd()) * DAY, deadline + GRACE_DAYS * DAY - 1_800_000));
          const approveAt = new Date(Math.min(again.getTime() + 0.2 * DAY, deadline + GRACE_DAYS * DAY - 600_000));
          submissions.push({
            period, unit: u.code, at: again, values, by: reporterOf(u), source: 'web',
            review: rnd() < 0.8 ? { decision: 'approve', at: approveAt } : undefined,
          });
        }
      } else {
        submissions.push({
          period, unit: u.code, at, values, by: reporterOf(u), source,
          review: rnd() < 0.85 ? { decision: 'approve', at: reviewAt } : undefined,
        });
      }
    }
  });

  // The current quarter: a share of units already submitted, growing with time into the window.
  const start = quarterStart(current, timeZone).getTime();
  const deadline = defaultDeadline(current, timeZone).getTime();
  const progress = clamp01((now.getTime() - start) / (deadline - start));
  const q = published.length;
  for (const p of profiles) {
    if (p.quality < 0.1) continue; // laggards have not submitted yet
    if (rnd() > 0.1 + 0.55 * progress + 0.2 * p.quality) continue;
    const span = Math.max(DAY, now.getTime() - start - DAY);
    const at = new Date(start + 0.5 * DAY + rnd() * span * 0.98);
    if (at.getTime() >= now.getTime()) continue;
    const reviewAt = new Date(at.getTime() + (0.5 + rnd() * 3) * DAY);
    submissions.push({
      period: current, unit: p.unit.code, at, values: valuesFor(p, q, rnd),
      by: reporterOf(p.unit), source: rnd() < 0.5 ? 'excel' : 'web',
      review: reviewAt.getTime() < now.getTime() - DAY && rnd() < 0.75 ? { decision: 'approve', at: reviewAt } : undefined,
    });
  }

  submissions.sort((a, b) => a.at.getTime() - b.at.getTime());
  return { units, published, current, submissions, publishAt };
}
