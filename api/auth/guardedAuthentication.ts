/**
 * Authentication as the API mounts it: the per-address throttle first (no credential is looked up for
 * an address that is refused), then the bearer token, with never-valid credentials counted against the
 * address and development tokens refused outside local development (DESIGN §6).
 */
import type { Request, RequestHandler } from 'express';
import { developmentTokensAllowed, isLoopbackHost } from '../../config/credentialRules';
import type { Config } from '../../config/env';
import { createAddressThrottle } from './addressThrottle';
import { authenticate } from './middleware';
import type { Authenticator } from './types';

type GuardSettings = Pick<
  Config,
  'NODE_ENV' | 'API_HOST' | 'API_ADDRESS_RATE_LIMIT' | 'API_AUTH_FAILURE_LIMIT' | 'TRUSTED_PROXY_HOPS'
>;

/** The configuration says local development, and the connection really arrived on loopback. */
function developmentRequest(config: GuardSettings): (req: Request) => boolean {
  const configured = developmentTokensAllowed(config);
  return (req) => configured && isLoopbackHost(req.socket.localAddress ?? '');
}

export function guardedAuthentication(
  config: GuardSettings,
  authenticator: Authenticator,
  clock: () => Date = () => new Date(),
): RequestHandler[] {
  const throttle = createAddressThrottle({
    requests: config.API_ADDRESS_RATE_LIMIT,
    failures: config.API_AUTH_FAILURE_LIMIT,
    trustedProxyHops: config.TRUSTED_PROXY_HOPS,
    clock: () => clock().getTime(),
  });
  return [
    throttle.check,
    authenticate(authenticator, { onGuess: throttle.guessed, developmentTokensAllowed: developmentRequest(config) }),
  ];
}
