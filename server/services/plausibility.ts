// The plausibility rule set as data (异常提示规则, issue 14 item 3): stored and versioned like the scheme
// (v1 stored from DEFAULT_PLAUSIBILITY_RULES at start-up, server/boot.ts — never by a read: until it is
// stored, reads answer the defaults as v1; an edit inserts version n+1, audited), and
// the check every intake path runs: a return's values against the unit's previous quarter and the
// same quarter a year before → warnings in the SPEC §7 shape, kept on the revision.
//
// History: for each comparison base, the unit's latest revision of that quarter when it is usable
// (SPEC §3: the latest revision, unless it was rejected — then the unit had no usable return and there
// is nothing to compare with). A quarter that was never opened has no history.
//
// Note: services/returns.ts calls plausibilityWarnings and this module reads returns through
// latestReturns — a cycle of function references only (nothing is called at import time).
import { clock } from '../clock.ts';
import { conflict, notFound } from '../domain/errors.ts';
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
import { audit, isDuplicateKey, type Actor } from './audit.ts';
import { findPeriod } from './periods.ts';
import { latestReturns, type RevisionWarning } from './returns.ts';

export interface RulesRecord {
  version: number;
  rules: PlausibilityRules;
  note: string;
  createdBy: string;
  createdAt: Date;
}

type RulesDoc = { version: number; definition: unknown; note?: string | null; createdBy: string; createdAt: Date };

function toRecord(doc: RulesDoc): RulesRecord {
  return { version: doc.version, rules: rulesFromStored(doc.definition, doc.version), note: doc.note ?? '', createdBy: doc.createdBy, createdAt: doc.createdAt };
}

const DEFAULT_NOTE = '默认规则';

/** Stores v1 from DEFAULT_PLAUSIBILITY_RULES when none is stored (start-up, and before a save). Idempotent. */
export async function ensureDefaultRules(): Promise<void> {
  if (await PlausibilityRuleSet.exists({ version: 1 })) return;
  try {
    await PlausibilityRuleSet.create({ version: 1, definition: cloneRules(DEFAULT_PLAUSIBILITY_RULES), note: DEFAULT_NOTE, createdBy: 'system', createdAt: clock.now() });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
}

/** v1 as {@link ensureDefaultRules} stores it, for a read that comes before it was stored (reads never write). */
function defaultRecord(): RulesRecord {
  return toRecord({ version: 1, definition: cloneRules(DEFAULT_PLAUSIBILITY_RULES), note: DEFAULT_NOTE, createdBy: 'system', createdAt: clock.now() });
}

async function latestDoc(): Promise<RulesDoc | null> {
  return (await PlausibilityRuleSet.collection.findOne({}, { sort: { version: -1 } })) as RulesDoc | null;
}

/** The rule set in force: the latest stored version (the defaults as v1 before any is stored). */
export async function currentRules(): Promise<RulesRecord> {
  const doc = await latestDoc();
  return doc ? toRecord(doc) : defaultRecord();
}

export async function listRuleVersions(): Promise<Omit<RulesRecord, 'rules'>[]> {
  const docs = await PlausibilityRuleSet.find({}, { version: 1, note: 1, createdBy: 1, createdAt: 1 }).sort({ version: -1 }).lean();
  if (!docs.length) {
    const { rules: _r, ...v1 } = defaultRecord();
    return [v1];
  }
  return docs.map((d) => ({ version: d.version, note: d.note ?? '', createdBy: d.createdBy, createdAt: d.createdAt }));
}

export async function ruleVersion(version: number): Promise<RulesRecord> {
  const doc = await PlausibilityRuleSet.findOne({ version }).lean();
  if (doc) return toRecord(doc as RulesDoc);
  if (version === 1 && !(await latestDoc())) return defaultRecord();
  throw notFound('plausibility_rules_not_found', `异常提示规则第 ${version} 版不存在`);
}

/**
 * Saves a draft as version n+1 (422 invalid_plausibility_rules with every problem listed; nothing
 * stored). `baseVersion`: the version the editor started from — 409 when another admin saved meanwhile.
 */
export async function saveRules(actor: Actor, draft: unknown, opts: { baseVersion?: number; note?: string } = {}): Promise<RulesRecord> {
  await ensureDefaultRules(); // v1 is stored before v2, so that every version a warning came from exists
  const current = await currentRules();
  if (opts.baseVersion !== undefined && opts.baseVersion !== current.version) {
    throw conflict('plausibility_rules_changed', `异常提示规则已被修改为第 ${current.version} 版，请刷新后重新编辑`);
  }
  const next = current.version + 1;
  const rules = assertValidRules(draft, current.rules, next);
  const note = (opts.note ?? '').trim().slice(0, 500);
  try {
    await PlausibilityRuleSet.create({ version: next, definition: rules, note, createdBy: actor.username, createdAt: clock.now() });
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict('plausibility_rules_changed', '异常提示规则刚被他人修改，请刷新后重新编辑');
    throw err;
  }
  await audit(actor, {
    action: 'plausibility.save',
    entity: 'plausibility_rules',
    entityId: String(next),
    before: { version: current.version, rules: current.rules.rules },
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

/** Each unit's usable return of `period` (latest revision unless rejected); empty when never opened. */
async function usableValues(period: string | null, units: readonly string[]): Promise<Map<string, ReturnValues>> {
  const out = new Map<string, ReturnValues>();
  if (!period || !units.length || !(await findPeriod(period))) return out;
  // Many units (a province's whole file): one read of the period instead of a huge $in list.
  const wanted = units.length > 1000 ? new Set(units) : null;
  for (const [unit, r] of await latestReturns(period, wanted ? undefined : units)) {
    if (r.latest.status !== 'rejected' && (!wanted || wanted.has(unit))) out.set(unit, r.latest.values);
  }
  return out;
}

/** The comparison bases of `period` for each unit: previous quarter and same quarter last year. */
export async function historyFor(period: string, units: readonly string[]): Promise<Map<string, PlausibilityHistory & { previousPeriod: string | null; yearAgoPeriod: string | null }>> {
  const prevP = previousQuarter(period);
  const yearP = yearAgoQuarter(period);
  const [prev, year] = await Promise.all([usableValues(prevP, units), usableValues(yearP, units)]);
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
 * upload, `opts` says where the rows came from: the sheet, and each field's column letter.
 */
export async function plausibilityWarnings(period: string, rows: readonly CheckedRow[], opts: SheetPlace = {}): Promise<Map<string, RevisionWarning[]>> {
  const out = new Map<string, RevisionWarning[]>();
  if (!rows.length) return out;
  const [{ rules }, history] = await Promise.all([currentRules(), historyFor(period, rows.map((r) => r.unit))]);
  for (const r of rows) {
    const h = history.get(r.unit);
    if (!h || (!h.previous && !h.yearAgo)) continue;
    const found = checkPlausibility(rules, r.values, h);
    if (found.length) out.set(r.unit, found.map((f) => toWarning(f, r.row ?? null, opts)));
  }
  return out;
}
