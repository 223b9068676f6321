// Reads what a test needs from a PDF made by Chromium (Skia): the page count and each page's text.
// No PDF tool is installed on the test machines (no poppler-utils), so this reads the file itself:
// objects, Flate streams, each font's ToUnicode CMap, and the page content streams' text operators
// (Tf, Tj, TJ, ', "). Enough for Skia's output (no object streams, no encryption); not a general PDF reader.
import zlib from 'node:zlib';

interface PdfObject {
  dict: string;
  stream: Buffer | null;
}

function parseObjects(pdf: Buffer): Map<number, PdfObject> {
  const text = pdf.toString('latin1');
  const objects = new Map<number, PdfObject>();
  const re = /(\d+) 0 obj\s*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endobj', start);
    if (end < 0) break;
    const body = text.slice(start, end);
    const s = body.search(/stream\r?\n/);
    let dict = body;
    let stream: Buffer | null = null;
    if (s >= 0 && /^<</.test(body)) {
      dict = body.slice(0, s);
      const dataStart = start + s + (body[s + 6] === '\r' ? 8 : 7);
      const lenM = /\/Length (\d+)(?! \d+ R)/.exec(dict);
      const dataEnd = lenM ? dataStart + Number(lenM[1]) : start + body.lastIndexOf('endstream');
      let raw = pdf.subarray(dataStart, dataEnd);
      if (/\/FlateDecode/.test(dict)) raw = zlib.inflateSync(raw);
      stream = raw;
    }
    objects.set(Number(m[1]), { dict, stream });
    re.lastIndex = end;
  }
  return objects;
}

const hexToBytes = (h: string): number[] => {
  const clean = h.replace(/\s+/g, '');
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 2) out.push(parseInt(clean.slice(i, i + 2).padEnd(2, '0'), 16));
  return out;
};
const utf16 = (h: string): string => {
  const b = hexToBytes(h);
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  return s;
};

interface CMap {
  bytes: number;
  map: Map<number, string>;
}

function parseCMap(src: string): CMap {
  const map = new Map<number, string>();
  let bytes = 1;
  for (const block of src.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const e of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>/g)) {
      bytes = Math.max(bytes, e[1]!.length / 2);
      map.set(parseInt(e[1]!, 16), utf16(e[2]!));
    }
  }
  for (const block of src.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const e of block[1]!.matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(<[0-9a-fA-F]*>|\[[^\]]*\])/g)) {
      bytes = Math.max(bytes, e[1]!.length / 2);
      const lo = parseInt(e[1]!, 16);
      const hi = parseInt(e[2]!, 16);
      if (e[3]!.startsWith('[')) {
        const items = [...e[3]!.matchAll(/<([0-9a-fA-F]*)>/g)].map((x) => utf16(x[1]!));
        items.forEach((u, i) => map.set(lo + i, u));
      } else {
        const base = utf16(e[3]!.slice(1, -1));
        const last = base.charCodeAt(base.length - 1);
        for (let c = lo; c <= hi; c++) map.set(c, base.slice(0, -1) + String.fromCharCode(last + (c - lo)));
      }
    }
  }
  return { bytes, map };
}

/** Bytes of a PDF literal string `( … )` (escapes resolved). */
function literalBytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out.push(c.charCodeAt(0) & 0xff);
      continue;
    }
    const n = s[++i]!;
    if (/[0-7]/.test(n)) {
      let oct = n;
      while (oct.length < 3 && /[0-7]/.test(s[i + 1] ?? '')) oct += s[++i];
      out.push(parseInt(oct, 8) & 0xff);
    } else out.push(({ n: 10, r: 13, t: 9, b: 8, f: 12 } as Record<string, number>)[n] ?? n.charCodeAt(0));
  }
  return out;
}

function decode(bytes: number[], cmap: CMap | undefined): string {
  if (!cmap) return String.fromCharCode(...bytes);
  let s = '';
  for (let i = 0; i + cmap.bytes - 1 < bytes.length; i += cmap.bytes) {
    let code = 0;
    for (let k = 0; k < cmap.bytes; k++) code = (code << 8) | bytes[i + k]!;
    s += cmap.map.get(code) ?? '';
  }
  return s;
}

const refs = (dict: string): Map<string, number> =>
  new Map([...dict.matchAll(/\/([A-Za-z0-9_.]+)\s+(\d+) 0 R/g)].map((m) => [m[1]!, Number(m[2])]));

