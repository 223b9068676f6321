// The plausibility rule set as data (异常提示规则, issue 14 item 3): immutable versions like the scheme
// (versioned-definitions.ts: v1 is DEFAULT_PLAUSIBILITY_RULES, stored at start-up, never by a read; an
// edit inserts version n+1, audited), and
// the check every intake path runs: a return's values against the unit's previous quarter and the
// same quarter a year before → warnings in the SPEC §7 shape, kept on the revision.
//
// History: for each comparison base, the unit's latest revision of that quarter when it is usable
// (SPEC §3: the latest revision, unless it was rejected — then the unit had no usable return and there
// is nothing to compare with). A quarter that was never opened has no history.
//
// Note: services/returns.ts calls plausibilityWarnings and this module reads returns through
// latestReturns — a cycle of function references only (nothing is called at import time).
import type { FieldKey, ReturnValues } from '../domain/fields.ts';
import { formatQuarter, parseQuarter, previousQuarter } from '../domain/periods.ts';
import {
  assertValidRules,
  checkPlausibility,
  cloneRules,
  DEFAULT_PLAUSIBILITY_RULES,
  rulesFromStored,
  type PlausibilityFinding,
  type PlausibilityHistory,
  type PlausibilityRules,
} from '../domain/plausibility.ts';
import { PlausibilityRuleSet } from '../models/plausibility-rules.ts';
import { audit, type Actor } from './audit.ts';
import { findPeriod } from './periods.ts';
import { latestUsableValues, type RevisionWarning } from './returns.ts';
import { versionedDefinitions } from './versioned-definitions.ts';

export interface RulesRecord {
  version: number;
  rules: PlausibilityRules;
  note: string;
  createdBy: string;
  createdAt: Date;
}

const versions = versionedDefinitions<RulesRecord>({
  model: PlausibilityRuleSet,
  defaultDefinition: () => cloneRules(DEFAULT_PLAUSIBILITY_RULES),
  defaultNote: '默认规则',
  toRecord: (doc) => ({ version: doc.version, rules: rulesFromStored(doc.definition, doc.version), note: doc.note ?? '', createdBy: doc.createdBy, createdAt: doc.createdAt }),
  notFound: { code: 'plausibility_rules_not_found', message: (v) => `异常提示规则第 ${v} 版不存在` },
  changed: { code: 'plausibility_rules_changed', message: (v) => `异常提示规则已被修改为第 ${v} 版，请刷新后重新编辑`, raced: '异常提示规则刚被他人修改，请刷新后重新编辑' },
});

/** Stores v1 from DEFAULT_PLAUSIBILITY_RULES when none is stored (start-up). Idempotent. */
export const ensureDefaultRules = versions.ensureDefault;
/** The rule set in force: the latest stored version (the defaults as v1 before any is stored). */
export const currentRules = versions.current;
export const listRuleVersions = versions.list;
export const ruleVersion = versions.byVersion;

/**
 * Saves a draft as version n+1 (422 invalid_plausibility_rules with every problem listed; nothing
 * stored). `baseVersion`: the version the editor started from — 409 when another admin saved meanwhile.
 * v1 is stored before v2, so that every version a warning came from exists.
 */
export async function saveRules(actor: Actor, draft: unknown, opts: { baseVersion?: number; note?: string } = {}): Promise<RulesRecord> {
  const note = (opts.note ?? '').trim().slice(0, 500);
  const { before, next, definition } = await versions.saveNext(actor.username, (current, next) => assertValidRules(draft, current.rules, next), { baseVersion: opts.baseVersion, note });
  const rules = definition as PlausibilityRules;
  await audit(actor, {
    action: 'plausibility.save',
    entity: 'plausibility_rules',
    entityId: String(next),
    before: { version: before.version, rules: before.rules.rules },
    after: { version: next, rules: rules.rules, note },
  });
  return ruleVersion(next);
}

// ---- the check ----

/** The quarter a year before `period` (2026Q3 → 2025Q3). */
export function yearAgoQuarter(period: string): string | null {
  const q = parseQuarter(period);
  return q ? formatQuarter({ year: q.year - 1, quarter: q.quarter }) : null;
}

