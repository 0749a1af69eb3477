/**
 * JSON over HTTPS to Microsoft Graph with an app-only token (tokenSource.ts), and the failure handling
 * every call needs:
 *
 * - Throttling: Graph answers 429, with a Retry-After "suggested wait time" or, on some Intune resources,
 *   without one; its guidance is to wait Retry-After when given, else back off exponentially
 *   (https://learn.microsoft.com/en-us/graph/throttling, "Best practices to handle throttling"). A wait
 *   up to `maxRetryAfterMs` is sat out inside the call; a longer one is thrown at once as a retryable
 *   MdmRateLimitedError carrying retryAfterMs, so the workflow waits it out without holding a slot.
 * - 5xx, timeouts and network failures: MdmUnavailableError (retryable; a 503's Retry-After carried).
 * - 404: MdmNotFoundError. 401: the token is dropped and the request sent once more with a new one.
 *   Other 4xx: MdmRejectedError with Graph's error code and message ({ "error": { "code", "message" } },
 *   https://learn.microsoft.com/en-us/graph/errors).
 *
 * Graph actions take no idempotency key, so a POST is repeated inside the call only where Graph certainly
 * did not carry it out (429 and 503 turn the request away); after a timeout or another 5xx its fate is
 * unknown and the error goes to the adapter, which looks at the device before it would send again.
 */
import {
  MdmError,
  MdmInvalidResponseError,
  MdmNotFoundError,
  MdmRateLimitedError,
  MdmRejectedError,
  MdmUnavailableError,
} from '../errors';
import { parseJson, retryAfterMs } from '../httpClient';
import type { TokenSource } from './tokenSource';

export interface GraphClientOptions {
  graphBaseUrl: string;
  tokens: TokenSource;
  /** Per attempt, including reading the body. */
  timeoutMs: number;
  /** Total attempts per call, including the first. */
  maxAttempts: number;
  sleep?: (ms: number) => Promise<void>;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  maxRetryAfterMs?: number;
}

export interface GraphRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to graphBaseUrl, e.g. `/deviceManagement/managedDevices`; or an absolute @odata.nextLink. */
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** Names the thing a 404 is about, e.g. "managed device '...'". */
  resource?: string;
}

export interface GraphClient {
  request<T = unknown>(req: GraphRequest): Promise<T | undefined>;
  /** Every item of a collection, following @odata.nextLink until Graph gives none. */
  getAll<T>(req: Omit<GraphRequest, 'method' | 'body'>): Promise<T[]>;
}

/** POSTs are retried inside a call only on these: Graph turned the request away without acting on it. */
export function certainlyNotCarriedOut(error: unknown): boolean {
  if (error instanceof MdmRateLimitedError || error instanceof MdmRejectedError || error instanceof MdmNotFoundError)
    return true;
  return error instanceof MdmUnavailableError && error.status === 503;
}

export function createGraphClient(options: GraphClientOptions): GraphClient {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const baseBackoffMs = options.baseBackoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
  const base = new URL(options.graphBaseUrl.replace(/\/+$/, '') + '/');

  function delayBefore(attempt: number, error: MdmError, req: GraphRequest): number | undefined {
    if (!error.retryable || attempt >= options.maxAttempts) return undefined;
    if (req.method === 'POST' && !certainlyNotCarriedOut(error)) return undefined;
    const asked =
      error instanceof MdmRateLimitedError || error instanceof MdmUnavailableError ? error.retryAfterMs : undefined;
    if (asked !== undefined) return asked <= maxRetryAfterMs ? asked : undefined;
    const exponential = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1));
    return Math.round(exponential * (0.5 + Math.random() / 2));
  }

  async function request<T>(req: GraphRequest): Promise<T | undefined> {
    let renewedToken = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return (await attemptOnce(req)) as T | undefined;
      } catch (err) {
        if (err instanceof UnauthorizedToken && !renewedToken) {
          options.tokens.invalidate(err.token);
          renewedToken = true;
          attempt--;
          continue;
        }
        const error = asMdmError(err instanceof UnauthorizedToken ? err.error : err, options.timeoutMs);
        const delay = delayBefore(attempt, error, req);
        if (delay === undefined) throw error;
        await sleep(delay);
      }
    }
  }

  async function attemptOnce(req: GraphRequest): Promise<unknown> {
    const token = await options.tokens.get();
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (req.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(urlOf(req), {
      method: req.method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    if (response.ok) return parseJson(text, response.status, 'Graph');
    const error = errorFromResponse(response, text, req);
    if (response.status === 401) throw new UnauthorizedToken(token, error);
    throw error;
  }

  function urlOf(req: GraphRequest): string {
    const url = /^https?:\/\//.test(req.path) ? new URL(req.path) : new URL(req.path.replace(/^\/+/, ''), base);
    // An @odata.nextLink elsewhere would receive our token: follow links only on Graph's own origin.
    if (url.origin !== base.origin)
      throw new MdmInvalidResponseError(`Graph sent a link to another origin (${url.origin}); not followed.`);
    for (const [name, value] of Object.entries(req.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, value);
    return url.toString();
  }

  return {
    request,
    // Paging as documented in "Paging Microsoft Graph data in your app",
    // https://learn.microsoft.com/en-us/graph/paging: send the whole @odata.nextLink URL as it is (it carries
    // the original query) until a response has none.
    async getAll<T>(req: Omit<GraphRequest, 'method' | 'body'>): Promise<T[]> {
      const items: T[] = [];
      let next: GraphRequest | undefined = { ...req, method: 'GET' };
      while (next) {
        const page: { value?: unknown; '@odata.nextLink'?: unknown } | undefined = await request(next);
        if (!page || !Array.isArray(page.value))
          throw new MdmInvalidResponseError(`Graph answered GET ${req.path} without a 'value' collection.`);
        items.push(...(page.value as T[]));
        const link: unknown = page['@odata.nextLink'];
        next = typeof link === 'string' && link ? { method: 'GET', path: link, resource: req.resource } : undefined;
      }
      return items;
    },
  };
}

class UnauthorizedToken extends Error {
  constructor(
    readonly token: string,
    readonly error: MdmError,
  ) {
    super(error.message);
  }
}

function errorFromResponse(response: Response, text: string, req: GraphRequest): MdmError {
  const { code, message } = readGraphError(text, response.statusText);
  const status = response.status;
  const retryAfter = retryAfterMs(response.headers.get('Retry-After'));
  if (status === 429)
    return new MdmRateLimitedError(`Graph throttled the request (${code ?? '429'}): ${message}`, retryAfter);
  if (status === 408 || status >= 500)
    return new MdmUnavailableError(`Graph unavailable (HTTP ${status}): ${message}`, 'unavailable', status, {
      retryAfterMs: retryAfter,
    });
  if (status === 404) return new MdmNotFoundError(req.resource ?? `${req.method} ${req.path}`, message);
  return new MdmRejectedError(status, code, message);
}

function readGraphError(text: string, fallback: string): { code?: string; message: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : undefined;
    const message = typeof body.error?.message === 'string' && body.error.message ? body.error.message : fallback;
    return { code, message };
  } catch {
    return { message: text.slice(0, 500) || fallback };
  }
}

function asMdmError(err: unknown, timeoutMs: number): MdmError {
  if (err instanceof MdmError) return err;
  const name = (err as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError')
    return new MdmUnavailableError(`Graph did not answer within ${timeoutMs} ms.`, 'timeout', undefined, {
      cause: err,
    });
  return new MdmUnavailableError(`Graph unreachable: ${(err as Error).message}`, 'network', undefined, { cause: err });
}
