/**
 * The Express side of authentication: find the bearer token, ask the Authenticator, answer 401 or 403
 * in the API's error shape (DESIGN §4), and check roles per route.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { ApiRole } from '../../config/env';
import { isDevelopmentToken } from '../../config/credentialRules';
import { ApiError } from '../errors';
import { CredentialsRefused, type Actor, type Authenticator } from './types';

const REALM = 'device-lifecycle';

/** RFC 6750: a 401 names the scheme, and an `error` code once a token was presented and refused. */
function unauthorized(message: string, tokenPresented: boolean): ApiError {
  const challenge = tokenPresented
    ? `Bearer realm="${REALM}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`
    : `Bearer realm="${REALM}"`;
  return new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': challenge });
}

function refused(err: CredentialsRefused): ApiError {
  if (err.status === 403) return new ApiError(403, 'forbidden', err.message);
  return unauthorized(err.message, true);
}

export interface AuthenticateOptions {
  /** Told of every credential that was never valid, before the 401 (the address throttle counts them). */
  onGuess?: (req: Request) => void;
  /**
   * Whether development and example tokens (config/credentialRules.ts) may be used by this request: a
   * backstop behind the start-up check, for an app built with a configuration that skipped it.
   */
  developmentTokensAllowed?: (req: Request) => boolean;
}

export function authenticate(authenticator: Authenticator, options: AuthenticateOptions = {}): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) throw unauthorized('missing Authorization header (expected "Bearer <token>")', false);
    const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    if (!match) throw unauthorized('Authorization header must be "Bearer <token>"', false);
    const token = match[1]!;
    const guess = (message: string) => {
      options.onGuess?.(req);
      return unauthorized(message, true);
    };
    if (options.developmentTokensAllowed && isDevelopmentToken(token) && !options.developmentTokensAllowed(req)) {
      throw guess('development tokens are refused here (only NODE_ENV development or test, API on loopback)');
    }
    let actor: Actor | undefined;
    try {
      actor = await authenticator.authenticate(token);
    } catch (err) {
      if (!(err instanceof CredentialsRefused)) throw err;
      if (err.guess) options.onGuess?.(req);
      throw refused(err);
    }
    if (!actor) throw guess('unknown or revoked token');
    res.locals.actor = actor;
    next();
  };
}

export function actorOf(res: Response): Actor {
  const actor = res.locals.actor as Actor | undefined;
  // Routes are mounted behind authenticate(); reaching here without an actor is a wiring bug.
  if (!actor) throw new Error('route reached without an authenticated actor');
  return actor;
}

export function requireRole(...roles: ApiRole[]): RequestHandler {
  return (_req, res, next) => {
    const actor = actorOf(res);
    if (!roles.includes(actor.role)) {
      throw new ApiError(403, 'forbidden', `role ${actor.role} may not do this (needs ${roles.join(' or ')})`, {
        role: actor.role,
        allowed: roles,
      });
    }
    next();
  };
}

export const ANY_ROLE: ApiRole[] = ['admin', 'field-staff', 'viewer'];
export const REPORTERS: ApiRole[] = ['admin', 'field-staff'];
