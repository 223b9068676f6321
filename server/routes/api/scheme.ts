import { Router } from 'express';
import { badRequest } from '../../domain/errors.ts';
import { principalOf, requireAuth, requireRole } from '../../http/auth.ts';
import { currentScheme, listSchemeVersions, saveScheme, schemeVersion } from '../../services/scheme.ts';
import { previewScheme } from '../../results/compute.ts';

// /api/v1/scheme: the assessment scheme as data (SPEC §4). Everyone may read it; admins edit it.
export const router = Router();

/** GET /scheme → {version, scheme, note, createdBy, createdAt} (the scheme in force). */
router.get('/scheme', requireAuth, async (_req, res) => {
  res.json(await currentScheme());
});

router.get('/scheme/versions', requireAuth, async (_req, res) => {
  res.json(await listSchemeVersions());
});

router.get('/scheme/versions/:version', requireAuth, async (req, res) => {
  const v = Number(req.params.version);
  if (!Number.isInteger(v) || v < 1) throw badRequest('invalid_version', '版本号必须是正整数');
  res.json(await schemeVersion(v));
});

/** POST /scheme/preview {scheme, period?} (admin) → what-if diff of totals, grades and ranks; writes nothing. */
router.post('/scheme/preview', requireRole('admin'), async (req, res) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  res.json(await previewScheme(b.scheme, typeof b.period === 'string' && b.period ? b.period : undefined));
});

/** PUT /scheme {scheme, baseVersion?, note?} (admin) → 201 the new version. */
router.put('/scheme', requireRole('admin'), async (req, res) => {
  const p = principalOf(req);
  const b = (req.body ?? {}) as Record<string, unknown>;
  const baseVersion = b.baseVersion === undefined || b.baseVersion === null ? undefined : Number(b.baseVersion);
  if (baseVersion !== undefined && !Number.isInteger(baseVersion)) throw badRequest('invalid_version', 'baseVersion 必须是整数');
  const rec = await saveScheme({ username: p.username, role: p.role }, b.scheme, {
    baseVersion,
    note: typeof b.note === 'string' ? b.note : undefined,
  });
  res.status(201).json(rec);
});
