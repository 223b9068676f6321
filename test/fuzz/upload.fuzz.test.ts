// Fuzzing the upload path (issue 6 part 4): fast-check mutates valid xlsx files — zip entries
// (drop, duplicate, truncate; file truncation and byte flips) and the first sheet's XML (byte flips,
// huge / negative / fractional / non-numeric numbers, bad attributes, deep nesting, shared-string
// indexes out of range, huge row numbers) — and feeds them to checkUpload + parseReturnsWorkbook in a
// worker thread (per-case timeout, heap limit), plus a sample through POST /api/v1/returns/upload.
// Every case must end as: parsed with valid values, or refused with a clear error (AppError with a
// code and a Chinese message, or the {errors:[…]} list in Chinese). A crash, a hang or running out
// of memory fails the test and prints the case.
//
// FUZZ_RUNS=2000 npx mocha test/fuzz/upload.fuzz.test.ts   # a bigger run (default 300 cases)
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AT_MOST_RULES as ATMOST_PAIRS, FIELD_KEYS } from '../../server/domain/fields.ts';
import { readCentralDirectory, readZipEntry } from '../../server/excel/upload-check.ts';
import { FIXTURE_UNITS, unitMap } from '../fixtures/units.ts';
import { makeZip } from '../fixtures/zip.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { returnsXlsx } from '../load/mini-xlsx.ts';
import { scaleValues } from '../../bench/scale.ts';
import type { Outcome } from './worker.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const CASE_TIMEOUT_MS = Number(process.env.FUZZ_CASE_TIMEOUT_MS ?? 15_000);
const HEAP_LIMIT_MB = 384;
const FIX = path.join(import.meta.dirname, '..', 'fixtures', 'xlsx');
const CHINESE = /[\u4e00-\u9fff]/;

const SEEDS: { name: string; file: Buffer }[] = [
  ...['simple.xlsx', 'messy.xlsx', 'handmade.xlsx', 'lo-template-filled.xlsx', 'template-filled.xlsx'].map((n) => ({ name: n, file: fs.readFileSync(path.join(FIX, n)) })),
  {
    name: 'mini (inline strings)',
    file: returnsXlsx(FIXTURE_UNITS.slice(0, 4).map((u, i) => ({ code: u.code, name: u.name, values: scaleValues(i) }))),
  },
];

type Entry = { name: string; data: Buffer };
function entriesOf(file: Buffer): Entry[] {
  return readCentralDirectory(file).map((e) => ({ name: e.name, data: readZipEntry(file, e) }));
}

// ---- mutations ----

