/**
 * The API's OpenAPI document: every router's route list, in the order the app mounts them. A new router
 * adds its list here (and its path parameters to parameters.ts); tests/apiOpenapi.test.ts fails when an
 * Express route is missing from the spec.
 */
import { buildOpenApiDocument } from './document';
import type { JsonSchema } from './jsonSchema';
import type { RouteDoc } from './registry';
import { apiKeysRoutes } from './routes/apiKeys';
import { applicationsRoutes } from './routes/applications';
import { assetsRoutes } from './routes/assets';
import { bulkRoutes } from './routes/bulk';
import { bulkRecoveryRoutes } from './routes/bulkRecovery';
import { campaignsRoutes } from './routes/campaigns';
import { codecRoutes } from './routes/codec';
import { devicesRoutes } from './routes/devices';
import { healthRoutes, operationsRoutes } from './routes/health';
import { reportsRoutes } from './routes/reports';
import { tasksRoutes } from './routes/tasks';
import { workflowsRoutes } from './routes/workflows';
import { signaturesRoutes } from './routes/signatures';

export const API_ROUTE_DOCS: readonly RouteDoc[] = [
  ...healthRoutes,
  ...operationsRoutes,
  ...devicesRoutes,
  ...bulkRoutes,
  ...campaignsRoutes,
  ...bulkRecoveryRoutes,
  ...workflowsRoutes,
  ...tasksRoutes,
  ...assetsRoutes,
  ...reportsRoutes,
  ...applicationsRoutes,
  ...apiKeysRoutes,
  ...codecRoutes,
  ...signaturesRoutes,
];

const DESCRIPTION = [
  'Smart-device lifecycle processes (change device user, inactivate device) as durable Temporal workflows.',
  'Errors are `{ "error": { "code", "message", "details"? } }`. Lists are paginated with `limit` and an opaque `cursor`.',
  'Request bodies are JSON with a size limit; unknown fields are refused (400 naming them), and so are bytes that are not valid UTF-8. Times are ISO 8601 UTC.',
  'A method that a path does not list is answered 405 with `Allow`. A 503 (with `Retry-After`) means a dependency is down or recovering and says in `details.requestApplied` whether the request took effect; any other 5xx is a bug.',
  'The field-staff page is served at `/field/`.',
  'Answers under `/api/v1` that need a credential are sent with `Cache-Control: no-store`: they carry personal data.',
].join('\n\n');

let cached: JsonSchema | undefined;

/** Built once per process: the routes and schemas do not change while it runs. */
export function openApiDocument(): JsonSchema {
  cached ??= buildOpenApiDocument(API_ROUTE_DOCS, { version: '1.0.0', description: DESCRIPTION });
  return cached;
}
