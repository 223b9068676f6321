import { Router } from 'express';
import { principalOf, requireAuth } from '../../http/auth.ts';
import { jsonStreamHeaders, sendJsonArray, streaming } from '../../http/json-stream.ts';
import { annualResults, assertYear } from '../../services/eligibility.ts';

// /api/v1/years (SPEC §7): annual totals, grades, ranks and merit eligibility.
export const router = Router();

/**
 * GET /years/:year/results → {year, results: [{unit, category, total, grade, rank, eligible, …}], quarters, final}.
 * Reporters see the whole annual ranking once all four quarters are published; before that, their own row.
 */
router.get('/years/:year/results', requireAuth, async (req, res) => {
  const p = principalOf(req);
  const view = await annualResults(assertYear(String(req.params.year)));
  if (p.role === 'reporter' && !view.final) view.results = view.results.filter((r) => r.unit === p.unit);
  if (view.results.length <= streaming.aboveRows) {
    res.json(view);
    return;
  }
  // A national year (≈ 12 MB at 50 000 units): streamed, the same bytes as res.json.
  const gzip = jsonStreamHeaders(req, res);
  const rows = view.results;
  await sendJsonArray(req, res, { empty: JSON.stringify({ ...view, results: [] }), count: rows.length, item: (i) => JSON.stringify(rows[i]) }, gzip);
});
