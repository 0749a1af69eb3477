/**
 * The HTTP API as an Express app, with everything it talks to passed in, so tests can build one against
 * a dev server (or no server at all, for validation tests) and main.ts can build one for production.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import express, { Router, type RequestHandler } from 'express';
import type pg from 'pg';
import type { Config } from '../config/env';
import { redactingLogger } from '../config/redact';
import { apiKeysRouter, guardedAuthentication, type Authenticator } from './auth';
import type { ApiContext } from './context';
import { ApiError, errorHandler, unknownRoute, type Logger } from './errors';
import { JSON_TYPES, jsonBody } from './jsonBody';
import { methodNotAllowed } from './methodNotAllowed';
import { createApiMetrics, type ApiMetrics } from './metrics';
import { API_ROUTE_DOCS } from './openapi';
import { retryableOutage } from './outages';
import { isPool, portsFromPool, type DbPorts } from './ports';
import { rateLimitPerActor } from './rateLimit';
import { applicationsRouter } from './routes/applications';
import { assetImportRouter, assetsRouter } from './routes/assets';
import { bulkRouter } from './routes/bulk';
import { bulkRecoveryRouter } from './routes/bulkRecovery';
import { codecCors, codecRouter } from './routes/codec';
import { devicesRouter } from './routes/devices';
import { docsRouter } from './routes/docs';
import { healthRouter } from './routes/health';
import { reportsRouter } from './routes/reports';
import { tasksRouter } from './routes/tasks';
import { webRouter } from './routes/web';
import { workflowsRouter } from './routes/workflows';
import { signaturesRouter } from './routes/signatures';
import { noStore } from './noStore';

export interface ApiDeps {
  temporal: Client;
  taskQueue: string;
  /** Defaults to the client's namespace. */
  namespace?: string;
  /** A pool (the real repositories are used) or ports (tests, or another store). */
  db: pg.Pool | DbPorts;
  config: Config;
  auth: Authenticator;
  clock?: () => Date;
  logger?: Logger;
  /** Defaults to config.API_UPDATE_TIMEOUT_MS. */
  updateTimeoutMs?: number;
  queryTimeoutMs?: number;
  /**
   * Metrics served by a listener of their own (api/main.ts: API_METRICS_PORT), so the API port has no
   * /metrics; without them the app makes its own and serves GET /metrics itself (tests).
   */
  metrics?: ApiMetrics;
}

export const API_PREFIX = '/api/v1';

/** Accept a caller's request id if it looks like one (for tracing across services), else make one. */
const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given && /^[A-Za-z0-9._:-]{8,100}$/.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.set('X-Request-Id', id);
  next();
};

/** A body that is not JSON is refused (415) rather than ignored and answered with "field missing". */
const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
  if (hasBody && !req.is(JSON_TYPES)) {
    throw new ApiError(415, 'unsupported-media-type', 'request body must be JSON (Content-Type: application/json)');
  }
  next();
};

export function createApiApp(deps: ApiDeps): express.Express {
  const ctx: ApiContext = {
    temporal: deps.temporal,
    taskQueue: deps.taskQueue,
    namespace: deps.namespace ?? deps.temporal.options.namespace,
    db: isPool(deps.db) ? portsFromPool(deps.db) : deps.db,
    config: deps.config,
    clock: deps.clock ?? (() => new Date()),
    // Every line the API logs passes the redaction helper (config/redact.ts).
    logger: redactingLogger(deps.logger ?? console),
    updateTimeoutMs: deps.updateTimeoutMs ?? deps.config.API_UPDATE_TIMEOUT_MS,
    queryTimeoutMs: deps.queryTimeoutMs ?? 5_000,
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // First, so every answer is counted, errors and unknown routes included.
  const metrics = deps.metrics ?? createApiMetrics();
  app.use(metrics.middleware);
  app.use(requestId);
  // The Temporal Web UI's preflights to the codec endpoint: before the 405 check and authentication.
  app.use(codecCors(deps.config));
  app.use(methodNotAllowed(API_ROUTE_DOCS));
  app.use(healthRouter(ctx));
  if (!deps.metrics) app.get('/metrics', metrics.handler);
  app.use(docsRouter());
  app.use(webRouter());

  const api = Router();
  api.use(healthRouter(ctx));
  // Per-address throttle, then the token (api/auth/guardedAuthentication.ts): refusals cost no lookup.
  api.use(...guardedAuthentication(deps.config, deps.auth, ctx.clock));
  // Answers behind authentication carry personal data (assets, history, workflows, applications, tasks).
  api.use(noStore);
  api.use(rateLimitPerActor({ perMinute: deps.config.API_RATE_LIMIT_PER_MINUTE }));
  // The one route that takes text/csv reads its own body, so it comes before the JSON-only check.
  api.use(assetImportRouter(ctx));
  // The codec endpoint reads its own (larger) JSON body: history pages with signatures.
  api.use(codecRouter(ctx));
  api.use(requireJsonBody);
  api.use(jsonBody(deps.config.API_BODY_LIMIT));
  api.use(devicesRouter(ctx));
  api.use(bulkRouter(ctx));
  api.use(bulkRecoveryRouter(ctx));
  api.use(workflowsRouter(ctx));
  api.use(assetsRouter(ctx));
  api.use(reportsRouter(ctx));
  api.use(applicationsRouter(ctx));
  api.use(tasksRouter(ctx));
  api.use(apiKeysRouter(ctx));
  api.use(signaturesRouter(ctx));
  app.use(API_PREFIX, api);

  app.use(unknownRoute);
  app.use(errorHandler(ctx.logger, retryableOutage));
  return app;
}
