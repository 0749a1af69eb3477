/**
 * Builds the OpenAPI 3.1 document from the route descriptions. Request bodies and query parameters come
 * from the zod schemas the routes validate with; the event payload schemas come from
 * workflows/reportSchemas.ts, the same ones the workflows' update validators use.
 */
import { eventPayloadSchemas, HUMAN_EVENTS } from '../../workflows/reportSchemas';
import { toJsonSchema, type JsonSchema } from './jsonSchema';
import { PATH_PARAMETERS } from './parameters';
import { pathParamNames, type BodySchema, type RouteDoc } from './registry';
import { errorResponse } from './responseSchemas';
import { eventPayloadSchemaName } from './routes/workflows';

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input: `details.problems` lists each field and why',
  401: 'No or bad credentials',
  403: "The token's role may not do this",
  404: 'Unknown asset, workflow or route',
  409: 'Conflict: busy device, event not expected at this step (`details.step`, `details.expects`), or closed workflow',
  413: 'Request body larger than the limit',
  415: 'Request body is not JSON',
  429: 'Rate limited; see `Retry-After`',
  431: 'Request line or headers larger than the HTTP server takes (16 KiB); answered by the server itself, without a body',
  503:
    "A dependency is down or recovering (PostgreSQL, Temporal, the workflow's worker), or the workflow cannot take requests " +
    'now (its workflow task is failing); retry after `Retry-After` seconds. `details.requestApplied` says whether the ' +
    'request took effect: `no`, or `unknown` (retry with the same Idempotency-Key, which applies it at most once)',
};

/** Answers the HTTP server writes before the app sees the request: no JSON body. */
const WITHOUT_BODY = new Set([431]);

const RETRY_AFTER = {
  'Retry-After': {
    description: 'Seconds to wait before retrying',
    required: true,
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
};

const ERROR_HEADERS: Record<number, Record<string, unknown>> = {
  401: {
    'WWW-Authenticate': {
      description: 'The Bearer challenge (RFC 6750), with `error="invalid_token"` once a token was refused',
      required: true,
      schema: { type: 'string' },
    },
  },
  429: RETRY_AFTER,
  503: RETRY_AFTER,
};

function schemaOf(schema: BodySchema): JsonSchema {
  // A zod schema has `_zod`; anything else is already JSON Schema.
  return '_zod' in schema ? toJsonSchema(schema as Parameters<typeof toJsonSchema>[0], 'output') : schema;
}

function queryParameters(route: RouteDoc): JsonSchema[] {
  const byHand = (route.queryParameters ?? []).map((p) => ({ in: 'query', required: false, ...p }));
  if (!route.query) return byHand;
  const json = toJsonSchema(route.query);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    schema,
  }));
}

function pathParameters(route: RouteDoc): JsonSchema[] {
  return pathParamNames(route.path).map((name) => {
    const doc = route.pathParams?.[name] ?? PATH_PARAMETERS[name];
    // A new path parameter must be described (with the pattern the route checks) before the spec builds.
    if (!doc) throw new Error(`OpenAPI: path parameter {${name}} of ${route.path} is not in openapi/parameters.ts`);
    return {
      name,
      in: 'path',
      required: true,
      description: doc.description,
      schema: doc.schema,
      ...(doc.example ? { example: doc.example } : {}),
    };
  });
}

function errorStatuses(route: RouteDoc): number[] {
  const statuses = new Set(route.errors ?? []);
  if (pathParamNames(route.path).length) statuses.add(400);
  if (route.query || route.queryParameters?.length) statuses.add(400);
  if (route.body || route.bodySchema || route.textBody) [400, 413, 415].forEach((s) => statuses.add(s));
  // Every protected route reads the database (API keys) and most reach Temporal or PostgreSQL: 503 when down.
  if (route.roles !== 'public') [401, 403, 429, 503].forEach((s) => statuses.add(s));
  statuses.add(431);
  return [...statuses].sort((a, b) => a - b);
}

