/**
 * A path the API serves, asked with a method it does not serve there (TRACE, PUT, GET on an import...), is
 * answered 405 with `Allow` naming the methods it does serve (RFC 9110 §15.5.6), not 404 or 400. The paths,
 * methods and what each path parameter accepts come from the route descriptions of the OpenAPI document,
 * which tests/apiOpenapi.test.ts keeps equal to the Express routes. It runs before authentication: which
 * methods a path has is no secret (the spec is public).
 */
import type { RequestHandler } from 'express';
import { ApiError } from './errors';
import { PATH_PARAMETERS } from './openapi/parameters';
import { pathParamNames, type RouteDoc } from './openapi/registry';

interface DocumentedPath {
  /** Literal segments as written (Express matches them in any case, with an optional trailing slash). */
  pattern: RegExp;
  /** Whether each captured parameter is one the route accepts (`/assets/import` is no asset number). */
  accepts: ((value: string) => boolean)[];
  methods: Set<string>;
}

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function paramCheck(route: RouteDoc, name: string): (value: string) => boolean {
  const schema = (route.pathParams?.[name] ?? PATH_PARAMETERS[name])?.schema ?? {};
  if (typeof schema.pattern === 'string') {
    const pattern = new RegExp(schema.pattern);
    return (value) => pattern.test(value);
  }
  if (Array.isArray(schema.enum)) {
    const values = new Set(schema.enum);
    return (value) => values.has(value);
  }
  return () => true;
}

function documentedPath(route: RouteDoc): DocumentedPath {
  const source = route.path
    .split(/\{[^}]+\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('([^/]+)');
  return {
    pattern: new RegExp(`^${source}/?$`, 'i'),
    accepts: pathParamNames(route.path).map((name) => paramCheck(route, name)),
    methods: new Set(['OPTIONS']),
  };
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // the route answers it: 400 invalid path
  }
}

function matches(path: DocumentedPath, requestPath: string): boolean {
  const match = path.pattern.exec(requestPath);
  if (!match) return false;
  return path.accepts.every((accepts, i) => {
    const value = decoded(match[i + 1]!);
    return value !== undefined && accepts(value);
  });
}

export function methodNotAllowed(routes: readonly RouteDoc[]): RequestHandler {
  const byPath = new Map<string, DocumentedPath>();
  for (const route of routes) {
    const path = byPath.get(route.path) ?? documentedPath(route);
    path.methods.add(route.method.toUpperCase());
    // Express answers HEAD with the GET route (and OPTIONS for every path it routes).
    if (route.method === 'get') path.methods.add('HEAD');
    byPath.set(route.path, path);
  }
  const paths = [...byPath.values()];

  return (req, _res, next) => {
    const allowed = new Set(paths.filter((p) => matches(p, req.path)).flatMap((p) => [...p.methods]));
    if (allowed.size === 0 || allowed.has(req.method)) {
      next();
      return;
    }
    const allow = METHOD_ORDER.filter((m) => allowed.has(m)).join(', ');
    throw new ApiError(
      405,
      'method-not-allowed',
      `${req.method} is not served at ${req.path}; it serves ${allow}`,
      { allowed: allow.split(', ') },
      { Allow: allow },
    );
  };
}
