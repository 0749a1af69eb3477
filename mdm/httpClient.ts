/**
 * JSON over HTTP to the MDM, with the failure handling every call needs:
 * a per-attempt timeout, retries with exponential backoff for 5xx/408/network/timeout, waiting out
 * `Retry-After` on 429 and on 5xx that carry it (up to a cap), and no retry for other 4xx. Retrying is
 * safe because every state-changing request carries an Idempotency-Key (or, like a cancel, is idempotent).
 */
import {
  MdmError,
  MdmInvalidResponseError,
  MdmNotFoundError,
  MdmRateLimitedError,
  MdmRejectedError,
  MdmUnavailableError,
} from './errors';

export interface MdmHttpOptions {
  baseUrl: string;
  apiKey: string;
  /** Per attempt, including reading the body. */
  timeoutMs: number;
  /** Total attempts per call, including the first. */
  maxAttempts: number;
  /** Injected for tests; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** First backoff delay; doubles per attempt, with jitter. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Longest Retry-After (of a 429, or of a 503 and other 5xx) waited out inside one call. A longer one is
   * thrown at once as the retryable error (MdmRateLimitedError or MdmUnavailableError) carrying
   * retryAfterMs, so the caller (Temporal) can wait without holding a slot.
   */
  maxRetryAfterMs?: number;
}

export interface MdmRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  idempotencyKey?: string;
  /** Names the thing a 404 is about, e.g. "device 'mdm-1'". */
  resource?: string;
}

export interface MdmHttpClient {
  request<T = unknown>(req: MdmRequest): Promise<T>;
}

export function createMdmHttpClient(options: MdmHttpOptions): MdmHttpClient {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const baseBackoffMs = options.baseBackoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;

  function delayBefore(attempt: number, error: MdmError): number | undefined {
    if (!error.retryable || attempt >= options.maxAttempts) return undefined;
    const asked = requestedDelay(error);
    if (asked !== undefined) return asked <= maxRetryAfterMs ? asked : undefined;
    const exponential = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1));
    return Math.round(exponential * (0.5 + Math.random() / 2));
  }

  return {
    async request<T>(req: MdmRequest): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await attemptOnce(options, req)) as T;
        } catch (err) {
          const error = asMdmError(err, options.timeoutMs);
          const delay = delayBefore(attempt, error);
          if (delay === undefined) throw error;
          await sleep(delay);
        }
      }
    },
  };
}

/** The wait the MDM asked for (Retry-After), if it asked. */
function requestedDelay(error: MdmError): number | undefined {
  if (error instanceof MdmRateLimitedError || error instanceof MdmUnavailableError) return error.retryAfterMs;
  return undefined;
}

async function attemptOnce(options: MdmHttpOptions, req: MdmRequest): Promise<unknown> {
  const headers: Record<string, string> = { Authorization: `Bearer ${options.apiKey}`, Accept: 'application/json' };
  if (req.body !== undefined) headers['Content-Type'] = 'application/json';
  if (req.idempotencyKey) headers['Idempotency-Key'] = req.idempotencyKey;
  const response = await fetch(buildUrl(options.baseUrl, req), {
    method: req.method,
    headers,
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  const text = await response.text();
  if (response.ok) return parseJson(text, response.status);
  throw errorFromResponse(response, text, req);
}

function buildUrl(baseUrl: string, req: MdmRequest): string {
  const url = new URL(`${baseUrl.replace(/\/+$/, '')}${req.path}`);
  for (const [name, value] of Object.entries(req.query ?? {}))
    if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

/** A successful answer's JSON body (undefined when empty); `who` names the service in the error. */
export function parseJson(text: string, status: number, who = 'MDM'): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new MdmInvalidResponseError(`${who} answered HTTP ${status} with a body that is not JSON.`);
  }
}

function errorFromResponse(response: Response, text: string, req: MdmRequest): MdmError {
  const { code, message, details } = readErrorBody(text, response.statusText);
  const status = response.status;
  if (status === 429)
    return new MdmRateLimitedError(`MDM rate limit: ${message}`, retryAfterMs(response.headers.get('Retry-After')));
  if (status === 408 || status >= 500) {
    return new MdmUnavailableError(`MDM unavailable (HTTP ${status}): ${message}`, 'unavailable', status, {
      retryAfterMs: retryAfterMs(response.headers.get('Retry-After')),
    });
  }
  if (status === 404) return new MdmNotFoundError(req.resource ?? `${req.method} ${req.path}`, message);
  return new MdmRejectedError(status, code, message, details);
}

function readErrorBody(text: string, fallback: string): { code?: string; message: string; details?: unknown } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const error = body.error ?? {};
    return {
      code: typeof error.code === 'string' ? error.code : undefined,
      message: typeof error.message === 'string' ? error.message : text || fallback,
      details: error.details,
    };
  } catch {
    return { message: text.slice(0, 500) || fallback };
  }
}

/**
 * Retry-After is either delay-seconds or an HTTP date. The seconds may be fractional, as Microsoft Graph
 * sends them ("Retry-After: 2.128", https://learn.microsoft.com/en-us/graph/throttling, "Sample response"):
 * rounded up to the millisecond.
 */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function asMdmError(err: unknown, timeoutMs: number): MdmError {
  if (err instanceof MdmError) return err;
  const name = (err as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new MdmUnavailableError(`MDM did not answer within ${timeoutMs} ms.`, 'timeout', undefined, { cause: err });
  }
  return new MdmUnavailableError(`MDM unreachable: ${(err as Error).message}`, 'network', undefined, { cause: err });
}
