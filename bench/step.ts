// One benchmark step in its own process (so that its peak RSS is its own): bench/run.ts spawns
//   tsx bench/step.ts <seed|import|scoring|rankings|export|publish> <dataDir> <units>
// on the same DATA_DIR one after the other. Each step prints one line `RESULT <json>`; the rankings
// step prints `READY <json>` first, serves until it reads a line on stdin, then prints its RESULT.
//
// Every figure is a pair measured here, in the same process: the product's path and a baseline doing
// the same work with the bare library (exceljs / the MongoDB driver).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import readline from 'node:readline';
import ExcelJS from 'exceljs';
import mongoose from 'mongoose';
import { createApp } from '../server/app.ts';
import { clock } from '../server/clock.ts';
import { loadConfig } from '../server/config.ts';
import { applyHeapGrowth } from '../server/heap.ts';
import { connectDb, ensureIndexes } from '../server/db/connect.ts';
import { setLogLevel } from '../server/log.ts';
import { checkUpload } from '../server/excel/upload-check.ts';
import { parseReturnsWorkbook } from '../server/excel/upload-parse.ts';
import { DEFAULT_SHEET_LIMITS, readDataSheet } from '../server/excel/xlsx-reader.ts';
import { assessmentWorkbookBuffer } from '../server/excel/workbook.ts';
import { ReturnRevision } from '../server/models/return-revision.ts';
import { ResultSet } from '../server/models/result.ts';
import { Unit } from '../server/models/unit.ts';
import { listCases } from '../server/services/accountability.ts';
import { computeAndStore } from '../server/results/compute.ts';
import { publishPeriod, runScoreJob, SYSTEM_ACTOR } from '../server/results/publication.ts';
import { ROW_PROJECTION } from '../server/results/store.ts';
import { openPeriod } from '../server/services/periods.ts';
import { assessmentSheetInput } from '../server/services/sheets.ts';
import { uploadAndCommit } from '../server/services/uploads.ts';
import { createUser } from '../server/services/users.ts';
import { scaleReturns, scaleUnits, scaleWorkbook } from './scale.ts';

export const PERIOD = '2026Q4';
export const PREVIOUS = '2026Q3';
/** Business clock of each phase (deadline of 2026Q4: 2027-01-15 23:59:59 +08:00). */
export const AT = {
  previousScored: new Date('2026-10-20T02:00:00Z'),
  upload: new Date('2026-12-20T02:00:00Z'),
  scoring: new Date('2027-01-18T02:00:00Z'),
  publish: new Date('2027-01-25T02:00:00Z'),
};

const [step, dataDir, nArg] = process.argv.slice(2);
if (!step || !dataDir) throw new Error('usage: tsx bench/step.ts <import|scoring|rankings|export> <dataDir> <units>');
const n = Number(nArg ?? 1000);

const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', BCRYPT_ROUNDS: '4', TZ: 'Asia/Shanghai', HEAP_GROWTH_PERCENT: process.env.HEAP_GROWTH_PERCENT });
// As at the app's start (server/main.ts); the baselines then run under V8's own rule (baselinesFromHere).
applyHeapGrowth(config.heapGrowthPercent);
const baselinesFromHere = () => applyHeapGrowth(0);
setLogLevel('silent');
// MONGODB_URI (bench/run.ts --engine separate): the engine runs in its own process.
const db = await connectDb({ dataDir, mongodbUri: process.env.MONGODB_URI || undefined, dbName: config.dbName });
await ensureIndexes();

const peakMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const rssMb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}
function result(x: object): void {
  process.stdout.write(`RESULT ${JSON.stringify(x)}\n`);
}
const raw = () => mongoose.connection.db!;

const IMPORT_MAX = Number(process.env.BENCH_IMPORT_MAX ?? 50_000);

