// The one attachments service (SPEC §7): checks files by content (server/domain/attachments.ts),
// stores them in the GridFS bucket `attachmentFiles` with their metadata (models/attachment.ts), lists
// them, and opens them for download to those who may see their unit's data. Files arrive as
// temporary files on disk (the routes' multipart parser): a zip's central directory is read from
// the file by yauzl, with random access, and nothing is ever decompressed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import mongoose, { Types } from 'mongoose';
import yauzl from 'yauzl';
import { clock } from '../clock.ts';
import {
  ATTACHMENT_MIME,
  attachmentName,
  classifyZip,
  HEAD_BYTES,
  MAX_ATTACHMENTS_PER_REVISION,
  refused,
  safeBaseName,
  sniff,
  ZIP_LIMITS,
  type AttachmentType,
  type ZipEntryInfo,
} from '../domain/attachments.ts';
import { AppError, forbidden, notFound } from '../domain/errors.ts';
import type { Role } from '../domain/fields.ts';
import { Attachment } from '../models/attachment.ts';
import { ReturnRevision } from '../models/return-revision.ts';
import { audit } from './audit.ts';
import { assertUnpublished } from './periods.ts';
import { assertCanSubmit, latestRevision } from './returns.ts';
import { currentConfig } from '../config.ts';

export const ATTACHMENT_BUCKET = 'attachmentFiles';

/** A file as the multipart parser left it: a temporary file and the name the client gave. */
export interface IncomingFile {
  path: string;
  originalName: string;
  size: number;
}

export interface AttachmentView {
  id: string;
  name: string;
  size: number;
  type: AttachmentType;
}

export interface Viewer {
  username: string;
  role: Role;
  unit?: string;
}

export type AttachmentOwner =
  | { kind: 'rectification'; case: Types.ObjectId; rectification: Types.ObjectId }
  | { kind: 'revision'; period: string; revision: number };

function bucket() {
  const db = mongoose.connection.db;
  if (!db) throw new AppError(503, 'db_unavailable', '数据库未连接');
  return new mongoose.mongo.GridFSBucket(db, { bucketName: ATTACHMENT_BUCKET });
}

export function tooLarge(max = currentConfig().attachmentMaxBytes): AppError {
  return new AppError(413, 'attachment_too_large', `附件过大：每个文件不能超过 ${Math.round((max / 1024 / 1024) * 10) / 10} MB`);
}

