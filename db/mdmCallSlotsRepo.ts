/**
 * The shared log of MDM call slots (migration 0006) that paces every worker replica's MDM calls
 * (mdm/pacing.ts). A slot counts against a bucket from its grant until `counted_until`: grant + lease while
 * the call runs, then the time it finished. All times are the database's clock.
 */
import type pg from 'pg';

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
 * least until one of its slots leaves the window. One statement (the `mdm_grant_slot` function of migration
 * 0017): it locks the buckets (advisory, for the statement's transaction) in a fixed order, so concurrent
 * grants on any number of pools take turns and cannot both take the last slot; reads the clock after the
 * locks; counts each bucket's slots; inserts the grant and prunes slots that left every window.
 */
export async function tryGrant(
  pool: pg.Pool,
  input: { kind: MdmCallKind; limits: BucketLimit[]; leaseMs: number; pruneOlderThanMs: number },
): Promise<GrantAttempt> {
  const limits = [...input.limits].sort((a, b) => LOCK_ID[a.bucket] - LOCK_ID[b.bucket]);
  const { rows } = await pool.query<{
    slot_id: string | null;
    full_bucket: MdmCallBucket | null;
    wait_ms: number | null;
  }>(
    `SELECT slot_id::text, full_bucket, wait_ms
       FROM mdm_grant_slot($1, $2::text[], $3::int[], $4::double precision[], $5, $6, $7, $8::int[])`,
    [
      input.kind,
      limits.map((l) => l.bucket),
      limits.map((l) => l.calls),
      limits.map((l) => l.countedMs),
      input.leaseMs,
      input.pruneOlderThanMs,
      LOCK_NAMESPACE,
      limits.map((l) => LOCK_ID[l.bucket]),
    ],
  );
  const row = rows[0]!;
  if (row.slot_id !== null) return { granted: true, slotId: row.slot_id };
  return { granted: false, bucket: row.full_bucket!, waitMs: Math.max(1, Math.ceil(Number(row.wait_ms))) };
}

/** The call has finished (answered or failed): the slot counts from now on for its window only. */
export async function finish(pool: pg.Pool, slotId: string): Promise<void> {
  await pool.query(
    `UPDATE mdm_call_slots SET counted_until = greatest(granted_at, least(counted_until, clock_timestamp()))
      WHERE id = $1`,
    [slotId],
  );
}
