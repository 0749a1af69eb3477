/**
 * Tokens from configuration (API_TOKENS): local development, tests, and break-glass access.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiTokenEntry } from '../../config/env';
import type { Actor, Authenticator } from './types';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Comparing fixed-length digests with timingSafeEqual, and always against every entry, keeps the time
 * taken independent of how much of a guess was right and of which entry matched.
 */
export class StaticTokenAuthenticator implements Authenticator {
  private readonly entries: { hash: Buffer; actor: Actor }[];

  constructor(tokens: readonly ApiTokenEntry[]) {
    this.entries = tokens.map((t) => ({
      hash: digest(t.token),
      actor: { id: t.actorId, role: t.role, credential: `static:${t.actorId}` },
    }));
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
