/**
 * The shared log of MDM call slots (migration 0006) that paces every worker replica's MDM calls
 * (mdm/pacing.ts). A slot counts against a bucket from its grant until `counted_until`: grant + lease while
 * the call runs, then the time it finished. All times are the database's clock.
 */
import type pg from 'pg';
import { withTransaction } from './pool';

export type MdmCallKind = 'read' | 'write';

/** 'all' counts every call, 'writes' only writes. */
export type MdmCallBucket = 'all' | 'writes';

export interface BucketLimit {
  bucket: MdmCallBucket;
  calls: number;
  /** How long a finished call keeps counting (the MDM's window plus a safety margin). */
  countedMs: number;
}

export type GrantAttempt =
  { granted: true; slotId: string } | { granted: false; bucket: MdmCallBucket; waitMs: number };

/** Arbitrary but fixed: every copy of this service must use the same keys (db/migrate.ts uses another form). */
const LOCK_NAMESPACE = 7_351_006;
const LOCK_ID: Record<MdmCallBucket, number> = { all: 1, writes: 2 };

/**
 * Grants a slot when every given bucket has one free; otherwise says which bucket is full and how long at
 * least until one of its slots leaves the window. Buckets are locked (advisory, for the transaction) in a
 * fixed order, so concurrent grants on any number of pools take turns and cannot both take the last slot.
 */
export async function tryGrant(
  pool: pg.Pool,
  input: { kind: MdmCallKind; limits: BucketLimit[]; leaseMs: number; pruneOlderThanMs: number },
): Promise<GrantAttempt> {
  const limits = [...input.limits].sort((a, b) => LOCK_ID[a.bucket] - LOCK_ID[b.bucket]);
  return withTransaction(pool, async (client) => {
    for (const { bucket } of limits) {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCK_ID[bucket]]);
    }
    // Read after the locks: a clock read before them could be older than a grant made while we waited.
    const now = (await client.query<{ now: string }>('SELECT clock_timestamp()::text AS now')).rows[0]!.now;
    for (const limit of limits) {
      const waitMs = await slotFreesInMs(client, now, limit);
      if (waitMs !== undefined) return { granted: false, bucket: limit.bucket, waitMs };
    }
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO mdm_call_slots (kind, granted_at, counted_until)
       VALUES ($1, $2::timestamptz, $2::timestamptz + $3::double precision * interval '1 millisecond')
       RETURNING id`,
      [input.kind, now, input.leaseMs],
    );
    await client.query(
      `DELETE FROM mdm_call_slots WHERE counted_until < $1::timestamptz - $2::double precision * interval '1 millisecond'`,
      [now, input.pruneOlderThanMs],
    );
    return { granted: true, slotId: rows[0]!.id };
  });
}

/**
 * Undefined when the bucket holds fewer than `calls` counted slots at `now`; otherwise the time until the
 * newest `calls`-th slot stops counting. A call still running counts as if it finished now: a lower bound,
 * so the caller looks again then.
 */
async function slotFreesInMs(client: pg.PoolClient, now: string, limit: BucketLimit): Promise<number | undefined> {
  const writesOnly = limit.bucket === 'writes' ? "AND kind = 'write'" : '';
  const { rows } = await client.query<{ wait_ms: string }>(
    `SELECT extract(epoch FROM least(counted_until, $1::timestamptz) - $1::timestamptz)::double precision * 1000 + $2::double precision AS wait_ms
       FROM mdm_call_slots
      WHERE counted_until > $1::timestamptz - $2::double precision * interval '1 millisecond' ${writesOnly}
      ORDER BY counted_until DESC
     OFFSET $3::int - 1 LIMIT 1`,
    [now, limit.countedMs, limit.calls],
  );
  return rows[0] ? Math.max(1, Math.ceil(Number(rows[0].wait_ms))) : undefined;
}

/** The call has finished (answered or failed): the slot counts from now on for its window only. */
export async function finish(pool: pg.Pool, slotId: string): Promise<void> {
  await pool.query(
    `UPDATE mdm_call_slots SET counted_until = greatest(granted_at, least(counted_until, clock_timestamp()))
      WHERE id = $1`,
    [slotId],
  );
}
