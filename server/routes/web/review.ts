import { Router, type Request } from 'express';
import { clock } from '../../clock.ts';
import { AppError, badRequest } from '../../domain/errors.ts';
import { FIELD_KEYS, FIELD_LABELS, UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { issueTable } from '../../domain/issues.ts';
import { FLAG_LABELS, RETURN_STATUS_LABELS, SOURCE_LABELS } from '../../domain/vocabulary.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { auditTrail } from '../../services/audit.ts';
import { assertQuarter, assertUnpublished, getPeriod, listPeriods, type PeriodView } from '../../services/periods.ts';
import { collectingPeriod } from '../../pages/common.ts';
import { periodReturns, reviewReturn, revisionsOf, type RevisionView, type Submitter } from '../../services/returns.ts';
import { evidenceOf } from '../../services/attachments.ts';
import { historyFor } from '../../services/plausibility.ts';
import { listUploads, RATIOS } from '../../services/uploads.ts';
import { getUnit, listUnits, type UnitView } from '../../services/units.ts';

// Reviewer pages: the submission board of a period and the review of one return. Mounted at /.
//
// The board's filters (state, 有异常提示) travel with every link and form of the review pages, so a
// decision comes back to the same view: from the board, back to the board; from the detail page, on
// to the next pending return (待审核) matching the filters ("下一条待审"), in board order (unit code),
// after the one just decided and wrapping round; the board when none is left.
export const router = Router();

const STYLES = ['/public/css/intake.css', '/public/css/review.css'];
const STATE_LABEL: Record<string, string> = { ...RETURN_STATUS_LABELS, missing: FLAG_LABELS.missing, pending: FLAG_LABELS.pending };
const SOURCE_LABEL: Readonly<Record<string, string>> = SOURCE_LABELS;

// ---- filters ----

const STATE_FILTERS = ['', 'submitted', 'approved', 'rejected', 'late', 'missing'] as const;
const WARN_FILTERS = ['', 'yes', 'no'] as const;
type StateFilter = (typeof STATE_FILTERS)[number];
type WarnFilter = (typeof WARN_FILTERS)[number];
interface BoardFilter {
  state: StateFilter;
  warn: WarnFilter;
}

/** The filters of a query or a form body; anything else is ignored (they end up in redirect URLs). */
function filterOf(src: Record<string, unknown>): BoardFilter {
  const state = typeof src.state === 'string' && (STATE_FILTERS as readonly string[]).includes(src.state) ? (src.state as StateFilter) : '';
  const warn = typeof src.warn === 'string' && (WARN_FILTERS as readonly string[]).includes(src.warn) ? (src.warn as WarnFilter) : '';
  return { state, warn };
}

/** `&state=…&warn=…` for the non-empty filters ('' for none). */
function filterQuery(f: BoardFilter): string {
  return `${f.state ? `&state=${f.state}` : ''}${f.warn ? `&warn=${f.warn}` : ''}`;
}

const boardUrl = (period: string, f: BoardFilter) => `/review?period=${period}${filterQuery(f)}`;
const detailUrl = (period: string, unit: string, f: BoardFilter) => {
  const q = filterQuery(f).slice(1);
  return `/review/${period}/${encodeURIComponent(unit)}${q ? `?${q}` : ''}`;
};

// ---- the board ----

interface BoardRow {
  unit: UnitView;
  categoryLabel: string;
  state: string;
  stateLabel: string;
  latest: RevisionView | null;
  late: boolean;
  warnings: number;
}

async function boardOf(period: string): Promise<{ per: PeriodView; rows: BoardRow[]; past: boolean }> {
  const [per, units, returns] = await Promise.all([getPeriod(period), listUnits({ activeOnly: true }), periodReturns(period)]);
  const past = Date.parse(per.deadline) < clock.now().getTime();
  const rows = units.map((u) => {
    const r = returns.get(u.code);
    const state = r ? r.latest.status : past ? 'missing' : 'pending';
    return {
      unit: u,
      categoryLabel: UNIT_CATEGORY_LABELS[u.category],
      state,
      stateLabel: STATE_LABEL[state]!,
      latest: r?.latest ?? null,
      late: r?.latest.late ?? false,
      warnings: r?.latest.warnings.length ?? 0,
    };
  });
  return { per, rows, past };
}

function matches(x: BoardRow, f: BoardFilter): boolean {
  if (f.state === 'late' && !x.late) return false;
  if (f.state === 'missing' && !(x.state === 'missing' || x.state === 'pending')) return false;
  if (f.state !== '' && f.state !== 'late' && f.state !== 'missing' && x.state !== f.state) return false;
  if (f.warn === 'yes' && !x.warnings) return false;
  if (f.warn === 'no' && (x.warnings || !x.latest)) return false;
  return true;
}

/** The next pending return matching `f` after `unit` in board order (wrapping round), or null. */
function nextPending(rows: readonly BoardRow[], f: BoardFilter, unit: string): string | null {
  const pending = rows.filter((x) => x.state === 'submitted' && x.unit.code !== unit && matches(x, f));
  return (pending.find((x) => x.unit.code > unit) ?? pending[0])?.unit.code ?? null;
}

router.get('/review', requireRole('reviewer', 'admin'), async (req, res) => {
  const requested = typeof req.query.period === 'string' && req.query.period ? req.query.period : await collectingPeriod();
  if (!requested) throw new AppError(404, 'period_not_open', '尚未开放任何考核期次，请管理员在“期次管理”中开放');
  const period = assertQuarter(requested);
  const f = filterOf(req.query as Record<string, unknown>);
  const [{ per, rows: all, past }, periods] = await Promise.all([boardOf(period), listPeriods()]);
  const count = (g: BoardFilter) => all.filter((x) => matches(x, g)).length;
  const stateFilters = [
    { key: '', label: '全部' },
    { key: 'submitted', label: '待审核' },
    { key: 'approved', label: '已通过' },
    { key: 'rejected', label: '已退回' },
    { key: 'late', label: '逾期' },
    { key: 'missing', label: past ? '未报送' : '待报送' },
  ].map((x) => {
    const g = { ...f, state: x.key as StateFilter };
    return { ...x, label: `${x.label} ${count({ state: g.state, warn: '' })}`, active: x.key === f.state, href: boardUrl(period, g) };
  });
  const warnFilters = [
    { key: '', label: '不限' },
    { key: 'yes', label: '有异常提示' },
    { key: 'no', label: '无异常提示' },
  ].map((x) => {
    const g = { ...f, warn: x.key as WarnFilter };
    return { ...x, label: `${x.label} ${count(g)}`, active: x.key === f.warn, href: boardUrl(period, g) };
  });
  const rows = all.filter((x) => matches(x, f)).map((x) => ({ ...x, href: detailUrl(period, x.unit.code, f) }));
  const bulkable = rows.filter((x) => x.state === 'submitted' && !x.warnings).length;
  res.render('pages/review/board', {
    title: `${period} 报送审核`,
    styles: STYLES,
    period: per,
    periods,
    rows,
    filter: f,
    stateFilters,
    warnFilters,
    past,
    bulkable,
    pendingCount: rows.filter((x) => x.state === 'submitted').length,
  });
});

/**
 * 批量审核通过: the picked rows (`pick` = CODE:REVISION) or every pending row matching the filters
 * (`scope=filtered`), each approved on its own (one audited review each). Rows with warnings, rows not
 * pending any more and rows with a newer revision than the one shown are refused and reported.
 */
router.post('/review/:period', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const b = (req.body ?? {}) as Record<string, unknown>;
  const f = filterOf(b);
  const back = boardUrl(period, f);
  try {
    await assertUnpublished(period);
    const { rows } = await boardOf(period);
    const byCode = new Map(rows.map((x) => [x.unit.code, x]));
    let targets: { code: string; revision: number | null }[];
    if (b.scope === 'filtered') {
      targets = rows.filter((x) => x.state === 'submitted' && matches(x, f)).map((x) => ({ code: x.unit.code, revision: x.latest!.revision }));
    } else {
      const picks = (Array.isArray(b.pick) ? b.pick : b.pick === undefined ? [] : [b.pick]).filter((x): x is string => typeof x === 'string').slice(0, 5000);
      targets = [...new Set(picks)].map((s) => {
        const i = s.lastIndexOf(':');
        const rev = i > 0 ? Number(s.slice(i + 1)) : NaN;
        return { code: i > 0 ? s.slice(0, i) : s, revision: Number.isInteger(rev) && rev > 0 ? rev : null };
      });
    }
    if (!targets.length) throw badRequest('nothing_selected', b.scope === 'filtered' ? '筛选结果中没有待审核的报送' : '请先勾选要批量通过的报送');
    const done: string[] = [];
    const refused: string[] = [];
    const who: Submitter = { username: p.username, role: p.role };
    for (const t of targets) {
      const row = byCode.get(t.code);
      if (!row || !row.latest) refused.push(`${t.code}（未报送）`);
      else if (row.state !== 'submitted') refused.push(`${t.code}（${row.stateLabel}，无需再审）`);
      else if (row.warnings) refused.push(`${t.code}（有 ${row.warnings} 条异常提示，请逐条审核）`);
      else {
        try {
          const r = await reviewReturn(who, period, t.code, { decision: 'approve', revision: t.revision ?? row.latest.revision });
          done.push(`${t.code} 第 ${r.revision} 版`);
        } catch (err) {
          if (!(err instanceof AppError) || err.status >= 500) throw err;
          refused.push(`${t.code}（${err.message}）`);
        }
      }
    }
    const list = (xs: string[]) => (xs.length > 20 ? `${xs.slice(0, 20).join('、')} 等` : xs.join('、'));
    const text = `批量审核通过 ${done.length} 条${done.length ? `：${list(done)}` : ''}${refused.length ? `；未通过 ${refused.length} 条：${list(refused)}` : ''}`;
    setFlash(req, refused.length ? 'error' : 'ok', text);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
  res.redirect(303, back);
});

// ---- one return ----

router.get('/review/:period/:unit', requireRole('reviewer', 'admin'), async (req, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  const f = filterOf(req.query as Record<string, unknown>);
  const unit = await getUnit(code);
  if (!unit) throw new AppError(404, 'unit_not_found', `单位「${code}」不存在`);
  const [per, revs, uploads, trail, history, board] = await Promise.all([
    getPeriod(period),
    revisionsOf(period, code),
    listUploads({ username: p.username, role: p.role }, period, code),
    auditTrail('return', `${period}/${code}`),
    historyFor(period, [code]),
    boardOf(period),
  ]);
  const latest = revs[revs.length - 1] ?? null;
  const evidence = latest ? await evidenceOf(period, code, latest.revision) : [];
  const previous = revs.length > 1 ? revs[revs.length - 2]! : null;
  const h = history.get(code)!;
  const prevQ = h.previous ?? null;
  const yearQ = h.yearAgo ?? null;
  const warned = new Set((latest?.warnings ?? []).map((w) => w.field).filter((x): x is string => !!x));
  const fields = FIELD_KEYS.map((k) => ({
    key: k,
    label: FIELD_LABELS[k],
    value: latest?.values[k] ?? null,
    previous: previous?.values[k] ?? null,
    changed: !!previous && previous.values[k] !== latest?.values[k],
    lastQuarter: prevQ ? prevQ.values[k] : null,
    yearAgo: yearQ ? yearQ.values[k] : null,
    warned: warned.has(k),
  }));
  const ratio = (r: (typeof RATIOS)[number], v: { values: Parameters<(typeof RATIOS)[number]['value']>[0] } | null) => (v ? r.value(v.values) : null);
  const ratios = latest
    ? RATIOS.map((r) => ({ name: `${r.id} ${r.name}`, value: r.value(latest.values), previous: ratio(r, previous), lastQuarter: ratio(r, prevQ), yearAgo: ratio(r, yearQ) }))
    : [];
  const next = nextPending(board.rows, f, code);
  res.render('pages/review/detail', {
    title: `${period} · ${unit.name} · 审核`,
    styles: STYLES,
    period: per,
    unit,
    latest,
    warningLines: issueTable([], latest?.warnings ?? []),
    stateLabel: latest ? STATE_LABEL[latest.status] : null,
    canDecide: !!latest && per.status === 'open',
    previous,
    prevPeriod: h.previousPeriod,
    yearPeriod: h.yearAgoPeriod,
    hasLastQuarter: !!prevQ,
    hasYearAgo: !!yearQ,
    fields,
    ratios,
    filter: f,
    boardHref: boardUrl(period, f),
    nextHref: next ? detailUrl(period, next, f) : null,
    nextUnit: next,
    history: [...revs].reverse().map((r) => ({ ...r, stateLabel: STATE_LABEL[r.status], sourceLabel: SOURCE_LABEL[r.source] })),
    uploads,
    evidence,
    trail: [...trail].reverse().map((e) => ({
      at: e.at,
      actor: e.actor,
      what: e.action.startsWith('return.evidence')
        ? `${e.action === 'return.evidence' ? '上传' : '沿用上一版'}第 ${(e.after as { revision?: number })?.revision ?? '?'} 版的佐证材料`
        : e.action === 'return.review'
        ? `${(e.after as { review?: { decision?: string; reason?: string } })?.review?.decision === 'reject' ? '退回' : '审核通过'}第 ${(e.after as { revision?: number })?.revision ?? '?'} 版${(e.after as { review?: { reason?: string } })?.review?.reason ? `：${(e.after as { review: { reason: string } }).review.reason}` : ''}`
        : `提交第 ${(e.after as { revision?: number })?.revision ?? '?'} 版（${SOURCE_LABEL[(e.after as { source?: string })?.source ?? ''] ?? ''}）`,
    })),
  });
});

/**
 * Approve or reject one return. `from=board`: back to the board with its filters; otherwise on to the
 * next pending return matching the filters (the board when there is none). A refusal (no reason, a
 * newer revision…) goes back to the page it came from, filters kept.
 */
router.post('/review/:period/:unit', requireRole('reviewer', 'admin'), async (req: Request, res) => {
  const p = principalOf(req);
  const period = assertQuarter(req.params.period);
  const code = String(req.params.unit);
  const b = (req.body ?? {}) as Record<string, unknown>;
  const f = filterOf(b);
  const fromBoard = b.from === 'board';
  try {
    const r = await reviewReturn({ username: p.username, role: p.role }, period, code, { decision: b.decision, reason: b.reason, revision: b.revision });
    const done = r.status === 'rejected' ? `已退回 ${code} 第 ${r.revision} 版，已通知该单位` : `已审核通过 ${code} 第 ${r.revision} 版`;
    if (fromBoard) {
      setFlash(req, 'ok', done);
      return res.redirect(303, boardUrl(period, f));
    }
    const next = nextPending((await boardOf(period)).rows, f, code);
    setFlash(req, 'ok', next ? `${done}。下一条待审：${next}` : `${done}。筛选范围内已没有待审核的报送`);
    res.redirect(303, next ? detailUrl(period, next, f) : boardUrl(period, f));
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      setFlash(req, 'error', err.message);
      return res.redirect(303, fromBoard ? boardUrl(period, f) : detailUrl(period, code, f));
    }
    throw err;
  }
});
