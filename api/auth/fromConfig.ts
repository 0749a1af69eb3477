/**
 * The API's one Authenticator, chosen per token by its shape: a JWT goes to OIDC (when configured), a
 * `dlk_` key to the database, anything else to the static tokens of API_TOKENS. Shapes do not overlap,
 * so each token is checked by exactly one mechanism and a refusal names that mechanism's reason.
 */
import type pg from 'pg';
import type { Config } from '../../config/env';
import { looksLikeApiKey } from '../../db/apiKeysRepo';
import type { Logger } from '../errors';
import { ApiKeyAuthenticator } from './apiKeys';
import { looksLikeJwt, OidcAuthenticator } from './oidc';
import { StaticTokenAuthenticator } from './staticTokens';
import type { Actor, Authenticator } from './types';

export interface AuthenticatorParts {
  oidc?: Authenticator;
  apiKeys?: Authenticator;
  staticTokens: Authenticator;
}

export class CompositeAuthenticator implements Authenticator {
  constructor(private readonly parts: AuthenticatorParts) {}

  authenticate(token: string): Promise<Actor | undefined> {
    const { oidc, apiKeys, staticTokens } = this.parts;
    if (oidc && looksLikeJwt(token)) return oidc.authenticate(token);
    if (apiKeys && looksLikeApiKey(token)) return apiKeys.authenticate(token);
    return staticTokens.authenticate(token);
  }
}

export interface AuthenticatorDeps {
  config: Config;
  /** Without a pool (in-memory tests) API keys are not accepted. */
  pool?: pg.Pool;
  clock?: () => Date;
  logger?: Pick<Logger, 'error' | 'warn'>;
}

/** OIDC is configured when its issuer is (config/env.ts makes sure audience and JWKS URL come with it). */
export function createAuthenticator({ config, pool, clock, logger }: AuthenticatorDeps): CompositeAuthenticator {
  const oidc =
    config.OIDC_ISSUER && config.OIDC_AUDIENCE && config.OIDC_JWKS_URL
      ? new OidcAuthenticator({
          issuer: config.OIDC_ISSUER,
          audience: config.OIDC_AUDIENCE,
          jwksUrl: config.OIDC_JWKS_URL,
          algorithms: config.OIDC_ALGORITHMS,
          clockToleranceSeconds: config.OIDC_CLOCK_TOLERANCE_SECONDS,
          actorClaim: config.OIDC_ACTOR_CLAIM,
          roleClaim: config.OIDC_ROLE_CLAIM,
          roleMap: config.OIDC_ROLE_MAP,
          clock,
          logger,
        })
      : undefined;
  return new CompositeAuthenticator({
    oidc,
    apiKeys: pool ? new ApiKeyAuthenticator(pool, { clock, logger }) : undefined,
    staticTokens: new StaticTokenAuthenticator(config.API_TOKENS),
  });
}
