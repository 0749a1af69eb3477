/**
 * Prometheus metrics for the API: `GET /metrics` (no authentication, like /healthz: scrapers rarely carry
 * tokens; keep the port off the public network, as DESIGN §4 lists it among the unauthenticated probes).
 *
 * Requests are labelled by the Express route *pattern* (`/api/v1/workflows/:workflowId`), never by the
 * raw URL, so a scan of random paths or thousands of asset numbers cannot blow up the series count.
 */
import type { Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Requests no route claimed (404s, scans): one label value for all of them. */
export const UNMATCHED_ROUTE = '(unmatched)';

export interface ApiMetrics {
  registry: Registry;
  /** Mount first: times every request and counts it by method, route pattern and status. */
  middleware: RequestHandler;
  /** The `/metrics` endpoint. */
  handler: RequestHandler;
}

// Only the methods the API serves; anything else is folded into OTHER to keep the label bounded.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface RouteLike {
  path?: unknown;
}

/**
 * Records the pattern at the moment Express assigns `req.route`: `req.baseUrl` is still the mount path
 * then, whereas after an async handler throws, the router has already restored it to the parent's.
 */
function captureRoute(req: Request, record: (pattern: string) => void): void {
  let current: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (value: unknown) => {
      current = value;
      const path = (value as RouteLike | undefined)?.path;
      if (typeof path === 'string') record(`${req.baseUrl}${path}`);
    },
  });
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, Express route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to finishing the response, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    // Most answers are local (ms); reports wait for a workflow Update (up to the update timeout, 30 s).
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  const middleware: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    let route: string | undefined;
    captureRoute(req, (pattern) => {
      route = pattern;
    });
    res.on('finish', () => {
      const labels = {
        method: KNOWN_METHODS.has(req.method) ? req.method : 'OTHER',
        // Static files and other non-route handlers may name themselves (e.g. `/field/*`).
        route: route ?? (typeof res.locals.metricsRoute === 'string' ? res.locals.metricsRoute : UNMATCHED_ROUTE),
        status: String(res.statusCode),
      };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };

  const handler: RequestHandler = async (_req, res) => {
    res.set('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  };

  return { registry, middleware, handler };
}
