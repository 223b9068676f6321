// A staged (web preview) batch keeps its rows with their warnings in one document until the user
// confirms; past the size a document can hold, the upload is refused whole with a clear 413.
import { expect } from 'chai';
import { AppError } from '../../server/domain/errors.ts';
import { assertStageable, type ParsedUpload } from '../../server/services/uploads.ts';
import { vals } from './helpers.ts';

describe('web preview: a staged batch that would not fit one document is refused', () => {
  const warning = { sheet: '填报', row: 3, column: 'N', field: 'systems_total', message: '「信息系统总数」为 120，上季度（2026Q2）为 30，增至 4 倍，请核实' };
  const parsed = (n: number): ParsedUpload => {
    const rows = Array.from({ length: n }, (_, i) => ({ unit: `D${i}`, row: i + 3, values: vals(i), warnings: Array.from({ length: 6 }, () => warning) }));
    return { rows, warnings: rows.flatMap((r) => r.warnings) } as ParsedUpload;
  };

  it('passes under the limit; past it throws 413 preview_too_large in Chinese, naming rows and warnings', () => {
    expect(() => assertStageable(parsed(10), 1 << 20)).not.to.throw();
    let err: unknown;
    try {
      assertStageable(parsed(1000), 1 << 20);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(AppError);
    expect((err as AppError).status).to.equal(413);
    expect((err as AppError).code).to.equal('preview_too_large');
    expect((err as AppError).message).to.contain('1000 行、6000 条异常提示');
  });

  it('the default limit leaves room below MongoDB\'s 16 MiB document limit for a 20 000-row sheet without warnings', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ unit: `D${i}`, row: i + 3, values: vals(i) }));
    expect(() => assertStageable({ rows, warnings: [] } as ParsedUpload)).not.to.throw();
    expect(() => assertStageable(parsed(12_000))).to.throw(AppError);
  });
});
