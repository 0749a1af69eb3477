/**
 * OIDC access tokens (JWTs) verified against the identity provider's JWKS: signature with an allowed
 * asymmetric algorithm, issuer, audience, expiry and not-before (with a small clock tolerance).
 * Refusals say which check failed, never what was expected (no issuer or audience is echoed).
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { OidcAlgorithm } from '../../config/env';
import { ApiError, type Logger } from '../errors';
import { actorIdFrom, roleFrom, type ClaimRules } from './oidcClaims';
import { CredentialsRefused, type Actor, type Authenticator } from './types';

export interface OidcOptions extends ClaimRules {
  issuer: string;
  audience: string | string[];
  /** The provider's JWKS endpoint; keys are cached and refetched when an unknown `kid` shows up. */
  jwksUrl: string;
  algorithms: readonly OidcAlgorithm[];
  clockToleranceSeconds: number;
  /**
   * After a fetch, how long an unknown `kid` is refused without refetching (jose's default, 30 s): a
   * flood of made-up kids cannot turn into a flood of requests to the provider.
   */
  jwksCooldownMs?: number;
  /** Tests: a key set without HTTP. */
  keys?: JWTVerifyGetKey;
  clock?: () => Date;
  logger?: Pick<Logger, 'error'>;
}

/** Three base64url parts; an empty signature (alg "none") still counts, so it is refused as a JWT. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/** Failures of the provider or its key set: the caller's token may be fine, so not a 401. */
const PROVIDER_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JWK_INVALID', 'ERR_JOSE_GENERIC']);

function claimMessage(claim: string | undefined): string {
  switch (claim) {
    case 'iss':
      return 'token issuer not accepted';
    case 'aud':
      return 'token audience not accepted';
    case 'nbf':
      return 'token not yet valid';
    case 'exp':
      return 'token has no valid expiry (exp)';
    case 'iat':
      return 'token issued in the future';
    default:
      return 'token claims invalid';
  }
}

/** jose's error codes in words a caller can act on. */
function refusalFor(err: { code?: string; claim?: string }): CredentialsRefused | undefined {
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return new CredentialsRefused('token expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new CredentialsRefused(claimMessage(err.claim));
    // Never valid, whoever sent them: these count as guesses for the address's back-off.
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new CredentialsRefused('token algorithm not allowed', 401, true);
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new CredentialsRefused('invalid token signature', 401, true);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new CredentialsRefused('invalid token', 401, true);
    default:
      return undefined;
  }
}

/** `oidc:<iss>|<sub>`: the pair a provider guarantees unique and never reassigned. */
function credentialOf(payload: JWTPayload, actorId: string): string {
  return `oidc:${payload.iss ?? ''}|${payload.sub ?? actorId}`;
}

export class OidcAuthenticator implements Authenticator {
  private readonly keys: JWTVerifyGetKey;
  private readonly logger: Pick<Logger, 'error'>;

  constructor(private readonly options: OidcOptions) {
    this.keys =
      options.keys ??
      createRemoteJWKSet(new URL(options.jwksUrl), {
        timeoutDuration: 5_000,
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
      });
    this.logger = options.logger ?? console;
  }

  async authenticate(token: string): Promise<Actor | undefined> {
    if (!looksLikeJwt(token)) return undefined;
    const payload = await this.verify(token);
    const id = actorIdFrom(payload, this.options);
    if (!id) throw new CredentialsRefused('token names no subject');
    const role = roleFrom(payload, this.options);
    // Authenticated but not authorised for anything here: 403, since signing in again will not help.
    if (!role)
      throw new CredentialsRefused(`${id} has no role in this service (token claim "${this.options.roleClaim}")`, 403);
    return { id, role, credential: credentialOf(payload, id) };
  }

  private async verify(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: [...this.options.algorithms],
        clockTolerance: this.options.clockToleranceSeconds,
        requiredClaims: ['exp'],
        currentDate: this.options.clock?.(),
      });
      return payload;
    } catch (err) {
      const e = err as { code?: string; claim?: string };
      const refusal = refusalFor(e);
      if (refusal) throw refusal;
      if (typeof e.code !== 'string' || PROVIDER_FAILURES.has(e.code)) {
        this.logger.error(`[auth] cannot verify tokens: JWKS at ${this.options.jwksUrl}: ${(err as Error).message}`);
        throw new ApiError(
          503,
          'auth-unavailable',
          'cannot verify tokens right now (identity provider keys unavailable)',
        );
      }
      throw new CredentialsRefused('invalid token', 401, true);
    }
  }
}
