/**
 * Idempotency records (migration 0005): one row per (scope, key), claimed by the first request that names
 * the key and holding the fingerprint of that request and, once it is decided, its answer. The API's
 * helper (api/idempotentRequests.ts) decides what a later request with the same key gets.
 */
import { translateDbError, type Queryable } from './types';

export type IdempotencyState = 'in-progress' | 'done';

/** The parts of a request its fingerprint covers; `bodySha256` stands for the body. */
export type RequestDescriptor = Record<string, string>;

export interface IdempotencyRecord {
  scope: string;
  key: string;
  fingerprint: string;
  request: RequestDescriptor;
  state: IdempotencyState;
  response: { status: number; body: unknown } | null;
  createdAt: string;
  claimedAt: string;
}

interface Row {
  scope: string;
  key: string;
  fingerprint: string;
  request: RequestDescriptor;
  state: IdempotencyState;
  response_status: number | null;
  response_body: unknown;
  created_at: Date;
  claimed_at: Date;
}

function toRecord(row: Row): IdempotencyRecord {
  return {
    scope: row.scope,
    key: row.key,
    fingerprint: row.fingerprint,
    request: row.request,
    state: row.state,
    response: row.response_status === null ? null : { status: row.response_status, body: row.response_body },
    createdAt: row.created_at.toISOString(),
    claimedAt: row.claimed_at.toISOString(),
  };
}

async function run<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw translateDbError(err);
  }
}

/**
 * Claims (scope, key) for a request: `INSERT ... ON CONFLICT DO NOTHING RETURNING`, so of any number of
 * concurrent claimants exactly one gets true. False means the key is already taken: read it with `get`.
 */
export async function claim(
  db: Queryable,
  c: { scope: string; key: string; fingerprint: string; request: RequestDescriptor },
): Promise<boolean> {
  const { rows } = await run(
    db.query(
      `INSERT INTO idempotency_keys (scope, key, fingerprint, request, state)
       VALUES ($1, $2, $3, $4, 'in-progress')
       ON CONFLICT (scope, key) DO NOTHING
       RETURNING key`,
      [c.scope, c.key, c.fingerprint, JSON.stringify(c.request)],
    ),
  );
  return rows.length === 1;
}

/**
 * Takes over a claim still in progress after `leaseSeconds` (the API process that held it stopped):
 * true for exactly one caller, which then runs the request again. Only a claim with the same fingerprint
 * is taken over.
 */
export async function takeOver(
  db: Queryable,
  c: { scope: string; key: string; fingerprint: string; leaseSeconds: number },
): Promise<boolean> {
  const { rows } = await run(
    db.query(
      `UPDATE idempotency_keys SET claimed_at = now()
       WHERE scope = $1 AND key = $2 AND fingerprint = $3 AND state = 'in-progress'
         AND claimed_at < now() - make_interval(secs => $4)
       RETURNING key`,
      [c.scope, c.key, c.fingerprint, c.leaseSeconds],
    ),
  );
  return rows.length === 1;
}

/** The record of (scope, key), or null when nobody holds the key. */
export async function get(db: Queryable, scope: string, key: string): Promise<IdempotencyRecord | null> {
  const { rows } = await run(
    db.query<Row>('SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key]),
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Stores the answer of the request that holds the claim and marks the key done. */
export async function complete(
  db: Queryable,
  c: { scope: string; key: string; fingerprint: string; status: number; body: unknown },
): Promise<void> {
  await run(
    db.query(
      `UPDATE idempotency_keys
       SET state = 'done', response_status = $4, response_body = $5, finished_at = now()
       WHERE scope = $1 AND key = $2 AND fingerprint = $3`,
      [c.scope, c.key, c.fingerprint, c.status, JSON.stringify(c.body ?? null)],
    ),
  );
}

/**
 * Gives up a claim still in progress (the request failed without deciding anything), so the next request
 * with the key runs again. A key already done is kept.
 */
export async function release(db: Queryable, c: { scope: string; key: string; fingerprint: string }): Promise<void> {
  await run(
    db.query(
      `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND fingerprint = $3 AND state = 'in-progress'`,
      [c.scope, c.key, c.fingerprint],
    ),
  );
}
