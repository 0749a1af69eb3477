/**
 * API keys: `dlk_` followed by 32 random bytes in base64url. Only the SHA-256 of a key is stored, so a
 * database dump or backup grants nothing; a key is shown once, by create(). A hash lookup replaces a
 * constant-time comparison (there is no stored secret to compare against character by character).
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { API_ROLES, type ApiRole } from '../config/env';
import { InvalidCursorError, InvalidInputError, translateDbError, type Page, type Queryable } from './types';

export const API_KEY_MARKER = 'dlk_';
const KEY_PATTERN = /^dlk_[A-Za-z0-9_-]{43}$/;
const PREFIX_PATTERN = /^dlk_[A-Za-z0-9_-]{8}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ApiKey {
  id: string;
  actorId: string;
  role: ApiRole;
  name: string | null;
  /** `dlk_` and the next 8 characters: shown in lists so people can tell their keys apart. */
  keyPrefix: string;
  createdBy: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
}

interface ApiKeyRow {
  id: string;
  actor_id: string;
  role: ApiRole;
  name: string | null;
  key_prefix: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
}

const COLUMNS =
  'id, actor_id, role, name, key_prefix, created_by, created_at, expires_at, revoked_at, revoked_by, last_used_at';

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    actorId: row.actor_id,
    role: row.role,
    name: row.name,
    keyPrefix: row.key_prefix,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    revokedBy: row.revoked_by,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}

/** True when `token` has the shape of one of our keys (cheap check before any database work). */
export function looksLikeApiKey(token: string): boolean {
  return KEY_PATTERN.test(token);
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function generateApiKey(): string {
  return `${API_KEY_MARKER}${randomBytes(32).toString('base64url')}`;
}

const text = (max: number) => z.string().trim().min(1).max(max);

export const apiKeyInputSchema = z.strictObject({
  actorId: text(200),
  role: z.enum(API_ROLES),
  name: text(100).nullable().optional(),
  createdBy: text(200),
  expiresAt: z.date().nullable().optional(),
});
export type ApiKeyInput = z.infer<typeof apiKeyInputSchema>;

/** Creates a key; the returned `key` is the only copy of the secret there will ever be. */
export async function create(db: Queryable, input: ApiKeyInput): Promise<{ key: string; apiKey: ApiKey }> {
  const parsed = apiKeyInputSchema.safeParse(input);
  if (!parsed.success) throw InvalidInputError.fromZod('API key', parsed.error);
  const k = parsed.data;
  const key = generateApiKey();
  try {
    const { rows } = await db.query<ApiKeyRow>(
      `INSERT INTO api_keys (actor_id, role, name, key_prefix, key_hash, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [k.actorId, k.role, k.name ?? null, key.slice(0, 12), hashApiKey(key), k.createdBy, k.expiresAt ?? null],
    );
    return { key, apiKey: toApiKey(rows[0]!) };
  } catch (err) {
    throw translateDbError(err);
  }
}

/** The key's record, revoked and expired ones included (the caller says why it refuses them). */
export async function findByKey(db: Queryable, key: string): Promise<ApiKey | null> {
  if (!looksLikeApiKey(key)) return null;
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1`, [hashApiKey(key)]);
  return rows[0] ? toApiKey(rows[0]) : null;
}

/**
 * Records a use unless one was recorded within `withinMs`. The condition is in SQL too, so several API
 * processes seeing the same stale value write once between them.
 */
export async function touch(db: Queryable, id: string, withinMs = 60_000): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2::double precision))`,
    [id, withinMs / 1000],
  );
}

// ---------------------------------------------------------------------------------------------- lists

/**
 * The cursor is the last row's id; the query looks its created_at up again. Keys are never deleted, so
 * the row is always there, and its full (microsecond) timestamp is used rather than a rounded copy.
 */
function encodeCursor(row: ApiKey): string {
  return Buffer.from(row.id).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!UUID.test(id)) throw new InvalidCursorError();
  return id;
}

export interface ListOptions {
  includeRevoked?: boolean;
  limit?: number;
  cursor?: string;
}

/** Oldest first (stable across pages); never contains a secret. */
export async function list(db: Queryable, options: ListOptions = {}): Promise<Page<ApiKey>> {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
  const after = options.cursor ? decodeCursor(options.cursor) : null;
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys
      WHERE ($1 OR revoked_at IS NULL)
        AND ($2::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM api_keys WHERE id = $2::uuid))
      ORDER BY created_at, id LIMIT $3`,
    [options.includeRevoked ?? false, after, limit + 1],
  );
  const items = rows.slice(0, limit).map(toApiKey);
  return { items, nextCursor: rows.length > limit ? encodeCursor(items.at(-1)!) : null };
}

// ---------------------------------------------------------------------------------------------- revoke

export class ApiKeyNotFoundError extends Error {
  constructor(readonly ref: string) {
    super(`no API key with id or prefix ${ref}`);
    this.name = 'ApiKeyNotFoundError';
  }
}

/** Two keys share a prefix (rare: 48 random bits); the caller must use the id. */
export class AmbiguousApiKeyError extends Error {
  constructor(
    readonly ref: string,
    readonly ids: string[],
  ) {
    super(`prefix ${ref} matches ${ids.length} keys (${ids.join(', ')}); revoke by id instead`);
    this.name = 'AmbiguousApiKeyError';
  }
}

/** True when `ref` could name a key: its id (uuid) or its prefix (`dlk_` + 8 characters). */
export function isApiKeyRef(ref: string): boolean {
  return UUID.test(ref) || PREFIX_PATTERN.test(ref);
}

async function resolveRef(db: Queryable, ref: string): Promise<ApiKey> {
  if (!isApiKeyRef(ref)) throw new ApiKeyNotFoundError(ref);
  const column = UUID.test(ref) ? 'id' : 'key_prefix';
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE ${column} = $1 ORDER BY created_at, id`,
    [ref],
  );
  if (rows.length === 0) throw new ApiKeyNotFoundError(ref);
  if (rows.length > 1)
    throw new AmbiguousApiKeyError(
      ref,
      rows.map((r) => r.id),
    );
  return toApiKey(rows[0]!);
}

/**
 * Revokes the key named by id or prefix. Revoking twice is not an error (`alreadyRevoked`), so a
 * retried command or request gets the same answer; the first revocation's time and author are kept.
 */
export async function revoke(
  db: Queryable,
  ref: string,
  revokedBy: string,
): Promise<{ apiKey: ApiKey; alreadyRevoked: boolean }> {
  const target = await resolveRef(db, ref);
  const { rows } = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`,
    [target.id, revokedBy],
  );
  if (rows[0]) return { apiKey: toApiKey(rows[0]), alreadyRevoked: false };
  return { apiKey: await resolveRef(db, target.id), alreadyRevoked: true };
}
