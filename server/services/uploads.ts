// Excel uploads (SPEC §6): check → parse → validate (Excel module), keep the original in GridFS,
// then either commit at once (API) or stage for a preview and commit on confirmation (web).
import { BSON } from 'bson';
import mongoose, { Types } from 'mongoose';
import { clock } from '../clock.ts';
import { currentConfig } from '../config.ts';
import { AppError, conflict, forbidden, notFound } from '../domain/errors.ts';
import { FIELD_KEYS, FIELD_LABELS, type FieldKey, type ReturnValues } from '../domain/fields.ts';
import { parseReturnsOffThread } from '../excel/off-thread.ts';
import type { ParseResult, UploadError } from '../excel/upload-parse.ts';
import { UploadBatch, uploadBatchDocument } from '../models/upload-batch.ts';
import { assertOpen, assertQuarter } from './periods.ts';
import { commitBatch, currentTops, latestReturns, newOwner, type BatchToCommit, type Submitter, type TopRevision } from './returns.ts';
import { Unit } from '../models/unit.ts';
import { historyBases, plausibilityWarnings, type HistoryBases } from './plausibility.ts';
import { DOCS_PER_COMMAND } from '../db/limits.ts';

export type { UploadError };

/** A refused file: 422 with every problem listed (nothing stored). */
export class UploadRejected extends AppError {
  constructor(readonly errors: UploadError[], code = 'invalid_file', message?: string) {
    super(422, code, message ?? `文件有 ${errors.length} 处错误，未保存任何数据：${errors.slice(0, 3).map((e) => e.message).join('；')}${errors.length > 3 ? '…' : ''}`, { errors });
  }
}

export const STAGED_TTL_MS = 24 * 3600 * 1000;

export interface ParsedUpload {
  /** Each row with the warnings about it (kept with its revision). */
  rows: { unit: string; row: number | null; values: ReturnValues; warnings?: UploadError[] }[];
  /** Every warning of the file, in row order (SPEC §7 `warnings`). */
  warnings: UploadError[];
}

interface UnitState {
  code: string;
  name: string;
  aliases: string[];
  active: boolean;
}

/** Every unit's code, name, aliases and state, by code: all an upload checks (one projected read, no sort). */
async function unitStates(): Promise<Map<string, UnitState>> {
  const docs = await Unit.find({}, { _id: 0, code: 1, name: 1, aliases: 1, active: 1 }).batchSize(DOCS_PER_COMMAND).lean();
  const out = new Map<string, UnitState>();
  for (const u of docs) out.set(u.code, { code: u.code, name: u.name, aliases: u.aliases ?? [], active: u.active !== false });
  return out;
}

/** A file this large may hold a province: its reads of whole periods start before it is parsed. */
const PREFETCH_MIN_BYTES = 64 * 1024;

/** Reads an upload needs that do not depend on its rows, under way while the worker parses the file. */
interface Prefetch {
  history: Promise<HistoryBases>;
  tops?: Promise<Map<string, TopRevision>>;
}

/** Settled quietly if never awaited (the file may be refused first); awaiting it still throws. */
function started<T>(x: Promise<T>): Promise<T> {
  x.catch(() => {});
  return x;
}

/**
 * For a file that may hold many units (an admin's, ≥ PREFETCH_MIN_BYTES): the plausibility history of
 * every unit of the comparison quarters and, for a direct commit, every unit's current top — one read
 * of each period, as a many-unit check or commit makes anyway, only earlier. Otherwise nothing.
 */
function prefetchFor(p: Submitter, period: string, buffer: Buffer, opts: { tops: boolean }): Prefetch | undefined {
  if (p.role !== 'admin' || buffer.length < PREFETCH_MIN_BYTES) return undefined;
  return { history: started(historyBases(period, null)), ...(opts.tops ? { tops: started(currentTops(period)) } : {}) };
}

/**
 * Runs every check of SPEC §6 on the file; throws UploadRejected (422) or AppError (413).
 * `opts.commit`: the rows are committed right after (their units' tops are read with the history).
 */
