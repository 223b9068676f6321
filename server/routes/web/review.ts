import { Router } from 'express';

// Web pages for review: owner fills in. Mounted by server/app.ts at /.
export const router = Router();