/** One dictionary value `/Key << … >>` (nested dictionaries included). */
function subDict(dict: string, key: string): string {
  const at = dict.indexOf(`/${key}`);
  if (at < 0) return '';
  const open = dict.indexOf('<<', at);
  if (open < 0) return '';
  let depth = 0;
  for (let i = open; i < dict.length - 1; i++) {
    if (dict.startsWith('<<', i)) {
      depth++;
      i++;
    } else if (dict.startsWith('>>', i)) {
      depth--;
      i++;
      if (depth === 0) return dict.slice(open, i + 1);
    }
  }
  return dict.slice(open);
}

/** The pages of a PDF in order, each with its text (text operators joined; a line break per BT … ET block). */
export function pdfPages(pdf: Buffer): string[] {
  const objects = parseObjects(pdf);
  const cmaps = new Map<number, CMap | undefined>();
  const cmapOfFont = (fontObj: number): CMap | undefined => {
    if (cmaps.has(fontObj)) return cmaps.get(fontObj);
    const f = objects.get(fontObj);
    const tu = f ? /\/ToUnicode (\d+) 0 R/.exec(f.dict) : null;
    const cm = tu ? objects.get(Number(tu[1]))?.stream : null;
    const parsed = cm ? parseCMap(cm.toString('latin1')) : undefined;
    cmaps.set(fontObj, parsed);
    return parsed;
  };
  // Page order: walk the page tree from the catalog's /Pages.
  const catalog = [...objects.values()].find((o) => /\/Type \/Catalog/.test(o.dict));
  const rootPages = catalog ? Number(/\/Pages (\d+) 0 R/.exec(catalog.dict)?.[1]) : NaN;
  const order: number[] = [];
  const walk = (n: number) => {
    const o = objects.get(n);
    if (!o) return;
    if (/\/Type \/Pages\b/.test(o.dict)) {
      const kids = /\/Kids \[([^\]]*)\]/.exec(o.dict)?.[1] ?? '';
      for (const k of kids.matchAll(/(\d+) 0 R/g)) walk(Number(k[1]));
    } else if (/\/Type \/Page\b/.test(o.dict)) order.push(n);
  };
  walk(rootPages);
  return order.map((n) => {
    const page = objects.get(n)!;
    const fonts = refs(subDict(page.dict, 'Font'));
    const contents = /\/Contents (\d+) 0 R/.exec(page.dict);
    const content = contents ? objects.get(Number(contents[1]))?.stream?.toString('latin1') ?? '' : '';
    let cmap: CMap | undefined;
    let out = '';
    const tokens = /\/([A-Za-z0-9_.]+)\s+[-\d.]+\s+Tf|<([0-9a-fA-F\s]*)>|\(((?:\\.|[^\\)])*)\)|\[|\]|\b(BT|ET|Tj|TJ|'|")(?![A-Za-z])/g;
    let t: RegExpExecArray | null;
    while ((t = tokens.exec(content))) {
      if (t[1] !== undefined) cmap = fonts.has(t[1]) ? cmapOfFont(fonts.get(t[1])!) : undefined;
      else if (t[2] !== undefined) out += decode(hexToBytes(t[2]), cmap);
      else if (t[3] !== undefined) out += decode(literalBytes(t[3]), cmap);
      else if (t[4] === 'ET') out += '\n';
    }
    return out;
  });
}

// Skia's ToUnicode maps some CJK glyphs to their radical code points (⻚ for 页, ⺠ for 民); NFKC
// folds the Kangxi radicals, this table the supplement ones the demo's texts use.
const RADICALS: Record<string, string> = { '⻚': '页', '⻔': '门', '⺠': '民', '⻓': '长', '⻅': '见', '⻋': '车', '⻛': '风', '⻢': '马', '⻄': '西', '⻩': '黄', '⻬': '齐', '⻜': '飞', '⻝': '食', '⻘': '青', '⻨': '麦', '⻥': '鱼', '⻦': '鸟', '⻉': '贝', '⻈': '讠', '⻊': '足', '⻤': '鬼', '⻰': '龙', '⻳': '龟' };

/** Page text for assertions: radicals folded, every run of white space (the BT/ET breaks too) removed. */
export function plainText(page: string): string {
  return page.normalize('NFKC').replace(/[\u2e80-\u2eff]/g, (c) => RADICALS[c] ?? c).replace(/\s+/g, '');
}