/** Units and the previous quarter's returns and results (rank changes), inserted directly: not timed. */
async function seedStep() {
  const units = scaleUnits(n);
  for (const p of [PREVIOUS, PERIOD]) await openPeriod({ username: 'bench' }, p);
  for (let i = 0; i < units.length; i += 5000) await Unit.insertMany(units.slice(i, i + 5000).map((u) => ({ ...u, active: true })), { lean: true });
  clock.set(() => AT.previousScored);
  await insertReturns(PREVIOUS, scaleReturns(units, { seed: 2 }), new Date('2026-10-10T02:00:00Z'));
  await computeAndStore(PREVIOUS);
  result({ step: 'seed', units: n });
}

async function insertReturns(period: string, rows: ReturnType<typeof scaleReturns>, at: Date) {
  for (let i = 0; i < rows.length; i += 5000) {
    await ReturnRevision.insertMany(
      rows.slice(i, i + 5000).map((r) => ({ unit: r.code, period, revision: 1, values: r.values, source: 'api', submittedBy: 'bench', submittedAt: at, committed: true, batch: null, file: null, review: null })),
      { lean: true },
    );
  }
}

/** Indexes of a collection, recreated on a scratch copy (the same index upkeep for the baseline). */
async function copyIndexes(from: string, to: string) {
  for (const ix of await raw().collection(from).indexes()) {
    if (ix.name === '_id_') continue;
    await raw().collection(to).createIndex(ix.key, { unique: ix.unique ?? false, sparse: ix.sparse ?? false });
  }
}

/** Our own reader alone (server/excel/xlsx-reader.ts readDataSheet): the data sheet's rows, no validation. */
async function readerOnly(file: Buffer): Promise<number> {
  const r = await readDataSheet(file, { isHeaderCell: (x) => x === '单位代码' || x === 'unit_code', keepColumns: (h) => new Set(h[0]!.cells.keys()) });
  if (!r.found) throw new Error('reader: no header');
  return r.rows.length;
}

/**
 * The province's upload files (and the warm-up file): only these are held while the product runs —
 * the generated units and rows (≈ 40 MB of heap at 50 000 units) are the bench's, not the app's, and
 * would otherwise count in the step's peak RSS. Deterministic: `importRows` regenerates the rows.
 */
async function importFiles(): Promise<{ files: Buffer[]; warm: Buffer; rowCount: number }> {
  const rows = importRows();
  // A sheet holds at most DEFAULT_SHEET_LIMITS.maxRows rows (20 000; more is refused as hostile): a
  // larger province uploads several files of equal size (at 50 000 units: three of ≈ 16 200 rows).
  const parts = Math.ceil(rows.length / (DEFAULT_SHEET_LIMITS.maxRows - 10));
  const per = Math.ceil(rows.length / parts);
  const files: Buffer[] = [];
  for (let i = 0; i < rows.length; i += per) files.push(await scaleWorkbook(rows.slice(i, i + per), '2026年第4季度 数据共享考核指标填报表'));
  const warm = await scaleWorkbook(rows.slice(0, Math.min(200, Math.ceil(rows.length / 5))), '预热');
  return { files, warm, rowCount: rows.length };
}
const importRows = () => scaleReturns(scaleUnits(n), { seed: 1 });
/** What the parser is given as the province's units when the bench calls it directly. */
const unitLookup = () => new Map(scaleUnits(n).map((u) => [u.code, { code: u.code, name: u.name }]));

