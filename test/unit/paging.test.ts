// Long tables a page at a time (server/pages/paging.ts): which rows a `page` parameter shows, and the pager's links.
import { expect } from 'chai';
import { pagerLocals, pageWith, paging, tablePage } from '../../server/pages/paging.ts';

describe('table pages', () => {
  afterEach(() => (paging.rows = 1000));

  it('a page parameter gives rows start … end; out of range the nearest page; anything else the fallback', () => {
    paging.rows = 10;
    expect(tablePage('2', 25)).to.deep.equal({ page: 2, pages: 3, start: 10, end: 20, size: 25 });
    expect(tablePage('3', 25)).to.include({ start: 20, end: 25 });
    expect(tablePage('999999999', 25)).to.include({ page: 3 });
    expect(tablePage('0', 25)).to.include({ page: 1 });
    for (const raw of [undefined, '', 'abc', '1e1', '-2', '2.5', ['2'], ' 2']) expect(tablePage(raw, 25, 2).page, String(raw)).to.equal(2);
    expect(tablePage(undefined, 25, 7).page).to.equal(3); // a fallback beyond the end: the last page
    expect(tablePage('1', 0)).to.deep.equal({ page: 1, pages: 1, start: 0, end: 0, size: 0 });
    expect([pageWith(0), pageWith(9), pageWith(10), pageWith(-1)]).to.deep.equal([1, 1, 2, 1]);
  });

  it('the pager keeps the other parameters, links only where there is a page to go to, and is absent for one page', () => {
    paging.rows = 10;
    const mid = pagerLocals(tablePage('2', 25), '/ranking', { period: '2026Q3', category: 'county', sort: undefined, dir: '' })!;
    expect(mid).to.include({ first: '/ranking?period=2026Q3&category=county&page=1', prev: '/ranking?period=2026Q3&category=county&page=1', next: '/ranking?period=2026Q3&category=county&page=3', last: '/ranking?period=2026Q3&category=county&page=3' });
    expect(mid.hidden).to.deep.equal([{ name: 'period', value: '2026Q3' }, { name: 'category', value: 'county' }]);
    expect(mid.text).to.equal('第 2 / 3 页，第 11–20 行（共 25 个单位，每页 10 个）');
    const first = pagerLocals(tablePage('1', 25), '/annual', { year: '2026' })!;
    expect([first.first, first.prev, first.next]).to.deep.equal([null, null, '/annual?year=2026&page=2']);
    expect(pagerLocals(tablePage('1', 10), '/annual', {})).to.equal(null);
  });
});