export function tooMany(max: number, what: string): AppError {
  return new AppError(422, 'too_many_attachments', `${what}最多只能有 ${max} 个附件`);
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await fs.promises.open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The central directory of a zip: names, declared sizes and flags only (no entry is ever read). */
async function zipDirectory(path: string, name: string): Promise<ZipEntryInfo[]> {
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(path, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: false, strictFileNames: false }, (err, z) => (err ? reject(err) : resolve(z))),
    );
  } catch {
    throw refused(name, '压缩包已损坏');
  }
  try {
    if (zip.entryCount > ZIP_LIMITS.maxEntries) throw refused(name, `压缩包内文件过多（超过 ${ZIP_LIMITS.maxEntries} 个）`);
    return await new Promise<ZipEntryInfo[]>((resolve, reject) => {
      const out: ZipEntryInfo[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        out.push({ name: e.fileName, compressedSize: e.compressedSize, uncompressedSize: e.uncompressedSize, encrypted: e.isEncrypted() });
        zip.readEntry();
      });
      zip.once('end', () => resolve(out));
      zip.once('error', () => reject(refused(name, '压缩包已损坏或含有非法的文件路径')));
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

export interface CheckedFile extends IncomingFile {
  name: string;
  type: AttachmentType;
}

/** Checks one file (size, then type by content); throws 413 / 422 with a Chinese message. */
export async function checkFile(f: IncomingFile): Promise<CheckedFile> {
  const display = safeBaseName(f.originalName) || '附件';
  if (f.size > currentConfig().attachmentMaxBytes) throw tooLarge();
  const s = sniff(await readHead(f.path));
  if ('refuse' in s) throw refused(display, s.refuse);
  const type: AttachmentType = s.kind === 'zip' ? classifyZip(display, await zipDirectory(f.path, display)) : s.kind;
  return { ...f, type, name: attachmentName(f.originalName, type) };
}

/** Checks every file first (all or nothing), within `max` files. */
export async function checkFiles(files: readonly IncomingFile[], max: number, what: string): Promise<CheckedFile[]> {
  if (files.length > max) throw tooMany(max, what);
  const out: CheckedFile[] = [];
  for (const f of files) out.push(await checkFile(f));
  return out;
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Stores checked files for one owner: bytes into GridFS, then one metadata document each.
 * → the new attachments' ids, in order. On failure, what was stored is removed again.
 */
export async function storeFiles(by: string, unit: string, owner: AttachmentOwner, files: readonly CheckedFile[]): Promise<Types.ObjectId[]> {
  const stored: { file: Types.ObjectId; doc?: Types.ObjectId }[] = [];
  try {
    const docs = [];
    for (const f of files) {
      const sha256 = await sha256Of(f.path);
      const up = bucket().openUploadStream(f.name, { metadata: { unit, uploadedBy: by, sha256, type: f.type } });
      stored.push({ file: up.id as Types.ObjectId });
      await pipeline(fs.createReadStream(f.path), up);
      const id = new Types.ObjectId();
      stored.at(-1)!.doc = id;
      docs.push({
        _id: id,
        name: f.name,
        size: f.size,
        type: f.type,
        contentType: ATTACHMENT_MIME[f.type],
        sha256,
        file: up.id,
        uploadedBy: by,
        uploadedAt: clock.now(),
        unit,
        owner: owner.kind === 'rectification'
          ? { kind: 'rectification', case: owner.case, rectification: owner.rectification, period: null, revision: null }
          : { kind: 'revision', case: null, rectification: null, period: owner.period, revision: owner.revision },
      });
    }
    if (docs.length) await Attachment.insertMany(docs);
    return docs.map((d) => d._id);
  } catch (err) {
    await removeStored(stored.map((s) => s.file), stored.map((s) => s.doc).filter((x): x is Types.ObjectId => !!x)).catch(() => {});
    throw err;
  }
}

async function removeStored(files: Types.ObjectId[], docs: Types.ObjectId[]): Promise<void> {
  if (docs.length) await Attachment.deleteMany({ _id: { $in: docs } });
  for (const f of files) await bucket().delete(f).catch(() => {});
}

/** Removes attachments that never became visible (their owner's write failed). */
export async function discardAttachments(ids: readonly Types.ObjectId[]): Promise<void> {
  if (!ids.length) return;
  const docs = await Attachment.find({ _id: { $in: ids } }, { file: 1 }).lean();
  await removeStored(docs.map((d) => d.file as Types.ObjectId), [...ids]);
}

type AttachmentLean = { _id: unknown; name: string; size: number; type: string };
const toView = (d: AttachmentLean): AttachmentView => ({ id: String(d._id), name: d.name, size: d.size, type: d.type as AttachmentType });

/** Views of the given attachments, in the given order (unknown ids are left out). */
export async function attachmentViews(ids: readonly unknown[]): Promise<Map<string, AttachmentView>> {
  const valid = ids.map(String).filter((x) => Types.ObjectId.isValid(x));
  const out = new Map<string, AttachmentView>();
  if (!valid.length) return out;
  for (const d of await Attachment.find({ _id: { $in: valid } }, { name: 1, size: 1, type: 1 }).lean()) out.set(String(d._id), toView(d as AttachmentLean));
  return out;
}

/** An attachment for download: 404 when unknown, 403 when the viewer may not see its unit's data. */
export async function openAttachment(v: Viewer, id: string) {
  if (!Types.ObjectId.isValid(id)) throw notFound('attachment_not_found', '附件不存在');
  const doc = await Attachment.findById(id).lean();
  if (!doc) throw notFound('attachment_not_found', '附件不存在');
  if (v.role === 'reporter' && v.unit !== doc.unit) throw forbidden('无权下载其他单位的附件');
  return { name: doc.name, size: doc.size, contentType: doc.contentType, sha256: doc.sha256, stream: bucket().openDownloadStream(doc.file as Types.ObjectId) };
}

// ---- 佐证材料 on return revisions ----

/** The evidence of one revision, oldest first. */
export async function evidenceOf(period: string, unit: string, revision: number): Promise<AttachmentView[]> {
  const docs = await Attachment.find({ unit, 'owner.kind': 'revision', 'owner.period': period, 'owner.revision': revision }, { name: 1, size: 1, type: 1 })
    .sort({ _id: 1 })
    .lean();
  return docs.map((d) => toView(d as AttachmentLean));
}

/** Evidence per unit for the given latest revisions of a period (review pages). */
export async function evidenceOfRevisions(period: string, revisions: readonly { unit: string; revision: number }[]): Promise<Map<string, AttachmentView[]>> {
  const out = new Map<string, AttachmentView[]>();
  if (!revisions.length) return out;
  const want = new Map(revisions.map((r) => [r.unit, r.revision]));
  const docs = await Attachment.find({ unit: { $in: [...want.keys()] }, 'owner.kind': 'revision', 'owner.period': period }, { name: 1, size: 1, type: 1, unit: 1, owner: 1 })
    .sort({ _id: 1 })
    .lean();
  for (const d of docs) {
    if (want.get(d.unit) !== d.owner?.revision) continue;
    const l = out.get(d.unit) ?? [];
    l.push(toView(d as AttachmentLean));
    out.set(d.unit, l);
  }
  return out;
}

/**
 * POST /returns/:period/:unit/evidence: attaches files to the latest revision (the unit's reporter
 * or an admin; not once the period is published). → the revision's whole evidence list.
 */
export async function addEvidence(p: Viewer, period: string, unit: string, files: readonly IncomingFile[]): Promise<{ revision: number; evidence: AttachmentView[] }> {
  if (p.role !== 'admin' && p.role !== 'reporter') throw forbidden('只有本单位的填报人员或管理员可以上传佐证材料');
  assertCanSubmit(p, unit);
  await assertUnpublished(period);
  const latest = await latestRevision(period, unit);
  if (!latest) throw notFound('return_not_found', `单位「${unit}」${period} 期尚未填报，请先提交数据再上传佐证材料`);
  if (!files.length) throw new AppError(400, 'files_required', '请用 multipart/form-data 的 files 字段上传至少一个文件');
  const existing = await Attachment.countDocuments({ unit, 'owner.kind': 'revision', 'owner.period': period, 'owner.revision': latest.revision });
  if (existing + files.length > MAX_ATTACHMENTS_PER_REVISION) throw tooMany(MAX_ATTACHMENTS_PER_REVISION, `每一版填报数据的佐证材料`);
  const checked = await checkFiles(files, MAX_ATTACHMENTS_PER_REVISION, '每一版填报数据的佐证材料');
  const ids = await storeFiles(p.username, unit, { kind: 'revision', period, revision: latest.revision }, checked);
  // A newer revision may have been submitted meanwhile: the files stay with the one they were checked against.
  await audit(
    { username: p.username, role: p.role },
    { action: 'return.evidence', entity: 'return', entityId: `${period}/${unit}`, after: { revision: latest.revision, attachments: ids.map(String), names: checked.map((c) => c.name) } },
  );
  return { revision: latest.revision, evidence: await evidenceOf(period, unit, latest.revision) };
}

/**
 * 沿用上一版佐证材料: gives revision `to` the evidence of the revision before it (same stored files,
 * new metadata documents owned by `to`). Idempotent: does nothing when `to` already has evidence.
 */
export async function carryOverEvidence(p: Viewer, period: string, unit: string, to: number): Promise<AttachmentView[]> {
  if (to <= 1) return [];
  const already = await Attachment.countDocuments({ unit, 'owner.kind': 'revision', 'owner.period': period, 'owner.revision': to });
  if (already) return evidenceOf(period, unit, to);
  const prev = await ReturnRevision.findOne({ unit, period, revision: { $lt: to } }, { revision: 1 }).sort({ revision: -1 }).lean();
  if (!prev) return [];
  const docs = await Attachment.find({ unit, 'owner.kind': 'revision', 'owner.period': period, 'owner.revision': prev.revision }).sort({ _id: 1 }).lean();
  if (!docs.length) return [];
  const now = clock.now();
  await Attachment.insertMany(
    docs.map((d) => ({
      name: d.name,
      size: d.size,
      type: d.type,
      contentType: d.contentType,
      sha256: d.sha256,
      file: d.file,
      uploadedBy: d.uploadedBy,
      uploadedAt: now,
      unit,
      owner: { kind: 'revision', case: null, rectification: null, period, revision: to },
      carriedFrom: d._id,
    })),
  );
  await audit(
    { username: p.username, role: p.role },
    { action: 'return.evidence.carry', entity: 'return', entityId: `${period}/${unit}`, after: { revision: to, from: prev.revision, attachments: docs.length } },
  );
  return evidenceOf(period, unit, to);
}
