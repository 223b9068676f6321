// Builds the Express app (the database must already be connected: sessions and secrets live there).
// server/main.ts starts it; the test harness (test/helpers/app.ts) starts the very same app.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express, { type Express, type Router } from 'express';
import session from 'express-session';
import { MongoStore } from 'connect-mongo';
import { engine } from 'express-handlebars';
import helmet from 'helmet';
import mongoose from 'mongoose';
import { setCurrentConfig, type Config } from './config.ts';
import { pingDb } from './db/connect.ts';
import { identifyMiddleware } from './http/auth.ts';
import { csrfProtection, csrfTokenFor, isApiRequest } from './http/csrf.ts';
import { apiNotFound, errorHandler, pageNotFound } from './http/errors.ts';
import { takeFlash } from './http/flash.ts';
import { navFor } from './http/nav.ts';
import { makeHelpers } from './http/view-helpers.ts';
import { log } from './log.ts';
import { configureAuth, resolveSecret } from './services/auth.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PRODUCT_NAME = '数据共享考核平台';

export interface AppOptions {
  config: Config;
}

// Routers mounted first (in this order); every other file of the folder follows alphabetically.
const FIRST: Record<'api' | 'web', string[]> = { api: ['auth', 'users'], web: ['auth', 'admin'] };

/** Imports every server/routes/<kind>/*.ts (each exports `router`), in mount order. */
export async function loadRouters(kind: 'api' | 'web'): Promise<{ name: string; router: Router }[]> {
  const dir = path.join(ROOT, 'server', 'routes', kind);
  const names = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort((a, b) => {
      const ia = FIRST[kind].indexOf(a);
      const ib = FIRST[kind].indexOf(b);
      if (ia !== ib) return (ia === -1 ? 1e9 : ia) - (ib === -1 ? 1e9 : ib);
      return a.localeCompare(b);
    });
  const out: { name: string; router: Router }[] = [];
  for (const name of names) {
    const mod = (await import(pathToFileURL(path.join(dir, `${name}.ts`)).href)) as { router?: Router };
    if (typeof mod.router !== 'function') throw new Error(`server/routes/${kind}/${name}.ts does not export \`router\``);
    out.push({ name, router: mod.router });
  }
  return out;
}

export async function createApp(opts: AppOptions): Promise<Express> {
  const { config } = opts;
  setCurrentConfig(config);
  if (mongoose.connection.readyState !== 1) throw new Error('createApp: connect the database first (server/db/connect.ts)');

  const [sessionSecret, tokenSecret] = await Promise.all([
    resolveSecret('session', config.sessionSecret),
    resolveSecret('token', config.tokenSecret),
  ]);
  configureAuth({ tokenSecret, tokenTtlSeconds: config.tokenTtlSeconds, bcryptRounds: config.bcryptRounds });

  const app = express();
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.locals.productName = PRODUCT_NAME;

  // Views.
  const views = path.join(ROOT, 'views');
  app.engine(
    'hbs',
    engine({
      extname: '.hbs',
      defaultLayout: 'main',
      layoutsDir: path.join(views, 'layouts'),
      partialsDir: path.join(views, 'partials'),
      helpers: makeHelpers(config.tz),
    }),
  );
  app.set('view engine', 'hbs');
  app.set('views', views);

  // Request log.
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const entry = { method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(ms * 10) / 10, user: req.principal?.username };
      if (res.statusCode >= 500) log.error(entry, 'request');
      else log.debug(entry, 'request');
    });
    next();
  });

  // Security headers: no inline script anywhere (script-src 'self'); style attributes are allowed
  // (bar widths and the like), style elements only from 'self'. Plain HTTP intranets are common:
  // no upgrade-insecure-requests, HSTS only with SECURE_COOKIES.
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          scriptSrcAttr: ["'none'"],
          styleSrc: ["'self'"],
          styleSrcAttr: ["'unsafe-inline'"],
          imgSrc: ["'self'", 'data:', 'blob:'],
          fontSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      strictTransportSecurity: config.secureCookies,
    }),
  );

  // Static files (no session, no auth).
  app.use('/public', express.static(path.join(ROOT, 'public'), { maxAge: '1h', index: false }));
  const chartJs = path.join(ROOT, 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js');
  app.get('/vendor/chart.js/chart.umd.min.js', (_req, res, next) => {
    res.sendFile(chartJs, { maxAge: '1d' }, (err) => err && next(err));
  });
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  // Health: answers 200 when the database answers a ping, 503 otherwise.
  app.get('/healthz', async (_req, res) => {
    const up = await pingDb();
    res.setHeader('Cache-Control', 'no-store');
    if (up) res.json({ status: 'ok', db: 'up' });
    else res.status(503).json({ status: 'unavailable', db: 'down', error: { code: 'db_unavailable', message: '数据库不可用' } });
  });

  // Bodies (uploads are parsed by their routes, with multer and config.uploadMaxBytes).
  app.use(express.json({ limit: config.bodyMaxBytes }));
  app.use(express.urlencoded({ extended: true, limit: config.bodyMaxBytes, parameterLimit: 2000 }));

  // Sessions in MongoDB, through mongoose's own client.
  const store = MongoStore.create({
    client: mongoose.connection.getClient() as never,
    dbName: config.dbName,
    collectionName: 'sessions',
    ttl: config.sessionTtlSeconds,
    autoRemove: 'interval',
    autoRemoveInterval: 10,
    touchAfter: 60,
    stringify: false,
  });
  app.use(
    session({
      name: 'sid',
      secret: sessionSecret,
      store,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, maxAge: config.sessionTtlSeconds * 1000 },
    }),
  );

  app.use(identifyMiddleware);
  app.use(csrfProtection);

  // What every page needs.
  app.use((req, res, next) => {
    if (!isApiRequest(req)) {
      res.locals.principal = req.principal;
      res.locals.nav = navFor(req.principal, req.path);
      res.locals.csrfToken = csrfTokenFor(req);
      res.locals.flash = takeFlash(req);
      res.locals.currentPath = req.path;
    }
    next();
  });

  for (const { router } of await loadRouters('api')) app.use('/api/v1', router);
  app.use('/api', apiNotFound);
  for (const { router } of await loadRouters('web')) app.use('/', router);
  app.use(pageNotFound);
  app.use(errorHandler);
  return app;
}
