import { Router } from 'express';

// /api/v1 assessment workbook downloads (sheet.xlsx): owner fills in. Mounted by server/app.ts at /api/v1.
export const router = Router();