export async function parseUpload(p: Submitter, period: string, buffer: Buffer, opts: { commit?: boolean } = {}): Promise<ParsedUpload & { tops?: Prefetch['tops'] }> {
  const byCode = await unitStates();
  // Started once the units are read: the worker, which needs them, starts first.
  const prefetch = prefetchFor(p, period, buffer, { tops: opts.commit === true });
  let result: ParseResult;
  try {
    // Off the event loop, within a memory and time budget (server/excel/off-thread.ts).
    const limits = { maxBytes: currentConfig().uploadMaxBytes };
    result = await parseReturnsOffThread(buffer, { units: byCode, limits, ...(p.role === 'reporter' ? { onlyUnit: p.unit ?? '\u0000' } : {}) });
  } catch (err) {
    if (err instanceof AppError && err.status === 422) {
      throw new UploadRejected([{ sheet: null, row: null, column: null, field: null, message: err.message }], err.code, err.message);
    }
    throw err;
  }
  if (!result.ok) throw new UploadRejected(result.errors, result.code);
  const warningsAt = new Map<number, UploadError[]>();
  for (const w of result.warnings) if (w.row !== null) warningsAt.set(w.row, [...(warningsAt.get(w.row) ?? []), w]);
  const rows = result.rows.map((x) => {
    const ws = warningsAt.get(x.row);
    return { unit: x.unit, row: x.row, values: x.values, ...(ws ? { warnings: ws } : {}) };
  });
  if (!rows.length) {
    throw new UploadRejected([{ sheet: result.sheet, row: null, column: null, field: null, message: '文件中没有任何单位的数据行' }], 'no_rows');
  }
  // Defence in depth: scope and unit state are checked here too, whatever the parser did.
  const errs: UploadError[] = [];
  for (const x of rows) {
    const u = byCode.get(x.unit);
    if (!u) errs.push({ sheet: null, row: x.row, column: null, field: 'unit', message: `第${x.row ?? '?'}行 单位代码「${x.unit}」不存在` });
    else if (!u.active) errs.push({ sheet: null, row: x.row, column: null, field: 'unit', message: `第${x.row ?? '?'}行 单位「${x.unit}」已停用` });
    else if (p.role === 'reporter' && p.unit !== x.unit) {
      errs.push({ sheet: null, row: x.row, column: null, field: 'unit', message: `第${x.row ?? '?'}行 单位「${x.unit}」不是本单位，只能上传本单位（${p.unit}）的数据` });
    }
  }
  if (errs.length) throw new UploadRejected(errs);
  // Plausibility against each unit's history (warnings only), after the parser's own warnings.
  const plausible = await plausibilityWarnings(period, rows, { sheet: result.sheet, columns: result.columns }, prefetch?.history);
  const tops = prefetch?.tops;
  if (!plausible.size) return { rows, warnings: result.warnings, tops };
  const withHistory = rows.map((x) => {
    const more = plausible.get(x.unit);
    return more ? { ...x, warnings: [...(x.warnings ?? []), ...more] } : x;
  });
  const all = [...result.warnings, ...[...plausible.values()].flat()].sort((a, b) => (a.row ?? 0) - (b.row ?? 0)); // stable: per row, the parser's first
  return { rows: withHistory, warnings: all, tops };
}

function assertCanUpload(p: Submitter): void {
  if (p.role !== 'admin' && p.role !== 'reporter') throw forbidden('当前角色不能上传填报数据');
}

function bucket() {
  const db = mongoose.connection.db;
  if (!db) throw new AppError(503, 'db_unavailable', '数据库未连接');
  return new mongoose.mongo.GridFSBucket(db, { bucketName: 'uploads' });
}

async function storeFile(buffer: Buffer, fileName: string, meta: Record<string, unknown>): Promise<Types.ObjectId> {
  const stream = bucket().openUploadStream(fileName, { metadata: meta });
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.once('finish', () => resolve());
    stream.end(buffer);
  });
  return stream.id as Types.ObjectId;
}

function safeName(name: string | undefined): string {
  const n = (name ?? '').replace(/[\\/\u0000-\u001f]/g, '_').slice(0, 200);
  return n || 'upload.xlsx';
}

/** A staged batch keeps its rows with their warnings until the user confirms: one document of ≤ 16 MiB. */
const STAGED_MAX_BYTES = 12 * 1024 * 1024;

