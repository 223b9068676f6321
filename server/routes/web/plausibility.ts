import { Router, type Request, type Response } from 'express';
import { AppError } from '../../domain/errors.ts';
import { FIELD_KEYS, FIELD_LABELS } from '../../domain/fields.ts';
import { BASE_LABELS, RULE_KIND_LABELS, type PlausibilityRules } from '../../domain/plausibility.ts';
import { principalOf, requireRole } from '../../http/auth.ts';
import { setFlash } from '../../http/flash.ts';
import { currentRules, listRuleVersions, saveRules } from '../../services/plausibility.ts';

// Admin page: the plausibility rule set (异常提示规则, issue 14 item 3). The rules' list is fixed (P1…P4);
// an admin switches them on or off, picks their fields and sets their numbers; saving stores version
// n+1 (audited). The rules apply to returns submitted from then on; stored warnings are not redone.
export const router = Router();

const num = (v: unknown): number => (typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : Number.NaN);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** The draft from the form, in the shape domain/plausibility.ts validates. */
function draftFromForm(base: PlausibilityRules, b: Record<string, unknown>): { rules: Record<string, unknown>[] } {
  const rows = (typeof b.rules === 'object' && b.rules !== null ? b.rules : {}) as Record<string, Record<string, unknown>>;
  return {
    rules: base.rules.map((r, i) => {
      const f = rows[i] ?? rows[String(i)] ?? {};
      const d: Record<string, unknown> = { id: r.id, enabled: f.enabled === 'on', fields: list(f.fields) };
      if (r.kind === 'jump') Object.assign(d, { factor: num(f.factor), floor: num(f.floor) });
      if (r.kind === 'fall') d.minDrop = num(f.minDrop);
      return d;
    }),
  };
}

/** What was typed in a rule's number inputs (strings only: a body can hold objects), to show it again. */
function typedOf(base: PlausibilityRules, b: Record<string, unknown>): Record<string, string>[] {
  const rows = (typeof b.rules === 'object' && b.rules !== null ? b.rules : {}) as Record<string, unknown>;
  return base.rules.map((_, i) => {
    const f = rows[i] ?? rows[String(i)];
    const out: Record<string, string> = {};
    if (typeof f === 'object' && f !== null) {
      for (const k of ['factor', 'floor', 'minDrop']) {
        const v = (f as Record<string, unknown>)[k];
        if (typeof v === 'string') out[k] = v.slice(0, 40);
      }
    }
    return out;
  });
}

async function render(res: Response, opts: { draft?: { rules: Record<string, unknown>[] }; typed?: Record<string, string>[]; errors?: { path: string; message: string }[]; note?: string; status?: number }) {
  const [current, versions] = await Promise.all([currentRules(), listRuleVersions()]);
  const rules = current.rules.rules.map((r, i) => {
    const d = opts.draft?.rules[i] ?? (r as unknown as Record<string, unknown>);
    const chosen = list(d.fields);
    const typed = opts.typed?.[i] ?? {};
    const value = (k: string) => typed[k] ?? (typeof d[k] === 'number' && Number.isFinite(d[k]) ? String(d[k]) : '');
    return {
      index: i,
      id: r.id,
      name: r.name,
      kind: r.kind,
      kindLabel: RULE_KIND_LABELS[r.kind],
      baseLabel: BASE_LABELS[r.base],
      enabled: d.enabled === true,
      isJump: r.kind === 'jump',
      isFall: r.kind === 'fall',
      factor: value('factor'),
      floor: value('floor'),
      minDrop: value('minDrop'),
      fields: FIELD_KEYS.map((k) => ({ key: k, label: FIELD_LABELS[k], checked: chosen.includes(k) })),
    };
  });
  res.status(opts.status ?? 200).render('pages/plausibility/index', { title: '异常提示规则', current, versions, rules, errors: opts.errors ?? [], note: opts.note ?? '' });
}

router.get('/admin/plausibility', requireRole('admin'), async (_req, res) => {
  await render(res, {});
});

router.post('/admin/plausibility', requireRole('admin'), async (req: Request, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const current = await currentRules();
  const draft = draftFromForm(current.rules, b);
  const note = typeof b.note === 'string' ? b.note : '';
  try {
    const baseVersion = typeof b.baseVersion === 'string' ? Number(b.baseVersion) : Number.NaN;
    const rec = await saveRules({ username: principalOf(req).username, role: 'admin' }, draft, { baseVersion: Number.isInteger(baseVersion) ? baseVersion : undefined, note });
    setFlash(req, 'ok', `已保存为异常提示规则第 ${rec.version} 版，此后提交的数据按新规则提示`);
    res.redirect(303, '/admin/plausibility');
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
    const errors = Array.isArray(err.details) ? (err.details as { path: string; message: string }[]) : [{ path: '', message: err.message }];
    await render(res, { draft, typed: typedOf(current.rules, b), errors, note, status: err.status });
  }
});
