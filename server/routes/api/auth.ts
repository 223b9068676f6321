import { Router } from 'express';
import { principalOf, requireAuth } from '../../http/auth.ts';
import { clientAddress } from '../../http/client.ts';
import { issueToken, revokeToken, verifyLogin } from '../../services/auth.ts';

// /api/v1/auth: API tokens (SPEC §7). Mounted by server/app.ts at /api/v1.
export const router = Router();

/** POST /auth/token {username, password} → 200 {token, expiresAt}; 401 bad credentials; 429 throttled. */
router.post('/auth/token', async (req, res) => {
  const body = (req.body ?? {}) as { username?: unknown; password?: unknown };
  const user = await verifyLogin(body.username, body.password, clientAddress(req));
  const { token, expiresAt } = await issueToken(user.id);
  res.setHeader('Cache-Control', 'no-store');
  res.json({ token, expiresAt: expiresAt.toISOString() });
});

/** DELETE /auth/token: revokes the bearer token of this request → 204. */
router.delete('/auth/token', requireAuth, async (req, res) => {
  if (req.auth?.via === 'token') await revokeToken(req.auth.jti);
  res.status(204).end();
});

/** GET /auth/me → the caller {id, username, role, unit?}. */
router.get('/auth/me', requireAuth, (req, res) => {
  res.json(principalOf(req));
});
