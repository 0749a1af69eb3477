/** api/routes/health.ts (served both at / and under /api/v1) and the operational endpoints of app.ts. */
import { describeRoute, type RouteDoc } from '../registry';
import { health, readiness } from '../responseSchemas';

const probes = (prefix: string): RouteDoc[] => [
  describeRoute({
    method: 'get',
    path: `${prefix}/healthz`,
    tag: 'Operations',
    summary: 'Liveness: the process answers',
    roles: 'public',
    responses: [{ status: 200, description: 'Alive', schema: health }],
  }),
  describeRoute({
    method: 'get',
    path: `${prefix}/readyz`,
    tag: 'Operations',
    summary: 'Readiness: Temporal and the database answer within 2 s, and a worker polls the task queue',
    description:
      'Ready when Temporal and the database answer and a worker has polled the workflow task queue in the last ' +
      '75 s (an idle worker polls about once a minute). 503 (not-ready) names the components that are not ok, ' +
      'with Retry-After; the reasons are in the API log only.',
    roles: 'public',
    responses: [{ status: 200, description: 'Ready', schema: readiness }],
    errors: [503],
  }),
];

export const healthRoutes = [...probes(''), ...probes('/api/v1')];

export const operationsRoutes = [
  describeRoute({
    method: 'get',
    path: '/metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics: http_requests_total, http_request_duration_seconds, process metrics',
    description:
      'Requests are labelled by route pattern, method and status. No authentication: keep it off the public network.',
    roles: 'public',
    responses: [
      {
        status: 200,
        description: 'Prometheus text exposition format',
        contentType: 'text/plain',
        schema: { type: 'string' },
      },
    ],
  }),
  describeRoute({
    method: 'get',
    path: '/openapi.json',
    tag: 'Operations',
    summary: 'This OpenAPI 3.1 document',
    roles: 'public',
    responses: [{ status: 200, description: 'The spec', schema: { type: 'object' } }],
  }),
  describeRoute({
    method: 'get',
    path: '/docs',
    tag: 'Operations',
    summary: 'A browsable rendering of this document',
    roles: 'public',
    responses: [{ status: 200, description: 'HTML page', contentType: 'text/html', schema: { type: 'string' } }],
  }),
];
