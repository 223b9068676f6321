import { Router, type Request } from 'express';
import { AppError, badRequest } from '../../domain/errors.ts';
import { UNIT_CATEGORIES, UNIT_CATEGORY_LABELS } from '../../domain/fields.ts';
import { zonedTime } from '../../domain/periods.ts';
import { formValues } from '../../domain/validation.ts';
import { PERIOD_PHASE_LABELS, periodPhase } from '../../domain/vocabulary.ts';
import { zoneLabel } from '../../domain/jobs-text.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { assessmentStart, getPeriod, listPeriods, quarterAt, setClosed, timeZone } from '../../services/periods.ts';
import { openForAssessment } from '../../results/publication.ts';
import { clock } from '../../clock.ts';
import { getUnit, importUnits, listUnits, upsertUnit } from '../../services/units.ts';
import { singleFile } from '../../http/uploads.ts';

// Admin pages for units (/admin/units: list, create, edit, import from Excel) and periods
// (/admin/periods: deadline, open / closed). The unit DETAIL page /units/:code is the dashboard's.
export const router = Router();

const STYLES = ['/public/css/intake.css'];
const actor = (req: Request) => {
  const p = principalOf(req);
  return { username: p.username, role: p.role };
};
const categories = UNIT_CATEGORIES.map((c) => ({ value: c, label: UNIT_CATEGORY_LABELS[c] }));

async function renderUnits(req: Request, res: import('express').Response, extra: Record<string, unknown> = {}) {
  const units = await listUnits();
  const names = new Map(units.map((u) => [u.code, u.name]));
  const cat = typeof req.query.category === 'string' ? req.query.category : '';
  res.status(extra.importErrors || extra.formError ? 422 : 200).render('pages/units-admin/index', {
    title: '单位管理',
    styles: STYLES,
    units: units.filter((u) => !cat || u.category === cat).map((u) => ({ ...u, aliasesText: (u.aliases ?? []).join('、'), categoryLabel: UNIT_CATEGORY_LABELS[u.category], parentName: u.parent ? names.get(u.parent) ?? '' : '' })),
    total: units.length,
    categories: categories.map((c) => ({ ...c, selected: c.value === cat })),
    form: {},
    ...extra,
  });
}

router.get('/admin/units', requireRole('admin'), async (req, res) => {
  await renderUnits(req, res);
});

router.get('/admin/units/:code', requireRole('admin'), async (req, res) => {
  const unit = await getUnit(String(req.params.code));
  if (!unit) throw new AppError(404, 'unit_not_found', `单位「${req.params.code}」不存在`);
  res.render('pages/units-admin/edit', {
    title: `编辑单位 · ${unit.name}`,
    styles: STYLES,
    unit,
    aliasesText: (unit.aliases ?? []).join('、'),
    categories: categories.map((c) => ({ ...c, selected: c.value === unit.category })),
    units: (await listUnits()).filter((u) => u.code !== unit.code),
  });
});

/** Create (from the list page) or update (from the edit page): upsert by code. */
router.post('/admin/units', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const code = typeof b.code === 'string' ? b.code.trim() : '';
  const editing = b.editing === '1';
  try {
    if (!code) throw badRequest('invalid_unit', '请填写单位代码');
    if (!editing && (await getUnit(code))) throw badRequest('unit_exists', `单位代码「${code}」已存在，请在列表中点击“编辑”修改`);
    const { created, unit } = await upsertUnit(actor(req), code, {
      name: b.name,
      category: b.category,
      parent: typeof b.parent === 'string' && b.parent ? b.parent : null,
      ...(typeof b.aliases === 'string' ? { aliases: b.aliases } : {}),
      ...(editing ? { active: b.active === '1' } : {}),
    });
    setFlash(req, 'ok', `${created ? '已新增' : '已保存'}单位 ${unit.code} ${unit.name}`);
    res.redirect(303, '/admin/units');
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    if (editing) {
      setFlash(req, 'error', err.message);
      return res.redirect(303, `/admin/units/${encodeURIComponent(code)}`);
    }
    await renderUnits(req, res, { formError: err.message, form: formValues(b) });
  }
});

router.post('/admin/units/import', requireRole('admin'), singleFile('file'), async (req, res) => {
  if (!req.file) {
    setFlash(req, 'error', '请选择单位清单文件（.xlsx）');
    return res.redirect(303, '/admin/units');
  }
  try {
    const r = await importUnits(actor(req), req.file.buffer);
    setFlash(req, 'ok', `导入完成：新增 ${r.created} 个单位，更新 ${r.updated} 个单位`);
    res.redirect(303, '/admin/units');
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const errors = (err.details as { errors?: unknown[] } | undefined)?.errors ?? [{ message: err.message }];
    await renderUnits(req, res, { importErrors: errors, importMessage: err.message });
  }
});

// ---- periods ----

/** "YYYY-MM-DDTHH:mm[:ss]" of a datetime-local input, in the configured zone → instant. */
function fromLocalInput(v: unknown): Date {
  const m = typeof v === 'string' ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v.trim()) : null;
  if (!m) throw badRequest('invalid_deadline', '请按“年-月-日 时:分”填写截止时间');
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  return zonedTime(timeZone(), y, mo, d, h, mi, s);
}

function toLocalInput(iso: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone(), year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
  const g = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${g('year')}-${g('month')}-${g('day')}T${g('hour')}:${g('minute')}:${g('second')}`;
}

router.get('/admin/periods', requireRole('admin'), async (_req, res) => {
  const periods = await listPeriods();
  const current = quarterAt(clock.now());
  res.render('pages/periods-admin/index', {
    title: '期次管理',
    styles: STYLES,
    timeZone: timeZone(),
    zone: zoneLabel(timeZone()),
    assessmentStart: await assessmentStart(),
    suggested: periods.some((p) => p.period === current) ? '' : current,
    periods: periods.map((p) => {
      const phase = periodPhase(p, clock.now());
      return { ...p, local: toLocalInput(p.deadline), phase, phaseLabel: PERIOD_PHASE_LABELS[phase] };
    }),
  });
});

router.post('/admin/periods/open', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const period = typeof b.period === 'string' ? b.period.trim().toUpperCase() : '';
  try {
    const deadline = typeof b.deadline === 'string' && b.deadline !== '' ? fromLocalInput(b.deadline).toISOString() : undefined;
    const r = await openForAssessment(actor(req), period, deadline !== undefined ? { deadline } : {});
    setFlash(req, 'ok', r.created ? `已开放 ${period} 期，开始接受填报` : `${period} 期此前已开放`);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
  res.redirect(303, '/admin/periods');
});

router.post('/admin/periods', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const period = typeof b.period === 'string' ? b.period.trim() : '';
  try {
    if (b.deadline !== undefined && b.deadline !== '') await openForAssessment(actor(req), period, { deadline: fromLocalInput(b.deadline).toISOString() });
    else await getPeriod(period);
    if (b.closed !== undefined) await setClosed(actor(req), period, b.closed === '1');
    setFlash(req, 'ok', `已保存 ${period} 期设置`);
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    setFlash(req, 'error', err.message);
  }
  res.redirect(303, '/admin/periods');
});