async function importStep() {
  clock.set(() => AT.upload);
  const { files, warm, rowCount } = await importFiles();
  const startRss = rssMb();
  const full = rowCount <= IMPORT_MAX;
  const admin = { username: 'bench-admin', role: 'admin' as const };
  // Warm-up, untimed, as a running server is warm: one smaller upload of the first units through the
  // whole pipeline (they get revision 1; the timed upload gives them revision 2, as a re-upload does),
  // our reader and exceljs reading that file. Every side of every figure below then runs warm code.
  await new ExcelJS.Workbook().xlsx.load(warm as unknown as ExcelJS.Buffer);
  await readerOnly(warm);
  if (full) await uploadAndCommit(admin, PERIOD, warm, 'warm.xlsx');
  else await parseReturnsWorkbook(warm, { units: unitLookup() });
  let productMs = 0;
  let parseMs = 0;
  let peak: number;
  let sameWork: { ms: number; docs: number } | null = null;
  if (full) {
    // The product: the whole API upload pipeline (check → parse off-thread → validate → keep the
    // original → commit), file after file (this process runs no freshness worker: nothing recomputes
    // behind the figures).
    let lastBatch = '';
    for (const file of files) {
      const product = await timed(() => uploadAndCommit(admin, PERIOD, file, 'bench.xlsx'));
      productMs += product.ms;
      lastBatch = product.value.batch;
    }
    peak = peakMb();
    baselinesFromHere();
    const lookup = unitLookup();
    for (const file of files) parseMs += (await timed(() => parseReturnsWorkbook(file, { units: lookup }))).ms;
    if (files.length === 1) sameWork = await sameWorkBaseline(files[0]!, lastBatch);
  } else {
    // check + parse + validate only; the returns are then inserted directly for the later steps.
    const lookup = unitLookup();
    for (const file of files) {
      const parse = await timed(() => parseReturnsWorkbook(file, { units: lookup }));
      if (!parse.value.ok) throw new Error('parse failed');
      productMs += parse.ms;
    }
    parseMs = productMs;
    peak = peakMb();
    baselinesFromHere();
    await insertReturns(PERIOD, importRows(), AT.upload);
  }
  // Baselines: our reader alone, and exceljs merely reading the same files.
  let readerMs = 0;
  let baselineMs = 0;
  for (const file of files) {
    readerMs += (await timed(() => readerOnly(file))).ms;
    baselineMs += (
      await timed(async () => {
        const wb = new ExcelJS.Workbook();
        await wb.xlsx.load(file as unknown as ExcelJS.Buffer);
        return wb.worksheets[0]!.rowCount;
      })
    ).ms;
  }
  let checkMs = 0;
  for (const file of files) checkMs += (await timed(async () => checkUpload(file))).ms;
  result({
    step: 'import',
    units: n,
    rows: rowCount,
    files: files.length,
    full,
    fileBytes: files.reduce((x, f) => x + f.length, 0),
    productMs,
    baselineMs,
    readerMs,
    sameWorkMs: sameWork?.ms ?? null,
    sameWorkDocs: sameWork?.docs ?? null,
    breakdown: { checkMs, parseMs, storeAndCommitMs: full ? productMs - parseMs : null },
    startRssMb: startRss,
    peakRssMb: peak,
  });
}

/**
 * The second import baseline: the bare libraries doing the same work as the pipeline — exceljs
 * reading the file and every cell of its first sheet, the driver storing the original in GridFS and
 * inserting the very documents the upload wrote (its batch, revisions and audit entries, read back,
 * new _ids) into scratch collections with the same indexes. What it leaves out is the product's own
 * logic: header matching, validation, gapless numbering and the all-or-nothing commit protocol.
 */
async function sameWorkBaseline(file: Buffer, batchId: string): Promise<{ ms: number; docs: number }> {
  const id = new mongoose.Types.ObjectId(batchId);
  const strip = <T extends { _id?: unknown }>(docs: T[]) => docs.map(({ _id, ...d }) => d);
  const batch = strip(await raw().collection('upload_batches').find({ _id: id }).toArray());
  const revisions = strip(await raw().collection('returns').find({ batch: id }).toArray());
  const audits = strip(await raw().collection('audit_log').find({ key: { $regex: `^batch:${batchId}:` } }).toArray());
  if (!batch.length || !revisions.length || audits.length !== revisions.length) throw new Error(`same-work baseline: batch ${batch.length}, ${revisions.length} revisions, ${audits.length} audit entries`);
  const names = { batches: 'bench_upload_batches', returns: 'bench_returns', audit: 'bench_audit_logs' };
  await copyIndexes('upload_batches', names.batches);
  await copyIndexes('returns', names.returns);
  await copyIndexes('audit_log', names.audit);
  const bucket = new mongoose.mongo.GridFSBucket(raw(), { bucketName: 'bench_uploads' });
  const run = await timed(async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(file as unknown as ExcelJS.Buffer);
    let cells = 0;
    wb.worksheets[0]!.eachRow((row) => row.eachCell(() => void cells++));
    await new Promise<void>((resolve, reject) => {
      const up = bucket.openUploadStream('bench.xlsx');
      up.once('error', reject).once('finish', () => resolve());
      up.end(file);
    });
    await raw().collection(names.batches).insertOne({ ...batch[0]! });
    await raw().collection(names.returns).insertMany(revisions.map((d) => ({ ...d })), { ordered: false });
    await raw().collection(names.audit).insertMany(audits.map((d) => ({ ...d })), { ordered: false });
    return cells;
  });
  for (const c of [...Object.values(names), 'bench_uploads.files', 'bench_uploads.chunks']) await raw().collection(c).drop().catch(() => {});
  return { ms: run.ms, docs: 1 + revisions.length + audits.length };
}

