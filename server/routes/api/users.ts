import { Router } from 'express';

// /api/v1 routes for users: owner fills in. Mounted by server/app.ts at /api/v1.
export const router = Router();