function rolesText(route: RouteDoc): string {
  return route.roles === 'public' ? 'No authentication.' : `Roles: ${route.roles.join(', ')}.`;
}

function operation(route: RouteDoc): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const r of route.responses) {
    responses[String(r.status)] = {
      description: r.description,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: schemaOf(r.schema) } } } : {}),
    };
  }
  for (const status of errorStatuses(route)) {
    responses[String(status)] = {
      description: ERROR_TEXT[status] ?? 'Error',
      ...(ERROR_HEADERS[status] ? { headers: ERROR_HEADERS[status] } : {}),
      ...(WITHOUT_BODY.has(status)
        ? {}
        : { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }),
    };
  }
  const parameters = [...pathParameters(route), ...queryParameters(route)];
  if (route.idempotencyKeyHeader) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Makes a retried request harmless: the same key is acknowledged, not applied twice. A key names one request (route, path ids, event, body): ' +
        'the same key with another request is refused with 409 `idempotency-key-reused` (`details.differs` names what differs). ' +
        'Where the body also has `idempotencyKey`, they must be equal.',
      schema: { type: 'string', minLength: 8, maxLength: 200, pattern: '^[A-Za-z0-9._:\\-/]+$' },
    });
  }
  return {
    tags: [route.tag],
    summary: route.summary,
    description: [route.description, rolesText(route)].filter(Boolean).join('\n\n'),
    operationId: operationId(route),
    'x-roles': route.roles === 'public' ? [] : [...route.roles],
    security: route.roles === 'public' ? [] : [{ bearerAuth: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body || route.bodySchema
      ? {
          requestBody: {
            // No body is read as `{}` (api/validation.ts parseBody): optional where `{}` is a valid body.
            required: route.body ? !route.body.safeParse({}).success : true,
            ...(route.bodyDescription ? { description: route.bodyDescription } : {}),
            content: { 'application/json': { schema: route.body ? toJsonSchema(route.body) : route.bodySchema } },
          },
        }
      : route.textBody
        ? {
            requestBody: {
              required: true,
              description: route.textBody.description,
              content: { [route.textBody.contentType]: { schema: { type: 'string' } } },
            },
          }
        : {}),
    responses,
    ...(route.extensions ?? {}),
  };
}

/** `post /api/v1/workflows/{workflowId}/events/{event}` -> `postWorkflowsByWorkflowIdEventsByEvent`. */
function operationId(route: RouteDoc): string {
  const words = route.path
    .replace(/^\/api\/v1/, '')
    .split(/[/.-]/)
    .filter(Boolean)
    .map((w) => (w.startsWith('{') ? `By-${w.slice(1, -1)}` : w));
  const camel = words
    .map((w) => w.replace(/(^|-)([a-zA-Z])/g, (_m, _d: string, c: string) => c.toUpperCase()))
    .join('');
  return `${route.method}${camel}${route.path.startsWith('/api/v1') ? '' : 'Root'}`;
}

export interface DocumentInfo {
  title?: string;
  version: string;
  description?: string;
}

export function buildOpenApiDocument(routes: readonly RouteDoc[], info: DocumentInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const seen = new Set<string>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) throw new Error(`OpenAPI: ${key} is described twice`);
    seen.add(key);
    (paths[route.path] ??= {})[route.method] = operation(route);
  }
  const schemas: Record<string, JsonSchema> = { Error: toJsonSchema(errorResponse, 'output') };
  for (const event of HUMAN_EVENTS) {
    schemas[eventPayloadSchemaName(event)] = { ...toJsonSchema(eventPayloadSchemas[event]), 'x-event': event };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: info.title ?? 'device-lifecycle API',
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API token (or OIDC JWT) in `Authorization: Bearer <token>`; its role (admin, field-staff, viewer) decides what it may do.',
        },
      },
    },
    security: [{ bearerAuth: [] }],
  };
}