async function scoringStep() {
  clock.set(() => AT.scoring);
  // Warm-up, untimed, as in a running server: the previous quarter recomputed (same returns, so the
  // same results under a new computeId; the period measured is not touched).
  await computeAndStore(PREVIOUS);
  const product = await timed(() => runScoreJob({ period: PERIOD }));
  const peak = peakMb();
  baselinesFromHere();
  if (product.value.recomputed !== 1) throw new Error(`score job: ${JSON.stringify(product.value)}`);
  const set = await ResultSet.findOne({ period: PERIOD }).lean();
  const rows = await raw().collection('result_rows').find({ period: PERIOD, computeId: set!.computeId }).toArray();
  const copies = rows.map(({ _id, ...r }) => r);
  // Baseline: the driver reading the same inputs (units, the period's return revisions, the previous
  // quarter's result rows) and writing the same number of result documents of the same shape.
  const scratch = raw().collection('bench_result_rows');
  const baseline = await timed(async () => {
    const units = await raw().collection('units').find({}).toArray();
    const returns = await raw().collection('returns').find({ period: PERIOD }).toArray();
    const prev = await raw().collection('result_rows').find({ period: PREVIOUS }).toArray();
    for (let i = 0; i < copies.length; i += 1000) await scratch.insertMany(copies.slice(i, i + 1000).map((d) => ({ ...d })), { ordered: false });
    return units.length + returns.length + prev.length;
  });
  await scratch.drop();
  result({ step: 'scoring', units: n, rows: rows.length, productMs: product.ms, baselineMs: baseline.ms, peakRssMb: peak });
}

