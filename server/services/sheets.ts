// Inputs of the assessment workbooks (考核表, SPEC §6/§7): the data of a period gathered once, in the
// shape server/excel/workbook.ts takes. The routes in server/routes/api/sheets.ts and the export
// benchmark (bench/step.ts) both call these, so what is measured is what is served.
import { clock } from '../clock.ts';
import { notFound } from '../domain/errors.ts';
import type { AssessmentWorkbookInput, CaseRow, IndicatorDef, ReturnRow, UnitWorkbookInput } from '../excel/workbook.ts';
import { listCases } from './accountability.ts';
import { assertQuarter, timeZone } from './periods.ts';
import { latestRevision, streamPeriodReturns, type RevisionView } from './returns.ts';
import { schemeVersion } from './scheme.ts';
import { explainUnit, getResults, readSet } from '../results/read.ts';
import { streamRows } from '../results/store.ts';
import type { FieldKey, ReturnValues, UnitCategory } from '../domain/fields.ts';
import { improvePath, suggestionText } from '../domain/scoring/improve.ts';
import { compareCodes } from '../domain/scoring/ranking.ts';
import { getUnit } from './units.ts';

/** The indicators of a scheme version, in order (the workbook's indicator columns). */
export async function indicatorsOf(version: number): Promise<IndicatorDef[]> {
  const s = (await schemeVersion(version)).scheme;
  return s.indicators.map((i) => ({ id: i.id, name: i.name, weight: i.weight }));
}

function returnRow(unit: string, name: string | undefined, r: RevisionView | null): ReturnRow | null {
  if (!r) return null;
  return {
    unit,
    name,
    revision: r.revision,
    values: r.values,
    status: r.status,
    late: r.late,
    submittedAt: r.submittedAt,
    submittedBy: r.submittedBy,
    source: r.source,
  };
}

/**
 * The period workbook's input: every unit's result (ranking sheet), the latest visible revision of
 * every unit that has one (returns sheet, by unit code) and the period's cases. 404 period_not_open for a
 * period never opened. The results and returns are cursors over the current snapshot and the period's
 * revisions, read while the workbook is written (one pass: write it once): a period of any size is
 * never held in memory. The pointer is read here, so that a missing snapshot fails before any byte.
 */
export async function assessmentSheetInput(period: string): Promise<AssessmentWorkbookInput> {
  assertQuarter(period);
  const set = await readSet(period);
  const [cases, indicators] = await Promise.all([listCases({ period }), indicatorsOf(set.schemeVersion)]);
  async function* returns(): AsyncGenerator<ReturnRow> {
    // The name is the one of the unit's result row (the workbook fills it in), as before.
    for await (const r of streamPeriodReturns(period)) yield returnRow(r.unit, undefined, r.latest)!;
  }
  const caseRows: CaseRow[] = cases.map((c) => ({ ...c, name: undefined }));
  return {
    period,
    status: set.status,
    schemeVersion: set.schemeVersion,
    generatedAt: clock.now(),
    timeZone: timeZone(),
    indicators,
    results: streamRows(period, set.computeId),
    returns: returns(),
    cases: caseRows,
  };
}

/**
 * The unit's 提分路径 for its sheet: its explanation's values (what was scored) re-scored with the scheme
 * version of the results among its category's other ranked totals. null when it is not scored.
 */
async function improveOfUnit(period: string, code: string, all: Awaited<ReturnType<typeof getResults>>): Promise<UnitWorkbookInput['improve']> {
  const row = all.results.find((r) => r.unit === code);
  if (!row || row.total === null) return null;
  const ex = await explainUnit(period, code).catch(() => null);
  if (!ex || ex.status !== 'scored') return null;
  const values = {} as Record<FieldKey, number>;
  for (const i of ex.indicators) for (const x of i.inputs) values[x.field] = x.value;
  const others = all.results.filter((r) => r.category === row.category && r.unit !== code && r.total !== null && r.rank !== null).map((r) => ({ unit: r.unit, total: r.total! }));
  const scheme = (await schemeVersion(all.schemeVersion)).scheme;
  const path = improvePath(scheme, { unit: code, category: row.category as UnitCategory, values: values as ReturnValues, late: ex.deductions.some((d) => d.rule === 'late') }, { deadlinePassed: true, others });
  const now = path.total === null ? '本期不评分' : `当前 ${path.total.toFixed(2)} 分（${path.grade}）`;
  return { heading: path.target ? `${now}，目标：${path.target}` : now, lines: path.suggestions.map(suggestionText), note: path.note };
}

/** The single-unit sheet's input. 404 when the unit or its result does not exist. */
export async function unitSheetInput(period: string, code: string): Promise<{ input: UnitWorkbookInput; unitName: string }> {
  assertQuarter(period);
  const unit = await getUnit(code);
  if (!unit) throw notFound('unit_not_found', `单位「${code}」不存在`);
  const all = await getResults(period);
  const result = all.results.find((r) => r.unit === code);
  if (!result) throw notFound('result_not_found', `${period} 期没有单位 ${code} 的考核结果`);
  const [latest, cases, indicators, improve] = await Promise.all([latestRevision(period, code), listCases({ period, unit: code }), indicatorsOf(all.schemeVersion), improveOfUnit(period, code, all)]);
  return {
    unitName: unit.name,
    input: {
      period,
      status: all.status,
      schemeVersion: all.schemeVersion,
      generatedAt: clock.now(),
      timeZone: timeZone(),
      indicators,
      result,
      rankedInCategory: all.results.filter((r) => r.category === result.category && r.rank !== null).length,
      returnRow: returnRow(code, unit.name, latest),
      cases: cases.map((c) => ({ ...c, name: unit.name })),
      improve,
    },
  };
}
