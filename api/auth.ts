/**
 * Who is calling. Every route except health checks needs `Authorization: Bearer <token>`; the actor found
 * here is the only actor ever sent to a workflow (a body cannot claim to be someone else). Hashed API
 * keys and OIDC will be further Authenticator implementations behind the same interface.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { ApiRole, ApiTokenEntry } from '../config/env';
import { ApiError } from './errors';

export interface Actor {
  id: string;
  role: ApiRole;
}

export interface Authenticator {
  authenticate(token: string): Promise<Actor | undefined>;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Tokens from configuration. Comparing fixed-length digests with timingSafeEqual, and always against
 * every entry, keeps the time taken independent of how much of a guess was right and of which entry matched.
 */
export class StaticTokenAuthenticator implements Authenticator {
  private readonly entries: { hash: Buffer; actor: Actor }[];

  constructor(tokens: readonly ApiTokenEntry[]) {
    this.entries = tokens.map((t) => ({ hash: digest(t.token), actor: { id: t.actorId, role: t.role } }));
  }

  authenticate(token: string): Promise<Actor | undefined> {
    const candidate = digest(token);
    let found: Actor | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.hash) && !found) found = entry.actor;
    }
    return Promise.resolve(found);
  }
}

const unauthorized = (message: string) =>
  new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer realm="device-lifecycle"' });

export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) throw unauthorized('missing Authorization header (expected "Bearer <token>")');
    const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    if (!match) throw unauthorized('Authorization header must be "Bearer <token>"');
    const actor = await authenticator.authenticate(match[1]!);
    if (!actor) throw unauthorized('unknown or revoked token');
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