/**
 * Each unit's usable return of `period` (latest revision unless rejected); empty when never opened.
 * `units`: only those (one read of the period when there are many), or null: every unit of the period.
 */
async function usableValues(period: string | null, units: readonly string[] | null): Promise<Map<string, ReturnValues>> {
  if (!period || (units && !units.length) || !(await findPeriod(period))) return new Map();
  // Many units (a province's whole file): one read of the period instead of a huge $in list.
  if (!units || units.length > 1000) return latestUsableValues(period);
  return latestUsableValues(period, units);
}

/** The comparison quarters of `period` and their units' usable values (the history of a check). */
export interface HistoryBases {
  previousPeriod: string | null;
  yearAgoPeriod: string | null;
  previous: Map<string, ReturnValues>;
  yearAgo: Map<string, ReturnValues>;
}

/**
 * The comparison bases of `period` for `units`, or for every unit (null: what an upload of a whole
 * province reads while its file is parsed, before its units are known).
 */
export async function historyBases(period: string, units: readonly string[] | null): Promise<HistoryBases> {
  const previousPeriod = previousQuarter(period);
  const yearAgoPeriod = yearAgoQuarter(period);
  const [previous, yearAgo] = await Promise.all([usableValues(previousPeriod, units), usableValues(yearAgoPeriod, units)]);
  return { previousPeriod, yearAgoPeriod, previous, yearAgo };
}

/** The comparison bases of `period` for each unit: previous quarter and same quarter last year. */
export async function historyFor(
  period: string,
  units: readonly string[],
  read: Promise<HistoryBases> = historyBases(period, units),
): Promise<Map<string, PlausibilityHistory & { previousPeriod: string | null; yearAgoPeriod: string | null }>> {
  const { previousPeriod: prevP, yearAgoPeriod: yearP, previous: prev, yearAgo: year } = await read;
  const out = new Map<string, PlausibilityHistory & { previousPeriod: string | null; yearAgoPeriod: string | null }>();
  for (const u of units) {
    const p = prev.get(u);
    const y = year.get(u);
    out.set(u, { previous: p && prevP ? { period: prevP, values: p } : null, yearAgo: y && yearP ? { period: yearP, values: y } : null, previousPeriod: prevP, yearAgoPeriod: yearP });
  }
  return out;
}

export interface CheckedRow {
  unit: string;
  values: ReturnValues;
  /** Worksheet row of an upload; absent for a single return (API, web form). */
  row?: number | null;
}

/** Where the fields are in an upload's data sheet: its name and each field's column letter. */
export interface SheetPlace {
  sheet?: string | null;
  /** Field key → column letter (the parser's `columns`); a field absent here gets `column: null`. */
  columns?: Readonly<Partial<Record<FieldKey, string>>> | null;
}

/** A finding in the SPEC §7 shape; an upload's message starts "第N行 X列" like the parser's own. */
function toWarning(f: PlausibilityFinding, row: number | null, place: SheetPlace): RevisionWarning {
  const column = row !== null ? (place.columns?.[f.field] ?? null) : null;
  const where = row === null ? '' : `第${row}行${column === null ? '' : ` ${column}列`} `;
  return { sheet: place.sheet ?? null, row, column, field: f.field, message: `${where}${f.message}` };
}

/**
 * The plausibility warnings of some rows of one period, by unit ({sheet, row, column, field, message};
 * units without any are absent). One read of the rule set and one per comparison quarter. For an
 * upload, `opts` says where the rows came from: the sheet, and each field's column letter; `bases`:
 * the history already being read (see {@link historyBases}).
 */
export async function plausibilityWarnings(period: string, rows: readonly CheckedRow[], opts: SheetPlace = {}, bases?: Promise<HistoryBases>): Promise<Map<string, RevisionWarning[]>> {
  const out = new Map<string, RevisionWarning[]>();
  if (!rows.length) return out;
  const [{ rules }, history] = await Promise.all([currentRules(), historyFor(period, rows.map((r) => r.unit), bases)]);
  for (const r of rows) {
    const h = history.get(r.unit);
    if (!h || (!h.previous && !h.yearAgo)) continue;
    const found = checkPlausibility(rules, r.values, h);
    if (found.length) out.set(r.unit, found.map((f) => toWarning(f, r.row ?? null, opts)));
  }
  return out;
}