export function assertStageable(parsed: ParsedUpload, maxBytes = STAGED_MAX_BYTES): void {
  const bytes = BSON.calculateObjectSize({ rows: parsed.rows });
  if (bytes <= maxBytes) return;
  const message = `文件共 ${parsed.rows.length} 行、${parsed.warnings.length} 条异常提示，超出网页预览能保存的大小，未保存任何数据；请分成几个较小的文件上传，或通过接口上传`;
  throw new AppError(413, 'preview_too_large', message);
}

/**
 * What both ways in share: the period is a quarter and open, the submitter may upload, the file
 * parses and validates, and the original is kept in GridFS. → the rows and the batch's common fields.
 */
async function checkAndStore(p: Submitter, period: string, buffer: Buffer, fileName: string | undefined, opts: { keepWarnings: boolean }) {
  assertQuarter(period);
  assertCanUpload(p);
  await assertOpen(period);
  // A staged batch is committed later (maybe much later): only a direct commit takes the tops read now.
  const { tops, ...parsed } = await parseUpload(p, period, buffer, { commit: !opts.keepWarnings });
  if (opts.keepWarnings) assertStageable(parsed);
  const name = safeName(fileName);
  const file = await storeFile(buffer, name, { period, uploadedBy: p.username });
  const record = {
    period,
    createdBy: p.username,
    createdByUnit: p.unit ?? null,
    createdAt: clock.now(),
    rows: parsed.rows,
    file,
    fileName: name,
    fileSize: buffer.length,
  };
  return { parsed, record, tops };
}

/** API: validate and commit at once. → [{unit, revision}] in file order. */
export async function uploadAndCommit(p: Submitter, period: string, buffer: Buffer, fileName?: string, source: 'excel' | 'api' = 'excel') {
  const { parsed, record, tops } = await checkAndStore(p, period, buffer, fileName, { keepWarnings: false });
  // The rows were validated above: the batch goes in through the driver, in the schema's exact shape
  // (uploadBatchDocument), and the commit is given the rows instead of reading them back.
  // The record of a direct commit keeps each row's unit and row number, not its values and warnings:
  // those go onto the rows' revisions (where reviewers read them; recovery reads them there too) and
  // into the response. The record is written three times (insert, commit, finalisation), each time
  // whole: with values it was ≈ 300 bytes a row (1.5 MB at 5 000 rows), with warnings up to 1.5 KB
  // a row, past MongoDB's 16 MB document limit at 20 000 rows.
  const doc = uploadBatchDocument({ ...record, rows: record.rows.map((r) => ({ unit: r.unit, row: r.row })), status: 'pending', source, owner: newOwner(), leaseAt: new Date() });
  await UploadBatch.collection.insertOne(doc);
  const accepted = await commitBatch(doc._id, { period: doc.period, source: doc.source, createdBy: doc.createdBy, file: doc.file ?? null, rows: record.rows }, { tops });
  return { batch: String(doc._id), accepted, warnings: parsed.warnings };
}

// ---- preview ----

export const RATIOS: { id: string; name: string; value: (v: ReturnValues) => number | null }[] = [
  { id: 'I1', name: '外网接入率', value: (v) => (v.systems_total ? v.systems_extranet / v.systems_total : null) },
  { id: 'I2', name: '目录共享率', value: (v) => (v.catalogue_items ? v.catalogue_shared / v.catalogue_items : null) },
  { id: 'I3', name: '专网整合率', value: (v) => (v.networks_private ? (v.networks_private - v.networks_standalone) / v.networks_private : 1) },
  { id: 'I4', name: '共享申请按时响应率', value: (v) => (v.requests_received ? v.requests_on_time / v.requests_received : null) },
  { id: 'I5', name: '政务云部署率', value: (v) => (v.systems_total ? v.systems_cloud / v.systems_total : null) },
  { id: 'I6', name: '职责数据支撑率', value: (v) => (v.duties_total ? v.duties_with_data / v.duties_total : null) },
];

export interface PreviewUnit {
  unit: string;
  name: string;
  row: number | null;
  currentRevision: number | null;
  currentStatus: string | null;
  changed: boolean;
  fields: { key: FieldKey; label: string; before: number | null; after: number; changed: boolean }[];
  ratios: { id: string; name: string; before: number | null; after: number | null; changed: boolean }[];
  /** Warnings of the upload about this unit's row. */
  warnings: UploadError[];
}

