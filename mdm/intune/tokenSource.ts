/**
 * An app-only access token for Microsoft Graph through the OAuth 2.0 client-credentials grant, cached until
 * shortly before it expires.
 *
 * Request and response as documented in "Microsoft identity platform and the OAuth 2.0 client credentials
 * flow", https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
 * (section "Get a token"): POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token, form-encoded
 * client_id, scope=https://graph.microsoft.com/.default, client_secret, grant_type=client_credentials;
 * answer { token_type: "Bearer", expires_in: 3599, access_token } or { error, error_description, ... }.
 * The flow issues no refresh token: a new token is simply requested with the same credentials.
 *
 * One request at a time: callers arriving while a token is being fetched share that fetch.
 */
import {
  MdmError,
  MdmInvalidResponseError,
  MdmRateLimitedError,
  MdmRejectedError,
  MdmUnavailableError,
} from '../errors';
import { retryAfterMs } from '../httpClient';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export interface TokenSourceOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  /** Refresh this long before expiry (or at half the lifetime when that is shorter). Default 5 minutes. */
  refreshMarginMs?: number;
  now?: () => number;
}

export interface TokenSource {
  /** A token valid for a while yet: the cached one or a new one. */
  get(): Promise<string>;
  /** Forgets the cached token (Graph answered 401 to it), so the next get() asks for a new one. */
  invalidate(token: string): void;
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 5 * 60_000;
  let cached: { token: string; refreshAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const askedAt = now();
    const { accessToken, expiresInMs } = await requestToken(options);
    cached = { token: accessToken, refreshAt: askedAt + expiresInMs - Math.min(margin, expiresInMs / 2) };
    return accessToken;
  }

  return {
    get() {
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
  };
}

async function requestToken(options: TokenSourceOptions): Promise<{ accessToken: string; expiresInMs: number }> {
  const form = new URLSearchParams({
    client_id: options.clientId,
    scope: GRAPH_SCOPE,
    client_secret: options.clientSecret,
    grant_type: 'client_credentials',
  });
  let response: Response;
  try {
    response = await fetch(options.tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw new MdmUnavailableError(
      `Microsoft identity platform unreachable: ${(err as Error).message}`,
      'network',
      undefined,
      {
        cause: err,
      },
    );
  }
  const text = await response.text();
  if (!response.ok) throw tokenError(response, text);
  return readToken(text);
}

function readToken(text: string): { accessToken: string; expiresInMs: number } {
  let body: { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new MdmInvalidResponseError('The token endpoint answered with a body that is not JSON.');
  }
  const expiresIn = Number(body.expires_in);
  if (typeof body.access_token !== 'string' || !body.access_token || !Number.isFinite(expiresIn) || expiresIn <= 0)
    throw new MdmInvalidResponseError('The token endpoint answered without access_token and expires_in.');
  if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer')
    throw new MdmInvalidResponseError(`The token endpoint issued a '${body.token_type}' token, not a Bearer token.`);
  return { accessToken: body.access_token, expiresInMs: expiresIn * 1000 };
}

/** 400/401 (bad secret, unknown client, no consent) cannot heal by retrying; 429 and 5xx can. */
function tokenError(response: Response, text: string): MdmError {
  let error = '';
  let description = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    if (typeof body.error === 'string') error = body.error;
    if (typeof body.error_description === 'string') description = body.error_description.split('\r\n')[0] ?? '';
  } catch {
    // not JSON: keep the raw text
  }
  const retryAfter = retryAfterMs(response.headers.get('Retry-After'));
  if (response.status === 429)
    return new MdmRateLimitedError(`Token endpoint throttled the request: ${description}`, retryAfter);
  if (response.status >= 500)
    return new MdmUnavailableError(
      `Token endpoint unavailable (HTTP ${response.status})`,
      'unavailable',
      response.status,
      {
        retryAfterMs: retryAfter,
      },
    );
  return new MdmRejectedError(response.status, error || undefined, `Token request refused: ${description}`);
}
