/**
 * Limits per client address that run before authentication (DESIGN §6), so a flood or a token brute
 * force is answered 429 before any credential is looked up:
 * - requests: a token bucket of API_ADDRESS_RATE_LIMIT (calls per window, the window's calls as burst);
 * - guesses: after API_AUTH_FAILURE_LIMIT unknown credentials within its window the address is refused
 *   for a minute, then two, four, ... up to an hour; the count of such blocks is forgotten an hour after
 *   the last block ended without a guess since. Requests without credentials pass (to their 401).
 * In memory and per replica, like the per-actor limit. The map is bounded: past `maxAddresses` the
 * oldest entries go.
 */
import type { Request, RequestHandler } from 'express';
import type { RateLimit } from '../../config/env';
import { ApiError } from '../errors';
import { clientAddress } from './clientAddress';

export interface AddressThrottleOptions {
  requests: RateLimit | null;
  failures: RateLimit | null;
  trustedProxyHops: number;
  clock?: () => number;
  maxAddresses?: number;
}

export interface AddressThrottle {
  /** Mounted before authentication. */
  check: RequestHandler;
  /** A credential from this request's address was never valid (unknown token, bad signature). */
  guessed(req: Request): void;
}

const FIRST_BLOCK_MS = 60_000;
const LONGEST_BLOCK_MS = 3_600_000;

interface AddressState {
  tokens: number;
  refilledAt: number;
  failures: number;
  failuresSince: number;
  lastFailureAt: number;
  blocks: number;
  blockedUntil: number;
}

function tooMany(message: string, retryAfterS: number): ApiError {
  return new ApiError(
    429,
    'rate-limited',
    `${message}; retry in ${retryAfterS} s`,
    { retryAfterSeconds: retryAfterS },
    { 'Retry-After': String(retryAfterS) },
  );
}

export function createAddressThrottle(options: AddressThrottleOptions): AddressThrottle {
  const now = options.clock ?? Date.now;
  const maxAddresses = options.maxAddresses ?? 100_000;
  const states = new Map<string, AddressState>();

  function stateOf(address: string, t: number): AddressState {
    let state = states.get(address);
    if (!state) {
      state = {
        tokens: options.requests?.calls ?? 0,
        refilledAt: t,
        failures: 0,
        failuresSince: t,
        lastFailureAt: 0,
        blocks: 0,
        blockedUntil: 0,
      };
      states.set(address, state);
      while (states.size > maxAddresses) states.delete(states.keys().next().value!);
    }
    return state;
  }

  function takeRequest(state: AddressState, t: number): number | undefined {
    const r = options.requests;
    if (!r) return undefined;
    const perMs = r.calls / r.windowMs;
    // A clock that went back refills nothing (rather than taking tokens away).
    state.tokens = Math.min(r.calls, state.tokens + Math.max(0, t - state.refilledAt) * perMs);
    state.refilledAt = t;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - state.tokens) / perMs / 1000));
  }

  const check: RequestHandler = (req, _res, next) => {
    const t = now();
    const state = stateOf(clientAddress(req, options.trustedProxyHops), t);
    // A blocked address may still be told that it sent no credential (401): that costs nothing and
    // guesses nothing.
    if (state.blockedUntil > t && req.get('authorization') !== undefined) {
      throw tooMany('too many failed authentications from this address', Math.ceil((state.blockedUntil - t) / 1000));
    }
    const wait = takeRequest(state, t);
    if (wait !== undefined) throw tooMany('too many requests from this address', wait);
    next();
  };

  function guessed(req: Request): void {
    const f = options.failures;
    if (!f) return;
    const t = now();
    const state = stateOf(clientAddress(req, options.trustedProxyHops), t);
    if (t - Math.max(state.lastFailureAt, state.blockedUntil) > LONGEST_BLOCK_MS) state.blocks = 0;
    if (t - state.failuresSince > f.windowMs) {
      state.failures = 0;
      state.failuresSince = t;
    }
    state.lastFailureAt = t;
    state.failures += 1;
    if (state.failures < f.calls) return;
    state.blocks += 1;
    state.blockedUntil = t + Math.min(LONGEST_BLOCK_MS, FIRST_BLOCK_MS * 2 ** (state.blocks - 1));
    state.failures = 0;
    state.failuresSince = t;
  }

  return { check, guessed };
}
