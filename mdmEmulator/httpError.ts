/**
 * Errors the emulator answers with, always as `{ error: { code, message, details } }`.
 */
import type { ErrorRequestHandler } from 'express';
import type { z } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string, id: string) =>
  new HttpError(404, `${what}_not_found`, `No ${what} with id '${id}'.`, { id });

export const conflict = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new HttpError(409, code, message, details);

/** Turns zod issues into one message naming every bad field, plus a machine-readable list. */
export function invalidRequest(
  where: 'body' | 'query' | 'header' | 'path',
  error: z.ZodError,
  prefix?: string,
): HttpError {
  const issues = error.issues.flatMap((i) => {
    const path = prefix ? [prefix, ...i.path] : i.path;
    // Name each unknown key as the field, rather than its parent object.
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({ field: fieldName(where, [...path, k]), message: 'unknown field' }));
    return [{ field: fieldName(where, path), message: i.message }];
  });
  const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  return new HttpError(400, 'invalid_request', message, { issues });
}

function fieldName(where: string, path: PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : where;
}

export const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  const httpError = toHttpError(err);
  if (httpError.status >= 500) console.error('[mdm-emulator]', err);
  res.status(httpError.status).json({
    error: { code: httpError.code, message: httpError.message, details: httpError.details },
  });
};

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  // body-parser errors carry a status and a type; map the common ones to stable codes.
  const e = err as { status?: number; type?: string; message?: string };
  if (e.type === 'entity.parse.failed')
    return new HttpError(400, 'invalid_json', `Body is not valid JSON: ${e.message}`);
  if (e.type === 'entity.too.large') return new HttpError(413, 'body_too_large', 'Request body is too large.');
  if (e.status && e.status >= 400 && e.status < 500)
    return new HttpError(e.status, 'bad_request', e.message ?? 'Bad request.');
  return new HttpError(500, 'internal_error', 'Internal emulator error.');
}
