/**
 * How a route describes itself for the OpenAPI document. Each router file has a matching list in
 * `openapi/routes/` built with describeRoute(); the request parts are the very zod schemas the route
 * validates with, so the spec cannot drift from what the API accepts.
 */
import type { z } from 'zod';
import type { ApiRole } from '../../config/env';
import type { PathParameterDoc } from './parameters';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A response body: a zod schema (converted like request bodies) or a JSON Schema written by hand. */
export type BodySchema = z.ZodType | Record<string, unknown>;

export interface SuccessResponse {
  status: number;
  description: string;
  schema?: BodySchema;
  /** Defaults to application/json. */
  contentType?: string;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

export interface RouteDoc {
  method: HttpMethod;
  /** The full path in OpenAPI form: `/api/v1/workflows/{workflowId}`. */
  path: string;
  /** Groups operations on the /docs page and in generated clients. */
  tag: string;
  summary: string;
  description?: string;
  /** Roles allowed; `public` means no Authorization header is needed. */
  roles: readonly ApiRole[] | 'public';
  /** The query schema the route parses with (a zod object); each property becomes a query parameter. */
  query?: z.ZodObject;
  /** The body schema the route parses with (JSON). */
  body?: z.ZodType;
  /** A JSON body written as JSON Schema by hand: only where the route's zod schema is not importable. */
  bodySchema?: Record<string, unknown>;
  /** Query parameters written by hand: only where the route's zod schema is not importable. */
  queryParameters?: { name: string; description?: string; schema: Record<string, unknown> }[];
  /** A body that is not JSON (e.g. the CSV import): its media type and what it must contain. */
  textBody?: { contentType: string; description: string };
  /** Accepts an `Idempotency-Key` header that makes a retried request harmless. */
  idempotencyKeyHeader?: boolean;
  /** Path parameters whose name means something else on this route than in parameters.ts (e.g. `id`). */
  pathParams?: Record<string, PathParameterDoc>;
  /** Further description of the body (e.g. which payload schema applies to which event). */
  bodyDescription?: string;
  /** Success answers; error answers are added from `errors` and from what the route needs (auth, body). */
  responses: SuccessResponse[];
  /** Error statuses this route can answer besides the ones implied by auth and body (400 path, 404, 409...). */
  errors?: number[];
  /** Vendor extensions (`x-...`) placed on the operation. */
  extensions?: Record<`x-${string}`, unknown>;
}

export function describeRoute(doc: RouteDoc): RouteDoc {
  return doc;
}

/** Express `/workflows/:workflowId` -> OpenAPI `/workflows/{workflowId}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The names of the `{param}` segments of an OpenAPI path, in order. */
export function pathParamNames(path: string): string[] {
  return [...path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);
}