async function rankingsStep() {
  clock.set(() => AT.scoring);
  const app = await createApp({ config });
  // Baselines on the same server: /healthz (the app's trivial route: one database ping), and
  // /__bench/static.{json,html}, which answer the very bytes of the results API / ranking page from
  // memory (no middleware): the floor any implementation pays to ship that payload.
  const statics: Record<string, { type: string; body: Buffer }> = {};
  const server = http.createServer((req, res) => {
    const st = req.url ? statics[req.url] : undefined;
    if (!st) return app(req, res);
    res.writeHead(200, { 'content-type': st.type, 'content-length': st.body.length });
    res.end(st.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await createUser({ username: 'bench-office', password: 'bench-password-1', role: 'office' }, { checkUnit: false });
  const tok = await fetch(`${base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench-office', password: 'bench-password-1' }) });
  const token = ((await tok.json()) as { token: string }).token;
  // A browser session for the page.
  const loginPage = await fetch(`${base}/login`);
  // Every cookie the login page sets (the session and the login form's CSRF cookie), as a browser keeps them.
  const jar = loginPage.headers
    .getSetCookie()
    .map((c) => /^([^=;\s]+=[^;]*)/.exec(c)?.[1])
    .filter((c): c is string => !!c)
    .join('; ');
  const csrf = /<meta name="csrf-token" content="([^"]*)"/.exec(await loginPage.text())?.[1] ?? '';
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(jar ? { cookie: jar } : {}) },
    body: new URLSearchParams({ username: 'bench-office', password: 'bench-password-1', _csrf: csrf }).toString(),
    redirect: 'manual',
  });
  const sid = /sid=([^;]*)/.exec(login.headers.getSetCookie().join(';'))?.[1];
  if (login.status !== 303 || !sid) throw new Error(`login failed: ${login.status}`);
  const cookie = `sid=${sid}`;
  // Warm up (and make sure each URL answers 200 with the data).
  const page = await fetch(`${base}/ranking?period=${PERIOD}`, { headers: { cookie } });
  const pageHtml = await page.text();
  const api = await fetch(`${base}/api/v1/results/${PERIOD}`, { headers: { authorization: `Bearer ${token}` } });
  const apiBody = (await api.json()) as { results?: unknown[] };
  // One request of each, alone (second call: the snapshot exists and code is warm).
  const pageMs = (await timed(() => fetch(`${base}/ranking?period=${PERIOD}`, { headers: { cookie } }).then((r) => r.text()))).ms;
  const apiMs = (await timed(() => fetch(`${base}/api/v1/results/${PERIOD}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text()))).ms;
  if (page.status !== 200 || api.status !== 200 || apiBody.results?.length !== n) throw new Error(`warm-up: page ${page.status}, api ${api.status}, ${apiBody.results?.length} results`);
  // A 1 000-row page from the middle of the ranking (what an integration reads instead of everything).
  const pagePath = `/api/v1/results/${PERIOD}?limit=1000&after=${(apiBody.results![Math.floor(n / 2)] as { unit: string }).unit}`;
  const apiPage = await fetch(`${base}${pagePath}`, { headers: { authorization: `Bearer ${token}` } });
  const apiPageBytes = Buffer.byteLength(await apiPage.text());
  if (apiPage.status !== 200) throw new Error(`warm-up: api page ${apiPage.status}`);
  statics['/__bench/static.html'] = { type: 'text/html; charset=utf-8', body: Buffer.from(pageHtml) };
  statics['/__bench/static.json'] = { type: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify(apiBody)) };
  process.stdout.write(`READY ${JSON.stringify({ base, token, cookie, pageMs, apiMs, pageBytes: Buffer.byteLength(pageHtml), apiBytes: Buffer.byteLength(JSON.stringify(apiBody)), pagePath, apiPageBytes })}\n`);
  // Until "stop": `phase <name>` lines (bench/run.ts, before each load run) name what is being served;
  // the process's RSS is sampled every 25 ms and its highest value kept per phase (maxRSS is one
  // high-water mark for the whole process, warm-up included).
  const readyPeak = peakMb();
  const phasePeak: Record<string, number> = {};
  let phase = 'idle';
  const sampler = setInterval(() => {
    const mb = rssMb();
    if (!(phasePeak[phase]! >= mb)) phasePeak[phase] = mb;
  }, 25);
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise<void>((resolve) =>
    rl.on('line', (line) => {
      if (line.startsWith('phase ')) phase = line.slice(6).trim();
      else resolve();
    }),
  );
  rl.close();
  clearInterval(sampler);
  result({ step: 'rankings', units: n, peakRssMb: peakMb(), readyPeakRssMb: readyPeak, phasePeakRssMb: phasePeak });
  server.closeAllConnections();
  server.close();
}

/** The rows of every sheet of an xlsx, as arrays of plain cell values (for the baseline). */
async function sheetsOf(buf: Buffer): Promise<{ name: string; rows: ExcelJS.CellValue[][] }[]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(buf as unknown as ExcelJS.Buffer);
  return wb.worksheets.map((ws) => {
    const rows: ExcelJS.CellValue[][] = [];
    ws.eachRow({ includeEmpty: true }, (row) => {
      const vals: ExcelJS.CellValue[] = [];
      row.eachCell({ includeEmpty: true }, (c, col) => {
        vals[col - 1] = c.value;
      });
      rows.push(vals);
    });
    return { name: ws.name, rows };
  });
}

async function writePlain(sheets: { name: string; rows: ExcelJS.CellValue[][] }[]): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => sink.on('end', () => resolve()));
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: sink });
  for (const s of sheets) {
    const ws = wb.addWorksheet(s.name);
    for (const r of s.rows) ws.addRow(r).commit();
    ws.commit();
  }
  await wb.commit();
  await ended;
  return Buffer.concat(chunks);
}

