import { Router } from 'express';

// Web pages for accountability: owner fills in. Mounted by server/app.ts at /.
export const router = Router();