type Op =
  | { t: 'drop'; i: number }
  | { t: 'dup'; i: number }
  | { t: 'truncEntry'; i: number; frac: number }
  | { t: 'flipXml'; pos: number; byte: number }
  | { t: 'number'; k: number; v: string }
  | { t: 'attr'; k: number; attr: string }
  | { t: 'nest'; depth: number; inCell: boolean }
  | { t: 'sst'; k: number; v: string }
  | { t: 'rowNum'; k: number; v: string }
  | { t: 'truncFile'; frac: number }
  | { t: 'flipZip'; pos: number; byte: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('dup' as const), i: fc.nat() }),
  fc.record({ t: fc.constant('truncEntry' as const), i: fc.nat(), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ t: fc.constant('flipXml' as const), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    t: fc.constant('number' as const),
    k: fc.nat(),
    v: fc.constantFrom('1e309', '-1e309', '9'.repeat(400), '-1', '1.5', '1e21', '123456789012345678901234567890', 'NaN', 'Infinity', '0x1F', '', ' ', '1,000', '１２３', '-0', '2147483648', '4.9e-324'),
  }),
  fc.record({
    t: fc.constant('attr' as const),
    k: fc.nat(),
    attr: fc.constantFrom('r="A0"', 'r="ZZZZZZ1"', 'r="XFE1048577"', 'r="A99999999999"', 'r=""', 't="zz"', 't="e"', 't="b"', 't="d"', 's="99999"', 's="-1"', 'r="B2" r="B3"', 'xml:space="x"', '&bogus;="1"'),
  }),
  fc.record({ t: fc.constant('nest' as const), depth: fc.integer({ min: 1, max: 20_000 }), inCell: fc.boolean() }),
  fc.record({ t: fc.constant('sst' as const), k: fc.nat(), v: fc.constantFrom('999999', '-1', '4294967296', '1e3', 'x', '0') }),
  fc.record({ t: fc.constant('rowNum' as const), k: fc.nat(), v: fc.constantFrom('0', '-5', '1048577', '99999999999', '2', 'x', '1.5') }),
  fc.record({ t: fc.constant('truncFile' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ t: fc.constant('flipZip' as const), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

export interface FuzzCase {
  seed: number;
  ops: Op[];
}
const caseArb: fc.Arbitrary<FuzzCase> = fc.record({ seed: fc.nat({ max: SEEDS.length - 1 }), ops: fc.array(opArb, { minLength: 1, maxLength: 3 }) });

/** The k-th match (mod count) of a regex in s, or null. */
function nth(s: string, re: RegExp, k: number): RegExpExecArray | null {
  const all = [...s.matchAll(new RegExp(re.source, 'g'))];
  if (!all.length) return null;
  return all[k % all.length] as RegExpExecArray;
}

function mutateSheet(xml: string, op: Op): string {
  switch (op.t) {
    case 'number': {
      const m = nth(xml, /<v>[^<]*<\/v>/, op.k);
      return m ? xml.slice(0, m.index) + `<v>${op.v}</v>` + xml.slice(m.index + m[0].length) : xml;
    }
    case 'attr': {
      const m = nth(xml, /<c\b/, op.k);
      return m ? xml.slice(0, m.index) + `<c ${op.attr}` + xml.slice(m.index + 2) : xml;
    }
    case 'nest': {
      const open = '<x a="1">'.repeat(op.depth);
      const close = '</x>'.repeat(op.depth);
      const at = op.inCell ? xml.search(/<v>/) : xml.indexOf('<sheetData>') + '<sheetData>'.length;
      return at > 0 ? xml.slice(0, at) + open + close + xml.slice(at) : xml;
    }
    case 'sst': {
      const m = nth(xml, /<c\b([^>]*?)(\/>|>[\s\S]*?<\/c>)/, op.k);
      if (!m) return xml;
      const ref = /\br="([^"]*)"/.exec(m[1] ?? '')?.[1];
      return xml.slice(0, m.index) + `<c${ref ? ` r="${ref}"` : ''} t="s"><v>${op.v}</v></c>` + xml.slice(m.index + m[0].length);
    }
    case 'rowNum': {
      const m = nth(xml, /<row\b[^>]*?\br="[^"]*"/, op.k);
      return m ? xml.slice(0, m.index) + m[0].replace(/\br="[^"]*"/, `r="${op.v}"`) + xml.slice(m.index + m[0].length) : xml;
    }
    default:
      return xml;
  }
}

export function buildCase(c: FuzzCase): Buffer {
  let entries = entriesOf(SEEDS[c.seed]!.file);
  const sheetIdx = () => entries.findIndex((e) => /^xl\/worksheets\/sheet\d*\.xml$/.test(e.name));
  for (const op of c.ops) {
    if (op.t === 'drop' && entries.length) entries = entries.filter((_, j) => j !== op.i % entries.length);
    else if (op.t === 'dup' && entries.length) entries = [...entries, { ...entries[op.i % entries.length]! }];
    else if (op.t === 'truncEntry' && entries.length) {
      const j = op.i % entries.length;
      entries[j] = { ...entries[j]!, data: entries[j]!.data.subarray(0, Math.floor(entries[j]!.data.length * op.frac)) };
    } else if (op.t === 'flipXml') {
      const j = sheetIdx();
      if (j >= 0 && entries[j]!.data.length) {
        const d = Buffer.from(entries[j]!.data);
        d[op.pos % d.length] = op.byte;
        entries[j] = { ...entries[j]!, data: d };
      }
    } else if (op.t !== 'truncFile' && op.t !== 'flipZip') {
      const j = sheetIdx();
      if (j >= 0) entries[j] = { ...entries[j]!, data: Buffer.from(mutateSheet(entries[j]!.data.toString('utf8'), op), 'utf8') };
    }
  }
  let file = makeZip(entries.map((e) => ({ name: e.name, data: e.data })));
  for (const op of c.ops) {
    if (op.t === 'truncFile') file = file.subarray(0, Math.floor(file.length * op.frac));
    else if (op.t === 'flipZip' && file.length) {
      file = Buffer.from(file);
      file[op.pos % file.length] = op.byte;
    }
  }
  return file;
}

// ---- the judge ----

/** Throws (with the reason) unless the outcome is a correct parse or a clear refusal. */
export function judge(o: Outcome, known = unitMap()): void {
  if (o.kind === 'crash') throw new Error(`crashed: ${o.name}: ${o.message}\n${o.stack}`);
  if (o.kind === 'refused') {
    expect([413, 422], `status of ${o.code}`).to.include(o.status);
    expect(o.code).to.match(/^[a-z][a-z0-9_]*$/);
    expect(o.message, `message of ${o.code}`).to.match(CHINESE);
    return;
  }
  if (o.kind === 'errors') {
    expect(o.errors.length).to.be.greaterThan(0);
    for (const e of o.errors) {
      expect(e.message, JSON.stringify(e)).to.match(CHINESE);
      if (e.row !== null) expect(Number.isSafeInteger(e.row) && e.row > 0, JSON.stringify(e)).to.equal(true);
    }
    return;
  }
  const seen = new Set<string>();
  for (const r of o.rows) {
    expect(known.has(r.unit), `unknown unit ${r.unit} accepted`).to.equal(true);
    expect(seen.has(r.unit), `unit ${r.unit} twice`).to.equal(false);
    seen.add(r.unit);
    expect(Object.keys(r.values).sort()).to.deep.equal([...FIELD_KEYS].sort());
    for (const k of FIELD_KEYS) expect(Number.isSafeInteger(r.values[k]) && r.values[k]! >= 0, `${r.unit}.${k} = ${r.values[k]}`).to.equal(true);
    for (const [small, big] of ATMOST_PAIRS) expect(r.values[small]!, `${r.unit}: ${small} ≤ ${big}`).to.be.at.most(r.values[big]!);
  }
}

// ---- the worker pool of one ----

class Runner {
  private worker: Worker | null = null;
  private seq = 0;
  maxHeapMb = 0;
  private start(): Worker {
    // A .ts worker needs tsx's loader registered inside the worker thread first: worker-boot.mjs does that.
    const w = new Worker(path.join(import.meta.dirname, 'worker-boot.mjs'), { resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB } });
    w.unref();
    this.worker = w;
    return w;
  }
  run(file: Buffer): Promise<Outcome> {
    const w = this.worker ?? this.start();
    const id = ++this.seq;
    return new Promise<Outcome>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        w.off('message', onMsg);
        w.off('error', onErr);
        w.off('exit', onExit);
      };
      const fail = (why: string) => {
        cleanup();
        this.worker = null;
        void w.terminate();
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail(`hang: no answer within ${CASE_TIMEOUT_MS} ms`), CASE_TIMEOUT_MS);
      const onMsg = (m: { id: number; outcome: Outcome; heapMb: number }) => {
        if (m.id !== id) return;
        cleanup();
        this.maxHeapMb = Math.max(this.maxHeapMb, m.heapMb);
        resolve(m.outcome);
      };
      const onErr = (err: Error & { code?: string }) => fail(`worker died: ${err.code ?? ''} ${err.message}`);
      const onExit = (code: number) => fail(`worker exited (${code})`);
      w.on('message', onMsg);
      w.on('error', onErr);
      w.on('exit', onExit);
      w.postMessage({ id, file });
    });
  }
  async stop() {
    await this.worker?.terminate();
  }
}