async function exportStep() {
  clock.set(() => AT.scoring);
  // The period's snapshot must exist already (as after the score job); when the scoring step was not
  // asked for, it is computed here, untimed, so that the figure is the export's own.
  if (!(await ResultSet.exists({ period: PERIOD }))) await computeAndStore(PERIOD);
  // Warm-up, untimed, as a running server is warm: the previous quarter's workbook (other documents:
  // nothing of this period gets cached). The plain writer's warm-up comes after the product's run, so
  // that the peak RSS below is the product's own (reading a whole workbook back with exceljs, as the
  // baseline's set-up does, takes far more memory than writing it).
  await assessmentWorkbookBuffer(await assessmentSheetInput(PREVIOUS));
  // The product: gather the period's data (the very service behind sheet.xlsx) and write the workbook.
  // The rows stream from cursors while the workbook is written: reading and writing interleave, so
  // `fetchMs` is only the set-up (pointer, cases, indicators) before the first row.
  let fetchMs = 0;
  const product = await timed(async () => {
    const t0 = performance.now();
    const input = await assessmentSheetInput(PERIOD);
    fetchMs = performance.now() - t0;
    return assessmentWorkbookBuffer(input);
  });
  const peak = peakMb();
  baselinesFromHere(); // (the warm pair below too)
  const sheets = await sheetsOf(product.value);
  await writePlain(sheets); // the plain writer's warm-up
  // Baseline: exceljs (streaming writer, no styles) writing the very same cell values.
  const cells = sheets.reduce((s, x) => s + x.rows.reduce((t, r) => t + r.length, 0), 0);
  const baseline = await timed(() => writePlain(sheets));
  // Second baseline, the same work with the bare libraries: the driver reading the documents the
  // workbook is made of, with the product's projections (the snapshot's result rows, the period's
  // revisions and cases), then exceljs writing the same cells. What it leaves out: choosing the latest visible revision, views, styles.
  const set = await ResultSet.findOne({ period: PERIOD }).lean();
  const sameWork = await timed(async () => {
    const [results, revisions, cases] = await Promise.all([
      raw().collection('result_rows').find({ period: PERIOD, computeId: set!.computeId }, { projection: ROW_PROJECTION }).toArray(),
      raw().collection('returns').find({ period: PERIOD }, { projection: { _id: 0, __v: 0 } }).toArray(),
      raw().collection('cases').find({ period: PERIOD }).toArray(),
    ]);
    await writePlain(sheets);
    return results.length + revisions.length + cases.length;
  });
  // The whole export again (its input streams from cursors: read once) and the baseline again: a second warm pair (context only).
  const warmWrite = await timed(async () => assessmentWorkbookBuffer(await assessmentSheetInput(PERIOD)));
  const warmBaseline = await timed(() => writePlain(sheets));
  result({
    step: 'export', units: n, cells, fileBytes: product.value.length, productMs: product.ms, fetchMs, writeMs: product.ms - fetchMs, baselineMs: baseline.ms, sameWorkMs: sameWork.ms, sameWorkDocs: sameWork.value,
    warm: { writeMs: warmWrite.ms, baselineMs: warmBaseline.ms, writeRatio: warmWrite.ms / warmBaseline.ms },
    peakRssMb: peak,
  });
}

/** Publication (final results + accountability cases): timed and reported, no baseline. */
async function publishStep() {
  clock.set(() => AT.publish);
  // The whole publication (server/results/publication.ts: freeze, final snapshot, record, cases).
  const pub = await timed(() => publishPeriod(SYSTEM_ACTOR, PERIOD));
  const cases = (await listCases({ period: PERIOD })).length;
  result({ step: 'publish', units: n, productMs: pub.ms, cases, msPerCase: cases ? pub.ms / cases : null, peakRssMb: peakMb() });
}

try {
  if (step === 'seed') await seedStep();
  else if (step === 'import') await importStep();
  else if (step === 'scoring') await scoringStep();
  else if (step === 'rankings') await rankingsStep();
  else if (step === 'export') await exportStep();
  else if (step === 'publish') await publishStep();
  else throw new Error(`unknown step ${step}`);
} finally {
  await db.close();
}
process.exit(0);
