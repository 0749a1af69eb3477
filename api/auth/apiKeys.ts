/**
 * Bearer API keys from the database (created and revoked with `npm run api-key`). The key is never
 * logged; only its id and prefix ever appear in messages. An unknown key is remembered by its hash
 * (UnknownKeyCache), so asking again costs no query.
 */
import type pg from 'pg';
import * as apiKeysRepo from '../../db/apiKeysRepo';
import type { Logger } from '../errors';
import { CredentialsRefused, type Actor, type Authenticator } from './types';
import { UnknownKeyCache } from './unknownKeyCache';

export interface ApiKeyAuthenticatorOptions {
  clock?: () => Date;
  logger?: Pick<Logger, 'warn'>;
  /** How stale `last_used_at` may get before a request refreshes it. */
  touchEveryMs?: number;
  unknownKeys?: UnknownKeyCache;
}

export class ApiKeyAuthenticator implements Authenticator {
  private readonly clock: () => Date;
  private readonly logger: Pick<Logger, 'warn'>;
  private readonly touchEveryMs: number;
  private readonly unknownKeys: UnknownKeyCache;

  constructor(
    private readonly pool: pg.Pool,
    options: ApiKeyAuthenticatorOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger ?? console;
    this.touchEveryMs = options.touchEveryMs ?? 60_000;
    this.unknownKeys = options.unknownKeys ?? new UnknownKeyCache();
  }

  async authenticate(token: string): Promise<Actor | undefined> {
    if (!apiKeysRepo.looksLikeApiKey(token)) return undefined;
    const hash = apiKeysRepo.hashApiKey(token);
    if (this.unknownKeys.has(hash)) return undefined;
    const key = await apiKeysRepo.findByKey(this.pool, token);
    if (!key) {
      this.unknownKeys.add(hash);
      return undefined;
    }
    // Saying "revoked" or "expired" only tells the holder of the real key what they already hold.
    if (key.revokedAt) throw new CredentialsRefused('API key revoked');
    const now = this.clock();
    if (key.expiresAt && Date.parse(key.expiresAt) <= now.getTime()) throw new CredentialsRefused('API key expired');
    await this.recordUse(key);
    return { id: key.actorId, role: key.role, credential: `key:${key.id}` };
  }

  /** At most one write per key per interval; a failed write must not refuse a valid key. */
  private async recordUse(key: apiKeysRepo.ApiKey): Promise<void> {
    // Real time, not the injectable clock: last_used_at is written with the database's now().
    if (key.lastUsedAt && Date.now() - Date.parse(key.lastUsedAt) < this.touchEveryMs) return;
    try {
      await apiKeysRepo.touch(this.pool, key.id, this.touchEveryMs);
    } catch (err) {
      this.logger.warn(
        `[auth] could not record use of API key ${key.id} (${key.keyPrefix}): ${(err as Error).message}`,
      );
    }
  }
}
