import { Router } from 'express';

// Web pages for progress: owner fills in. Mounted by server/app.ts at /.
export const router = Router();
