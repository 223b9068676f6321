import { Router } from 'express';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { GRADES } from '../../domain/scoring/scheme.ts';
import { requireAuth } from '../../http/auth.ts';
import { parseScope, periodOptions, resolvePeriod } from '../../pages/common.ts';
import { hasPublished, overview, ownUnitStatus } from '../../pages/overview.ts';
import {
  arrow,
  countDelta,
  flagTags,
  GRADE_COLORS,
  PALETTE,
  percent,
  pointsDelta,
  q,
  STATUS_BADGE,
  viewerOf,
  type ChartSpec,
} from './_present.ts';

// 总览 (/): the province at a glance for one period. Mounted by server/app.ts at /.
export const router = Router();

router.get('/', requireAuth, async (req, res) => {
  const v = viewerOf(req);
  if (v.role === 'reporter' && !q(req, 'period') && !(await hasPublished())) {
    // Nothing published yet: a reporter sees its own unit only.
    const own = await ownUnitStatus(v);
    return res.render('pages/dashboard/empty', { title: '总览', styles: ['/public/css/pages.css'], own });
  }
  const period = await resolvePeriod(v, q(req, 'period'));
  const scope = parseScope(q(req, 'scope'));
  const [o, periods] = await Promise.all([overview(v, period, scope), periodOptions(v)]);

  const labels = o.trend.map((t) => t.period);
  const prev = o.trend.length >= 2 && o.trend.at(-1)!.period === o.period ? o.trend.at(-2)! : null;
  const f = o.figures;
  const kpis = [
    {
      label: '参评单位',
      value: `${o.assessed}`,
      unit: `/ ${f.units} 个`,
      note: `已报送可用报表 ${f.reported} 个`,
      delta: null,
    },
    { label: '信息系统', value: f.systems.toLocaleString('zh-CN'), unit: '个', note: `已接入外网 ${f.systemsExtranet.toLocaleString('zh-CN')} 个`, delta: prev ? countDelta(f.systems, prev.systems) : null },
    { label: '电子政务外网接入率', value: percent(f.extranetRate), unit: '', note: '已接入外网的系统 ÷ 信息系统', delta: prev ? pointsDelta(f.extranetRate, prev.extranetRate) : null },
    { label: '仍独立运行的业务专网', value: f.standaloneLeft.toLocaleString('zh-CN'), unit: '个', note: `业务专网共 ${f.networksPrivate} 个`, delta: prev ? countDelta(f.standaloneLeft, prev.standaloneLeft, true) : null },
    { label: '数据目录共享率', value: percent(f.catalogueRate), unit: '', note: `编目 ${f.catalogueItems.toLocaleString('zh-CN')} 条`, delta: prev ? pointsDelta(f.catalogueRate, prev.catalogueRate) : null },
    { label: '共享申请按时响应率', value: percent(f.responseRate), unit: '', note: `收到申请 ${f.requestsReceived.toLocaleString('zh-CN')} 件`, delta: prev ? pointsDelta(f.responseRate, prev.responseRate) : null },
  ];

  const ratesChart: ChartSpec = {
    type: 'line',
    labels,
    percent: true,
    min: 0,
    max: 1,
    datasets: [
      { label: '外网接入率', data: o.trend.map((t) => t.extranetRate), color: PALETTE.blue },
      { label: '目录共享率', data: o.trend.map((t) => t.catalogueRate), color: PALETTE.green },
      { label: '申请按时响应率', data: o.trend.map((t) => t.responseRate), color: PALETTE.orange },
      { label: '政务云部署率', data: o.trend.map((t) => t.cloudRate), color: PALETTE.purple },
    ],
  };
  const networksChart: ChartSpec = {
    type: 'bar',
    labels,
    yTitle: '个',
    y2Title: '平均分',
    datasets: [
      { label: '仍独立运行的业务专网（个）', data: o.trend.map((t) => t.standaloneLeft), color: PALETTE.red },
      { label: '平均总分', data: o.trend.map((t) => t.averageTotal), color: PALETTE.teal, type: 'line', axis: 'y2' },
    ],
  };
  const gradeNames = [...GRADES, '未评定'] as const;
  const gradesChart: ChartSpec = {
    type: 'bar',
    horizontal: true,
    stacked: true,
    labels: o.grades.map((g) => g.label),
    datasets: gradeNames.map((g) => ({
      label: g,
      data: o.grades.map((d) => (g === '未评定' ? d.unrated : d.counts[g])),
      color: GRADE_COLORS[g]!,
    })),
  };

  const board = (list: typeof o.boards[number]['top']) =>
    list.map((e) => ({ ...e, arrow: arrow(e.rankChange), tags: flagTags(e.flags) }));

  res.render('pages/dashboard/index', {
    title: '总览',
    styles: ['/public/css/pages.css'],
    scripts: ['/vendor/chart.js/chart.umd.min.js', '/public/js/charts.js', '/public/js/pages.js'],
    o,
    badge: STATUS_BADGE[o.status],
    periods: periods.map((p) => ({ ...p, selected: p.period === o.period, statusText: p.status === 'final' ? '已发布' : p.status === 'provisional' ? '暂定' : '无结果' })),
    scopes: [{ value: 'all', label: '全部单位' }, ...UNIT_CATEGORIES.map((c) => ({ value: c, label: UNIT_CATEGORY_LABELS[c] }))].map((s) => ({ ...s, selected: s.value === scope })),
    scopeLabel: scope === 'all' ? '全部单位' : UNIT_CATEGORY_LABELS[scope],
    kpis,
    trendRows: o.trend.map((t) => ({
      period: t.period,
      statusText: t.status === 'final' ? '已发布' : '暂定',
      extranet: percent(t.extranetRate),
      catalogue: percent(t.catalogueRate),
      response: percent(t.responseRate),
      cloud: percent(t.cloudRate),
      standalone: t.standaloneLeft,
      average: t.averageTotal,
      reported: t.reported,
    })),
    ratesChart,
    networksChart,
    gradesChart,
    gradeNames,
    gradeRows: o.grades.map((g) => ({ label: g.label, cells: gradeNames.map((n) => (n === '未评定' ? g.unrated : g.counts[n])), ranked: g.ranked })),
    boards: o.boards.map((b) => ({ ...b, top: board(b.top), bottom: board(b.bottom) })),
    progress: o.progress
      ? { ...o.progress, percentText: percent(o.progress.rate), value: o.progress.submitted, max: o.progress.units }
      : null,
    own: o.own ? { ...o.own, arrow: arrow(o.own.row?.rankChange ?? null), tags: flagTags(o.own.row?.flags ?? []) } : null,
    isReporter: v.role === 'reporter',
    sheetHref: v.role === 'reporter' ? null : `/api/v1/results/${o.period}/sheet.xlsx`,
  });
});
