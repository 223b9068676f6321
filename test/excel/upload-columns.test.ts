// The parser's `columns`: each field's column letter in the uploaded sheet, from its header row
// (what an upload's plausibility warnings name, services/plausibility.ts). Fast tier: no server.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseReturnsWorkbook } from '../../server/excel/upload-parse.ts';
import { NAMES } from '../fixtures/build-plausibility-sources.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'xlsx', name));
const units = new Map(Object.entries(NAMES).map(([code, name]) => [code, { code, name }]));

describe('upload parser: the column of each field', () => {
  it('columns out of the template order (LibreOffice file: notes, name, code, the fields reversed)', async () => {
    const r = await parseReturnsWorkbook(fixture('lo-plausibility-columns.xlsx'), { units });
    expect(r.ok, JSON.stringify(r).slice(0, 300)).to.equal(true);
    if (!r.ok) return;
    expect(r.columns).to.deep.equal({
      duties_with_data: 'D', duties_total: 'E', requests_on_time: 'F', requests_received: 'G', catalogue_shared: 'H', catalogue_items: 'I',
      networks_standalone: 'J', networks_private: 'K', systems_cloud: 'L', systems_extranet: 'M', systems_total: 'N',
    });
  });

  it('the template order (LibreOffice file: code, name, the fields from C on)', async () => {
    const r = await parseReturnsWorkbook(fixture('lo-plausibility-previous.xlsx'), { units });
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(Object.values(r.columns)).to.deep.equal(['C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M']);
  });
});
