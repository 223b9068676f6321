import { Router } from 'express';

// /api/v1 routes for results: owner fills in. Mounted by server/app.ts at /api/v1.
export const router = Router();
