/**
 * The one error shape of the API (DESIGN §4): `{ error: { code, message, details? } }`. Handlers throw
 * ApiError for anything the client can fix; a dependency's outage that a retry can fix is a 503 (see
 * `unavailable`); anything else is a bug and becomes a 500 with a request id that is also in the log, so a
 * report from a user can be matched to the stack trace.
 */
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
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

/** What a dependency's error says about a request it cut short (dbErrors.ts, temporalErrors.ts). */
export interface Outage {
  /** The error code of the answer, e.g. `database-unavailable`. */
  code: string;
  /** What is wrong, for people: `the database is not reachable`. */
  what: string;
  /**
   * False when the dependency refused the request before doing anything (no connection, starting up, a
   * failing workflow task); true when it was cut off while working (a connection lost mid-query, a deadline
   * passed while the server was at it), so a write may have happened.
   */
  mayHaveApplied: boolean;
  retryAfterSeconds: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The 503 for an outage, saying whether the request took effect: `details.requestApplied` is `no` (resend
 * it as it is) or `unknown` (resend it with the same Idempotency-Key, which applies it at most once).
 */
export function unavailable(outage: Outage, method: string): ApiError {
  const safe = SAFE_METHODS.has(method.toUpperCase());
  const requestApplied = !safe && outage.mayHaveApplied ? 'unknown' : 'no';
  const effect = safe
    ? 'nothing was changed'
    : requestApplied === 'no'
      ? 'the request was not applied'
      : 'the request may or may not have been applied: retry it with the same Idempotency-Key, which applies it at most once';
  return new ApiError(
    503,
    outage.code,
    `${outage.what}; ${effect}. Try again in ${outage.retryAfterSeconds} s`,
    { requestApplied, retryAfterSeconds: outage.retryAfterSeconds },
    { 'Retry-After': String(outage.retryAfterSeconds) },
  );
}

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

/**
 * The router refuses a path parameter that is not valid percent-encoding (`/assets/%FF`) with a URIError
 * it marks 400: the client's mistake, said as one.
 */
function fromRouter(err: unknown): ApiError | undefined {
  if (!(err instanceof URIError) || (err as { status?: unknown }).status !== 400) return undefined;
  return invalidInput('invalid path', [{ field: '(path)', problem: 'is not valid percent-encoded UTF-8' }]);
}

export type Logger = Pick<Console, 'error' | 'warn' | 'info'>;

/** Turns an error no route recognised into an answer (a 503 for an outage), or leaves it to be a 500. */
export type ErrorTranslator = (err: unknown, req: Request) => ApiError | undefined;

export function errorHandler(logger: Logger, translate: ErrorTranslator = () => undefined): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const requestId = String(res.locals.requestId ?? 'unknown');
    let known = err instanceof ApiError ? err : (fromBodyParser(err as BodyParserError) ?? fromRouter(err));
    if (!known) {
      known = translate(err, req);
      // An outage is not a bug, but an operator wants to see it.
      if (known) logger.warn(`[api] ${requestId} ${req.method} ${req.originalUrl}: ${known.code}:`, String(err));
    }
    if (known) {
      res.set(known.headers);
      res.status(known.status).json({ error: { code: known.code, message: known.message, details: known.details } });
      return;
    }
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