export async function buildPreview(period: string, rows: ParsedUpload['rows']): Promise<PreviewUnit[]> {
  const units = await unitStates();
  const latest = await latestReturns(period, rows.map((r) => r.unit));
  const out: PreviewUnit[] = [];
  for (const r of rows) {
    const cur = latest.get(r.unit)?.latest ?? null;
    const fields = FIELD_KEYS.map((k) => ({ key: k, label: FIELD_LABELS[k], before: cur ? cur.values[k] : null, after: r.values[k], changed: !cur || cur.values[k] !== r.values[k] }));
    const ratios = RATIOS.map((x) => {
      const before = cur ? x.value(cur.values) : null;
      const after = x.value(r.values);
      return { id: x.id, name: x.name, before, after, changed: !cur || before !== after };
    });
    out.push({
      unit: r.unit,
      name: units.get(r.unit)?.name ?? r.unit,
      row: r.row,
      currentRevision: cur?.revision ?? null,
      currentStatus: cur?.status ?? null,
      changed: fields.some((f) => f.changed),
      fields,
      ratios,
      warnings: r.warnings ?? [],
    });
  }
  return out;
}

/** Web: validate, keep the file and the rows as a staged batch, return the preview. */
export async function stageUpload(p: Submitter, period: string, buffer: Buffer, fileName?: string) {
  const { parsed, record } = await checkAndStore(p, period, buffer, fileName, { keepWarnings: true });
  const doc = uploadBatchDocument({ ...record, status: 'staged', source: 'excel' });
  await UploadBatch.collection.insertOne(doc);
  return { batch: String(doc._id), preview: await buildPreview(period, parsed.rows) };
}

async function stagedBatchOf(p: Submitter, batchId: string) {
  if (!Types.ObjectId.isValid(batchId)) throw notFound('batch_not_found', '上传记录不存在');
  const b = await UploadBatch.findById(batchId).lean();
  if (!b || b.createdBy !== p.username) throw notFound('batch_not_found', '上传记录不存在');
  // A reporter moved to another unit since the upload no longer sees (or commits) the old unit's rows.
  if (p.role === 'reporter' && b.rows.some((r) => r.unit !== p.unit)) throw forbidden('只能查看本单位的上传内容');
  return b;
}

export async function stagedPreview(p: Submitter, batchId: string) {
  const b = await stagedBatchOf(p, batchId);
  const rows = b.rows.map((r) => ({
    unit: r.unit,
    row: r.row ?? null,
    values: r.values as unknown as ReturnValues,
    ...(r.warnings?.length ? { warnings: r.warnings.map((w) => ({ sheet: w.sheet ?? null, row: w.row ?? null, column: w.column ?? null, field: w.field ?? null, message: w.message })) } : {}),
  }));
  return { batch: b, preview: await buildPreview(b.period, rows) };
}

/** Web: the user confirmed the preview — commit the staged batch (exactly once). */
export async function confirmUpload(p: Submitter, batchId: string) {
  const b = await stagedBatchOf(p, batchId);
  if (b.status === 'committed') return { period: b.period, accepted: b.accepted.map((a) => ({ unit: a.unit!, revision: a.revision! })), already: true };
  if (b.status !== 'staged') throw conflict('batch_not_staged', '该上传已提交或已作废，请重新上传');
  if (clock.now().getTime() - b.createdAt.getTime() > STAGED_TTL_MS) {
    await UploadBatch.updateOne({ _id: b._id, status: 'staged' }, { $set: { status: 'discarded', discardedReason: '预览已过期', finalized: true } });
    throw conflict('batch_expired', '预览已过期（超过 24 小时），请重新上传');
  }
  await assertOpen(b.period);
  // Scope and unit state may have changed since the preview.
  const units = await unitStates();
  for (const r of b.rows) {
    const u = units.get(r.unit);
    if (!u || !u.active) throw conflict('unit_inactive', `单位「${r.unit}」不存在或已停用，请重新上传`);
    if (p.role === 'reporter' && p.unit !== r.unit) throw forbidden('只能提交本单位的数据');
  }
  const res = await UploadBatch.updateOne(
    { _id: b._id, status: 'staged' },
    { $set: { status: 'pending', owner: newOwner(), leaseAt: new Date() } },
  );
  if (res.modifiedCount !== 1) throw conflict('batch_not_staged', '该上传已在提交中或已作废');
  // Now pending and ours; its rows (read above) never change after insert.
  const accepted = await commitBatch(b._id, { period: b.period, source: b.source, createdBy: b.createdBy, file: b.file ?? null, rows: b.rows as unknown as BatchToCommit['rows'] });
  return { period: b.period, accepted, already: false };
}

