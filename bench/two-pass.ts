// The score job's pure core, one pass (scorePeriod: every row and explanation at once) against two
// passes (rankPeriod, then scoreBatch 1 000 units at a time, each batch dropped): CPU cost of ranking
// first. Alternating rounds, median ratio (the machine is shared).  npx tsx bench/two-pass.ts [units]
import { scaleReturns, scaleUnits } from './scale.ts';
import { DEFAULT_SCHEME } from '../server/domain/scoring/scheme.ts';
import { rankPeriod, scoreBatch, scorePeriod } from '../server/domain/scoring/score.ts';

const n = Number(process.argv[2] ?? 5000);
const units = scaleUnits(n);
const rets = new Map(scaleReturns(units).map((r) => [r.code, r.values]));
const inputs = units.map((u) => ({ unit: u.code, name: u.name, category: u.category, values: rets.get(u.code) ?? null }));
const ctx = { deadlinePassed: true };
const time = (f: () => void) => {
  const a = performance.now();
  f();
  return performance.now() - a;
};
// `rss-one` / `rss-two`: only that path, once, in this process; prints the process's peak RSS (run each in
// its own process to compare the memory the old and the new score job need for the pure core's output).
const mode = process.argv[3];
if (mode === 'rss-one' || mode === 'rss-two') {
  const base = process.resourceUsage().maxRSS / 1024;
  let kept = 0;
  if (mode === 'rss-one') {
    const all = scorePeriod(DEFAULT_SCHEME, inputs, ctx); // every row and explanation held until stored
    kept = all.explanations.length;
  } else {
    const r = rankPeriod(DEFAULT_SCHEME, inputs, ctx);
    const by = new Map(inputs.map((u) => [u.unit, u]));
    for (let i = 0; i < r.order.length; i += 1000) kept = Math.max(kept, scoreBatch(DEFAULT_SCHEME, r, r.order.slice(i, i + 1000).map((u) => by.get(u)!), ctx).explanations.length);
  }
  console.log(`${n} units, ${mode}: peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (${base.toFixed(0)} MB before scoring), at most ${kept} explanations held`);
  process.exit(0);
}
const ratios: number[] = [];
for (let round = 0; round < 7; round++) {
  const one = time(() => scorePeriod(DEFAULT_SCHEME, inputs, ctx));
  const two = time(() => {
    const r = rankPeriod(DEFAULT_SCHEME, inputs, ctx);
    const by = new Map(inputs.map((u) => [u.unit, u]));
    for (let i = 0; i < r.order.length; i += 1000) scoreBatch(DEFAULT_SCHEME, r, r.order.slice(i, i + 1000).map((u) => by.get(u)!), ctx);
  });
  ratios.push(two / one);
  console.log(`round ${round}: scorePeriod ${one.toFixed(0)} ms, two passes ${two.toFixed(0)} ms, ratio ${(two / one).toFixed(2)}`);
}
ratios.sort((a, b) => a - b);
console.log(`${n} units: two passes ÷ one pass, median of 7 rounds: ${ratios[3]!.toFixed(2)}×`);
