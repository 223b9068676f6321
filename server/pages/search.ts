// 查找单位 (/search?q=…, the form in the header): units by code, name or alias (简称). matchUnits is pure.
import { badRequest } from '../domain/errors.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import type { UnitView } from '../services/units.ts';

export const SEARCH_MAX_LENGTH = 50;
export const SEARCH_MAX_RESULTS = 50;

/** How a query and a name compare: full-width folded, spaces dropped, case ignored. */
export function searchKey(s: string): string {
  return s.normalize('NFKC').replace(/\s+/g, '').toLowerCase();
}

/** The query, checked: '' when absent or blank; 400 invalid_query when longer than SEARCH_MAX_LENGTH. */
export function parseQuery(raw: unknown): string {
  if (raw === undefined || raw === null) return '';
  if (typeof raw !== 'string') throw badRequest('invalid_query', '查询内容无效，请输入单位代码、名称或简称');
  const q = raw.trim();
  if (q.length > SEARCH_MAX_LENGTH) throw badRequest('invalid_query', `查询内容不能超过 ${SEARCH_MAX_LENGTH} 个字`);
  return q;
}

export interface UnitMatch {
  unit: UnitView;
  /** What matched: 代码, 名称 or 简称「…」. */
  matched: string;
  /** 0 exact code, 1 exact name or alias, 2 code prefix, 3 name contains, 4 alias contains. */
  rank: number;
}

/** Units matching the query (best first, then by code). An empty query matches nothing. */
export function matchUnits(units: readonly UnitView[], query: string): UnitMatch[] {
  const k = searchKey(query);
  if (!k) return [];
  const out: UnitMatch[] = [];
  for (const u of units) {
    const code = u.code.toLowerCase();
    const name = searchKey(u.name);
    const aliases = (u.aliases ?? []).map((a) => ({ a, k: searchKey(a) }));
    const exactAlias = aliases.find((x) => x.k === k);
    const someAlias = aliases.find((x) => x.k.includes(k));
    let m: UnitMatch | null = null;
    if (code === k) m = { unit: u, matched: '代码', rank: 0 };
    else if (name === k) m = { unit: u, matched: '名称', rank: 1 };
    else if (exactAlias) m = { unit: u, matched: `简称「${exactAlias.a}」`, rank: 1 };
    else if (code.startsWith(k)) m = { unit: u, matched: '代码', rank: 2 };
    else if (name.includes(k)) m = { unit: u, matched: '名称', rank: 3 };
    else if (someAlias) m = { unit: u, matched: `简称「${someAlias.a}」`, rank: 4 };
    if (m) out.push(m);
  }
  return out.sort((a, b) => a.rank - b.rank || compareCodes(a.unit.code, b.unit.code));
}

/**
 * Where a search goes: straight to the unit when exactly one unit matches and the viewer may open it
 * (or when the query is exactly one unit's code); else the results page.
 */
export function directTarget(matches: readonly UnitMatch[], canOpen: (code: string) => boolean): string | null {
  const exactCode = matches.filter((m) => m.rank === 0);
  const only = matches.length === 1 ? matches[0]! : exactCode.length === 1 ? exactCode[0]! : null;
  return only && canOpen(only.unit.code) ? only.unit.code : null;
}