export async function cancelUpload(p: Submitter, batchId: string): Promise<void> {
  const b = await stagedBatchOf(p, batchId);
  await UploadBatch.updateOne({ _id: b._id, status: 'staged' }, { $set: { status: 'discarded', discardedReason: '用户取消', finalized: true } });
}

// ---- originals ----

export interface UploadView {
  id: string;
  period: string;
  status: string;
  source: string;
  createdBy: string;
  createdAt: string;
  committedAt: string | null;
  fileName: string | null;
  fileSize: number | null;
  units: string[];
  accepted: { unit: string; revision: number }[];
}

function uploadView(b: {
  _id: unknown; period: string; status: string; source: string; createdBy: string; createdAt: Date; committedAt?: Date | null;
  fileName?: string | null; fileSize?: number | null; rows: { unit: string }[]; accepted: { unit?: string | null; revision?: number | null }[];
}): UploadView {
  return {
    id: String(b._id),
    period: b.period,
    status: b.status,
    source: b.source,
    createdBy: b.createdBy,
    createdAt: b.createdAt.toISOString(),
    committedAt: b.committedAt ? b.committedAt.toISOString() : null,
    fileName: b.fileName ?? null,
    fileSize: b.fileSize ?? null,
    units: b.rows.map((r) => r.unit),
    accepted: b.accepted.map((a) => ({ unit: a.unit!, revision: a.revision! })),
  };
}

/** Committed uploads of a period (reviewers: all; reporters: those containing their unit). */
export async function listUploads(p: Submitter, period: string, unit?: string): Promise<UploadView[]> {
  assertQuarter(period);
  const filter: Record<string, unknown> = { period, status: 'committed' };
  if (p.role === 'reporter') filter['rows.unit'] = p.unit ?? '\u0000';
  else if (unit) filter['rows.unit'] = unit;
  const docs = await UploadBatch.find(filter, { 'rows.values': 0 }).sort({ createdAt: -1 }).limit(200).lean();
  const views = docs.map((d) => uploadView(d as never));
  return p.role === 'reporter' ? views.map((v) => ownPart(v, p.unit ?? '\u0000')) : views;
}

/**
 * What a reporter may see of a batch that holds their unit: their own unit's row and revision only;
 * the file's name and size only when the file holds nothing but their unit (as originalFile allows).
 */
function ownPart(v: UploadView, unit: string): UploadView {
  const onlyOwn = v.units.length > 0 && v.units.every((u) => u === unit);
  return {
    ...v,
    units: v.units.filter((u) => u === unit),
    accepted: v.accepted.filter((a) => a.unit === unit),
    fileName: onlyOwn ? v.fileName : null,
    fileSize: onlyOwn ? v.fileSize : null,
  };
}

/** The original uploaded file of a committed batch. Reporters only for batches of their own unit. */
export async function originalFile(p: Submitter, batchId: string) {
  if (!Types.ObjectId.isValid(batchId)) throw notFound('upload_not_found', '上传记录不存在');
  const b = await UploadBatch.findById(batchId).lean();
  if (!b || !b.file || (b.status !== 'committed' && b.createdBy !== p.username)) throw notFound('upload_not_found', '上传记录不存在');
  if (p.role === 'reporter' && !(b.rows.length > 0 && b.rows.every((r) => r.unit === p.unit))) throw forbidden('只能下载本单位上传的文件');
  return { fileName: b.fileName ?? 'upload.xlsx', size: b.fileSize ?? null, stream: bucket().openDownloadStream(b.file as Types.ObjectId) };
}
