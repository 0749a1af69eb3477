/**
 * The one error shape of the API (DESIGN §4): `{ error: { code, message, details? } }`. Handlers throw
 * ApiError for anything the client can fix; anything else is a bug and becomes a 500 with a request id
 * that is also in the log, so a report from a user can be matched to the stack trace.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { z } from 'zod';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface FieldProblem {
  field: string;
  problem: string;
}

export function invalidInput(message: string, problems: FieldProblem[]): ApiError {
  const text = problems.map((p) => `${p.field}: ${p.problem}`).join('; ');
  return new ApiError(400, 'invalid-input', text ? `${message}: ${text}` : message, { problems });
}

/** Zod issues as field problems; `prefix` places a nested object's fields (e.g. `data.`). */
export function problemsFromZod(error: z.ZodError, prefix = ''): FieldProblem[] {
  return error.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    // strictObject reports unknown keys on the parent object: name each key so the client can find it.
    if (i.code === 'unrecognized_keys') {
      const keys = i.keys.map((k) => [path, k].filter(Boolean).join('.'));
      return { field: keys.join(', '), problem: 'unknown field (not accepted here)' };
    }
    return { field: path || '(body)', problem: i.message };
  });
}

export const notFound = (what: string, id: string) =>
  new ApiError(404, 'not-found', `${what} ${id} not found`, { [what]: id });

/** Routes that do not exist answer in the same shape as every other error. */
export const unknownRoute: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not-found', `no route for ${req.method} ${req.path}`));
};

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

/** express.json() and the raw body reader throw these; they are the client's mistakes, never 5xx. */
function fromBodyParser(err: BodyParserError): ApiError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new ApiError(413, 'body-too-large', `request body is larger than the limit of ${err.limit} bytes`);
    case 'entity.parse.failed':
      return new ApiError(400, 'malformed-json', `request body is not valid JSON: ${err.message}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported-media-type', err.message);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new ApiError(400, 'bad-request', err.message);
    default:
      return undefined;
  }
}

export type Logger = Pick<Console, 'error' | 'warn' | 'info'>;

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const known = err instanceof ApiError ? err : fromBodyParser(err as BodyParserError);
    if (known) {
      res.set(known.headers);
      res.status(known.status).json({ error: { code: known.code, message: known.message, details: known.details } });
      return;
    }
    const requestId = String(res.locals.requestId ?? 'unknown');
    logger.error(`[api] ${requestId} ${req.method} ${req.originalUrl} failed:`, err);
    res.status(500).json({
      error: {
        code: 'internal',
        message: `unexpected error; quote request id ${requestId} when reporting it`,
        details: { requestId },
      },
    });
  };
}
