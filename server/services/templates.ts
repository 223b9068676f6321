// The returns template of a period (SPEC §6), for all active units or one; built by server/excel/template.ts.
import { notFound } from '../domain/errors.ts';
import { buildTemplate } from '../excel/template.ts';
import { getPeriod, timeZone } from './periods.ts';
import { getUnit, listUnits, type UnitView } from './units.ts';

export async function templateFor(period: string, unit?: string): Promise<{ buffer: Buffer; fileName: string }> {
  const p = await getPeriod(period);
  let units: UnitView[];
  if (unit) {
    const u = await getUnit(unit);
    if (!u) throw notFound('unit_not_found', `单位「${unit}」不存在`);
    units = [u];
  } else {
    units = await listUnits({ activeOnly: true });
  }
  const buffer = await buildTemplate({ period, deadline: new Date(p.deadline), timeZone: timeZone(), units: units.map((u) => ({ code: u.code, name: u.name })) });
  return { buffer, fileName: unit ? `${period}_${unit}_填报模板.xlsx` : `${period}_填报模板.xlsx` };
}
