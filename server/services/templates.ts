// The returns template of a period (SPEC §6), for all active units or one; built by server/excel/template.ts.
import { notFound } from '../domain/errors.ts';
import { getPeriod, timeZone } from './periods.ts';
import { getUnit, listUnits } from './units.ts';

export async function templateFor(period: string, unit?: string): Promise<{ buffer: Buffer; fileName: string }> {
  const p = await getPeriod(period);
  let units;
  if (unit) {
    const u = await getUnit(unit);
    if (!u) throw notFound('unit_not_found', `单位「${unit}」不存在`);
    units = [u];
  } else {
    units = await listUnits({ activeOnly: true });
  }
  // Loaded lazily: the template module belongs to the Excel work.
  const spec = '../excel/template.ts';
  const mod = (await import(spec)) as unknown as {
    buildTemplate(opts: { period: string; deadline: Date; timeZone: string; units: { code: string; name: string; category?: string }[] }): Promise<Buffer | Uint8Array | ArrayBuffer>;
  };
  const out = await mod.buildTemplate({ period, deadline: new Date(p.deadline), timeZone: timeZone(), units: units.map((u) => ({ code: u.code, name: u.name, category: u.category })) });
  const buffer = Buffer.isBuffer(out) ? out : Buffer.from(out as ArrayBuffer);
  return { buffer, fileName: unit ? `${period}_${unit}_填报模板.xlsx` : `${period}_填报模板.xlsx` };
}
