// Builds the Express app (the database must already be connected: sessions and secrets live there).
// server/main.ts starts it; the test harness (test/helpers/app.ts) starts the very same app.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Router } from 'express';
import session from 'express-session';
import { MongoStore } from 'connect-mongo';
import { engine } from 'express-handlebars';
import helmet from 'helmet';
import mongoose from 'mongoose';
import { setCurrentConfig, type Config } from './config.ts';
import { pingDb } from './db/connect.ts';
import { identifyMiddleware, passwordChangeGate } from './http/auth.ts';
import { configureCsrf, csrfProtection, csrfTokenFor, isApiRequest } from './http/csrf.ts';
import { apiNotFound, errorHandler, pageNotFound } from './http/errors.ts';
import { takeFlash } from './http/flash.ts';
import { navFor } from './http/nav.ts';
import { makeHelpers } from './http/view-helpers.ts';
import { log } from './log.ts';
import { router as api_auth } from './routes/api/auth.ts';
import { router as api_users } from './routes/api/users.ts';
import { router as api_units } from './routes/api/units.ts';
import { router as api_periods } from './routes/api/periods.ts';
import { router as api_returns } from './routes/api/returns.ts';
import { router as api_results } from './routes/api/results.ts';
import { router as api_sheets } from './routes/api/sheets.ts';
import { router as api_scheme } from './routes/api/scheme.ts';
import { router as api_jobs } from './routes/api/jobs.ts';
import { router as api_accountability } from './routes/api/accountability.ts';
import { router as api_years } from './routes/api/years.ts';
import { router as api_attachments } from './routes/api/attachments.ts';
import { router as web_auth } from './routes/web/auth.ts';
import { router as web_admin } from './routes/web/admin.ts';
import { router as web_dashboard } from './routes/web/dashboard.ts';
import { router as web_ranking } from './routes/web/ranking.ts';
import { router as web_returns } from './routes/web/returns.ts';
import { router as web_review } from './routes/web/review.ts';
import { router as web_progress } from './routes/web/progress.ts';
import { router as web_accountability } from './routes/web/accountability.ts';
import { router as web_units } from './routes/web/units.ts';
import { router as web_units_admin } from './routes/web/units-admin.ts';
import { router as web_scheme } from './routes/web/scheme.ts';
import { router as web_jobs } from './routes/web/jobs.ts';
import { router as web_plausibility } from './routes/web/plausibility.ts';
import { configureAuth, resolveSecret } from './services/auth.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PRODUCT_NAME = '数据共享考核平台';

export interface AppOptions {
  config: Config;
}

// Every router of server/routes/{api,web} (files starting with _ are helpers), in mount order.
// Static imports keep one module graph in every runner; test/app/routers.test.ts fails when a
// router file is missing here.
export const API_ROUTERS: readonly { name: string; router: Router }[] = [
  { name: 'auth', router: api_auth },
  { name: 'users', router: api_users },
  { name: 'units', router: api_units },
  { name: 'periods', router: api_periods },
  { name: 'returns', router: api_returns },
  { name: 'results', router: api_results },
  { name: 'sheets', router: api_sheets },
  { name: 'scheme', router: api_scheme },
  { name: 'jobs', router: api_jobs },
  { name: 'accountability', router: api_accountability },
  { name: 'years', router: api_years },
  { name: 'attachments', router: api_attachments },
];
export const WEB_ROUTERS: readonly { name: string; router: Router }[] = [
  { name: 'auth', router: web_auth },
  { name: 'admin', router: web_admin },
  { name: 'dashboard', router: web_dashboard },
  { name: 'ranking', router: web_ranking },
  { name: 'returns', router: web_returns },
  { name: 'review', router: web_review },
  { name: 'progress', router: web_progress },
  { name: 'accountability', router: web_accountability },
  { name: 'units', router: web_units },
  { name: 'units-admin', router: web_units_admin },
  { name: 'scheme', router: web_scheme },
  { name: 'jobs', router: web_jobs },
  { name: 'plausibility', router: web_plausibility },
];

export async function createApp(opts: AppOptions): Promise<Express> {
  const { config } = opts;
  setCurrentConfig(config);
  if (mongoose.connection.readyState !== 1) throw new Error('createApp: connect the database first (server/db/connect.ts)');

  const [sessionSecret, tokenSecret] = await Promise.all([
    resolveSecret('session', config.sessionSecret),
    resolveSecret('token', config.tokenSecret),
  ]);
  configureAuth({ tokenSecret, tokenTtlSeconds: config.tokenTtlSeconds, bcryptRounds: config.bcryptRounds });
  configureCsrf({ sessionSecret, secureCookies: config.secureCookies });

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
  // Templates compiled once per process (Express enables this only when NODE_ENV=production, which no
  // deployment here sets): without it every page request re-read and re-compiled its layout, page and
  // partials. A changed template needs a restart, like any other code change.
  app.enable('view cache');

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
  // A session is stored only once someone signs in (web/auth.ts): nothing an anonymous visitor does
  // writes one (saveUninitialized: false, and the login form's CSRF token is a stateless signed
  // double-submit one, http/csrf.ts). Cookies are Secure when the request came over HTTPS, directly
  // or through the proxy TRUST_PROXY names (X-Forwarded-Proto), and always with SECURE_COOKIES.
  const sessions = session({
    name: 'sid',
    secret: sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies ? true : 'auto', maxAge: config.sessionTtlSeconds * 1000 },
  });
  // An API request with an Authorization header is judged on it alone (http/auth.ts), so it needs no
  // session: skipping the middleware saves a session id and, with a cookie, a session read.
  app.use((req, res, next) => (isApiRequest(req) && req.headers.authorization !== undefined ? next() : sessions(req, res, next)));

  app.use(identifyMiddleware);
  // Users with a generated password change it before anything else (issue 17).
  app.use(passwordChangeGate);
  app.use(csrfProtection);

  // What every page needs.
  app.use((req, res, next) => {
    if (!isApiRequest(req)) {
      res.locals.principal = req.principal;
      res.locals.nav = navFor(req.principal, req.path);
      // Made when a page is rendered, not for redirects and downloads (an anonymous one sets a cookie).
      let token: string | undefined;
      Object.defineProperty(res.locals, 'csrfToken', { enumerable: true, configurable: true, get: () => (token ??= csrfTokenFor(req, res)) });
      res.locals.flash = takeFlash(req);
      res.locals.currentPath = req.path;
    }
    next();
  });

  for (const { router } of API_ROUTERS) app.use('/api/v1', router);
  app.use('/api', apiNotFound);
  for (const { router } of WEB_ROUTERS) app.use('/', router);
  app.use(pageNotFound);
  app.use(errorHandler);
  return app;
}