const describeCase = (c: FuzzCase) => `${SEEDS[c.seed]!.name} + ${JSON.stringify(c.ops)}`;

describe('fuzz: mutated xlsx files into the upload path', function () {
  this.timeout(180_000);
  const runner = new Runner();
  after(() => runner.stop());

  it('the unmutated seeds parse cleanly (the mutations start from valid files)', async () => {
    for (const s of SEEDS) {
      const o = await runner.run(s.file);
      expect(o.kind, `${s.name}: ${JSON.stringify(o).slice(0, 500)}`).to.equal('parsed');
      judge(o);
    }
  });

  it(`${RUNS} mutated files through check + parse: parsed correctly or refused clearly; no crash, hang or runaway memory`, async () => {
    const tally: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        let o: Outcome;
        try {
          o = await runner.run(buildCase(c));
        } catch (err) {
          throw new Error(`${(err as Error).message} — case: ${describeCase(c)}`);
        }
        tally[o.kind === 'refused' ? `refused:${o.code}` : o.kind] = (tally[o.kind === 'refused' ? `refused:${o.code}` : o.kind] ?? 0) + 1;
        try {
          judge(o);
        } catch (err) {
          throw new Error(`${(err as Error).message} — case: ${describeCase(c)}`);
        }
      }),
      { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined, endOnFailure: true },
    );
    console.log(`      outcomes: ${JSON.stringify(tally)}; worker heap high-water ${runner.maxHeapMb} MB (limit ${HEAP_LIMIT_MB} MB)`);
  });

  describe('through HTTP', () => {
    let t: TestApp;
    let admin: string;
    before(async () => {
      t = await startTestApp();
      admin = await t.tokenFor('admin');
      for (const u of FIXTURE_UNITS) {
        const r = await t.api(admin).put(`/api/v1/units/${u.code}`, { name: u.name, category: u.code.startsWith('C') ? 'city' : u.code.startsWith('X') ? 'county' : 'department', ...(u.code.startsWith('X') ? { parent: 'C0571' } : {}) });
        expect(r.status, r.text).to.be.oneOf([200, 201]);
      }
    });
    after(() => t?.stop());

    it('a sample of mutated files: 200 with accepted rows, or 413/422 with a code, a Chinese message and the error list; the server stays up', async () => {
      const cases = fc.sample(caseArb, { numRuns: Number(process.env.FUZZ_HTTP_RUNS ?? 12), seed: 20261122 });
      const statuses: number[] = [];
      for (const c of cases) {
        const r = await t.api(admin).postFile('/api/v1/returns/upload?period=2026Q4', 'file', buildCase(c), 'fuzz.xlsx');
        statuses.push(r.status);
        expect([200, 413, 422], `${r.status} ${r.text.slice(0, 300)} — case: ${describeCase(c)}`).to.include(r.status);
        if (r.status === 200) {
          expect(r.body.accepted.length, describeCase(c)).to.be.greaterThan(0);
        } else {
          const err = r.body.error ?? {};
          expect(err.code, r.text).to.match(/^[a-z][a-z0-9_]*$/);
          expect(err.message, r.text).to.match(CHINESE);
          if (r.status === 422) {
            const list = r.body.errors ?? err.details?.errors;
            expect(list, r.text).to.be.an('array').that.is.not.empty;
            for (const e of list) expect(e.message, r.text).to.match(CHINESE);
          }
        }
      }
      const health = await t.api().get('/healthz');
      expect(health.status).to.equal(200);
      console.log(`      HTTP statuses: ${statuses.join(' ')}`);
    });
  });
});
