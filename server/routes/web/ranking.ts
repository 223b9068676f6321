import { Router } from 'express';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS, type UnitCategory } from '../../domain/fields.ts';
import { requireAuth } from '../../http/auth.ts';
import { numberFormat } from '../../http/view-helpers.ts';
import { naturalDir, periodOptions, ranking, resolvePeriod } from '../../services/dashboard.ts';
import { arrow, flagTags, periodQuery, q, STATUS_BADGE, viewerOf } from './_present.ts';

// 排名 (/ranking): one category of one period, sorted on the server (links work without JS).
export const router = Router();

// The table's numbers are formatted here, once per cell (same text as `{{formatNumber x digits=2}}`):
// per-cell helper calls dominated the page's CPU. '—' when absent.
const num2 = (x: number | null | undefined): string => (typeof x === 'number' && Number.isFinite(x) ? numberFormat(2).format(x) : '—');

router.get('/ranking', requireAuth, async (req, res) => {
  const v = viewerOf(req);
  const period = await resolvePeriod(v, q(req, 'period'));
  const rawCat = q(req, 'category');
  const category: UnitCategory = (UNIT_CATEGORIES as readonly string[]).includes(rawCat ?? '') ? (rawCat as UnitCategory) : 'department';
  const [r, periods] = await Promise.all([ranking(v, { period, category, sort: q(req, 'sort'), dir: q(req, 'dir') }), periodOptions(v)]);

  const link = (sort: string) => {
    const dir = r.sort === sort ? (r.dir === 'asc' ? 'desc' : 'asc') : naturalDir(sort);
    return `/ranking${periodQuery({ period, category, sort, dir })}`;
  };
  const col = (key: string, label: string, extra: Record<string, unknown> = {}) => ({
    key,
    label,
    href: link(key),
    sorted: r.sort === key,
    ariaSort: r.sort === key ? (r.dir === 'asc' ? 'ascending' : 'descending') : null,
    mark: r.sort === key ? (r.dir === 'asc' ? '↑' : '↓') : '',
    ...extra,
  });
  const columns = {
    rank: col('rank', '排名'),
    change: col('change', '变化'),
    code: col('code', '代码'),
    name: col('name', '单位'),
    total: col('total', '总分'),
    base: col('base', '基础分'),
    indicators: r.indicators.map((i) => col(i.id, i.id, { name: i.name, weight: i.weight })),
  };

  res.render('pages/ranking/index', {
    title: '排名',
    styles: ['/public/css/pages.css'],
    scripts: ['/public/js/pages.js'],
    r,
    badge: STATUS_BADGE[r.status],
    isFinal: r.status === 'final',
    columns,
    tabs: UNIT_CATEGORIES.map((c) => ({
      label: UNIT_CATEGORY_LABELS[c],
      count: r.counts[c],
      href: `/ranking${periodQuery({ period, category: c, sort: r.sort === 'rank' ? undefined : r.sort, dir: r.sort === 'rank' ? undefined : r.dir })}`,
      current: c === category,
    })),
    catLabel: UNIT_CATEGORY_LABELS[category],
    periods: periods.map((p) => ({ ...p, selected: p.period === period, statusText: p.status === 'final' ? '已发布' : p.status === 'provisional' ? '暂定' : '无结果' })),
    category,
    rows: r.rows.map((row) => ({
      unit: row.unit,
      name: row.name,
      rank: row.rank,
      grade: row.grade,
      visible: row.visible,
      arrow: arrow(row.rankChange),
      tags: flagTags(row.flags),
      own: v.role === 'reporter' && row.unit === v.unit,
      fail: row.grade === '不合格',
      totalText: num2(row.total),
      baseText: num2(row.base),
      deductionsText: row.deductions ? `−${num2(row.deductions)}` : '0',
      scores: r.indicators.map((i) => {
        const ind = row.indicators[i.id];
        return ind?.applicable ? { applicable: true, text: num2(ind.score) } : { applicable: false, text: '' };
      }),
    })),
    sheetHref: v.role === 'reporter' ? null : `/api/v1/results/${period}/sheet.xlsx`,
    ownSheetHref: v.role === 'reporter' && v.unit ? `/api/v1/results/${period}/units/${v.unit}/sheet.xlsx` : null,
  });
});
