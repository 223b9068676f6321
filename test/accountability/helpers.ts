// Shared set-up for the rectification-loop tests: a published quarter with an A1 case, file
// fixtures generated here (real PDFs, PNGs, Office zips, and hostile files), multipart with many files.
import { deflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { makeZip } from '../fixtures/zip.ts';
import type { HttpResult, TestApp } from '../helpers/app.ts';
import { at, PERFECT, putUnit, submit, uniform } from '../results/fixtures.ts';

export { at };

export interface Upload {
  name: string;
  data: Buffer;
}

/** POST multipart/form-data with text fields and any number of files in field `files`. */
export async function postFiles(t: TestApp, token: string | null, path: string, files: Upload[], fields: Record<string, string> = {}, field = 'files'): Promise<HttpResult> {
  await t.settle();
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append(field, new Blob([new Uint8Array(f.data)]), f.name);
  const res = await fetch(t.baseUrl + path, { method: 'POST', body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const buffer = Buffer.from(await res.arrayBuffer());
  const text = buffer.toString('utf8');
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: res.status, body, text, buffer, headers: res.headers };
}

export const pdf = (body = '整改报告'): Buffer =>
  Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% ${body}\ntrailer << /Root 1 0 R >>\n%%EOF\n`, 'utf8');

export const png = (): Buffer =>
  Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

export const jpeg = (): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]), Buffer.from('JFIF\u0000', 'latin1'), Buffer.alloc(32), Buffer.from([0xff, 0xd9])]);

const CT = '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>';

export const docx = (): Buffer =>
  makeZip([
    { name: '[Content_Types].xml', data: CT },
    { name: '_rels/.rels', data: '<Relationships/>' },
    { name: 'word/document.xml', data: '<w:document>整改情况说明</w:document>' },
  ]);

export const xlsx = (): Buffer => makeZip([{ name: '[Content_Types].xml', data: CT }, { name: 'xl/workbook.xml', data: '<workbook/>' }]);

export const ofd = (): Buffer => makeZip([{ name: 'OFD.xml', data: '<ofd:OFD/>' }, { name: 'Doc_0/Document.xml', data: '<ofd:Document/>' }]);

export const plainZip = (): Buffer => makeZip([{ name: '照片/机房.png', data: png(), store: true }, { name: '说明.pdf', data: pdf() }]);

/** A "docx" whose document part inflates to 64 MB of zeros from a few KB: never expanded. */
export function docxBomb(): Buffer {
  const size = 64 * 1024 * 1024;
  return makeZip([
    { name: '[Content_Types].xml', data: CT },
    { name: 'word/document.xml', deflated: deflateRawSync(Buffer.alloc(size)), uncompressedSize: size },
  ]);
}

export const html = (): Buffer => Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>');
export const svg = (): Buffer => Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="5"/></svg>');
export const exe = (): Buffer => Buffer.concat([Buffer.from('MZ\u0090\u0000', 'latin1'), Buffer.alloc(60), Buffer.from('This program cannot be run in DOS mode.')]);
export const script = (): Buffer => Buffer.from('#!/bin/sh\nrm -rf /\n');

/**
 * Units D1 (100), D2 (85), D3 (55 → 不合格: A1, due 30 days after publication) and D4 (30 → 不合格) in
 * 2026Q1, published on 2026-04-20T02:00Z, so D3 and D4 have an A1 case due 2026-05-20T02:00Z.
 * → the A1 case ids of D3 and D4.
 */
export async function publishedCases(t: TestApp, admin: string, reviewer: string): Promise<{ d3: string; d4: string }> {
  const a = t.api(admin);
  for (const c of ['D1', 'D2', 'D3', 'D4']) await putUnit(a, c, 'department');
  at('2026-04-10T02:00:00Z');
  await submit(a, '2026Q1', 'D1', PERFECT);
  await submit(a, '2026Q1', 'D2', uniform(17, 20));
  await submit(a, '2026Q1', 'D3', uniform(11, 20));
  await submit(a, '2026Q1', 'D4', uniform(3, 10));
  at('2026-04-20T02:00:00Z');
  const pub = await t.api(reviewer).post('/api/v1/results/2026Q1/publish');
  expect(pub.status, pub.text).to.equal(200);
  const list = await t.api(reviewer).get('/api/v1/accountability?period=2026Q1');
  expect(list.status, list.text).to.equal(200);
  const find = (u: string) => (list.body as { id: string; unit: string; rule: string }[]).find((c) => c.unit === u && c.rule === 'A1')!.id;
  return { d3: find('D3'), d4: find('D4') };
}
