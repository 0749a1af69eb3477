/**
 * Keeps every MDM call of the service under the MDM's rate limits (MDM_RATE_LIMIT for all calls,
 * MDM_WRITE_RATE_LIMIT for writes), across worker replicas: slots are granted from one log in PostgreSQL
 * (db/mdmCallSlotsRepo.ts) over a sliding window on the database clock.
 *
 * A call counts from its grant until it has finished, plus the window. Counting it while it runs, rather
 * from its grant only, is what keeps the MDM's own sliding window (which sees the request somewhere
 * between our grant and our reading the answer) under the limit whatever the network and event-loop
 * delays; `marginMs` only covers clock granularity at the MDM's window edge.
 *
 * A caller without a free slot sleeps until one leaves the window and asks again. If that would take
 * longer than `maxWaitMs` it gets a retryable MdmRateLimitedError with `retryAfterMs` instead, so an
 * activity never nears its start-to-close timeout and the workflow waits the throttling out like any other.
 * Within one process the callers of a kind queue in memory (first come, first served), so only one of them
 * at a time asks the database.
 *
 * Not seen here: an adapter's own HTTP retries (mdm/httpClient.ts retries 5xx, timeouts and short 429s
 * inside one call) are extra requests within one slot. Where the MDM's limit must never be exceeded, keep
 * MDM_MAX_ATTEMPTS low or set the limits below the MDM's by the expected share of retries.
 */
import type pg from 'pg';
import type { RateLimit } from '../config/env';
import { finish, tryGrant, type BucketLimit, type MdmCallKind } from '../db/mdmCallSlotsRepo';
import { MdmRateLimitedError } from './errors';

export type { MdmCallKind };

export interface MdmCallSlot {
  /** Says the call has finished (answered or failed); from then on it counts for one window only. */
  release(): Promise<void>;
}

export interface MdmCallLimiter {
  /**
   * Waits for a slot for one MDM call and returns it; release it when the call has finished. Throws a
   * retryable MdmRateLimitedError when no slot frees within `maxWaitMs`.
   */
  acquire(kind: MdmCallKind): Promise<MdmCallSlot>;
}

export interface MdmPacingOptions {
  /** Every call (reads and writes); null: not limited. */
  all: RateLimit | null;
  /** Writes only; a write also counts in `all`. Null: not limited. */
  writes: RateLimit | null;
  /** The longest a caller waits for a slot before getting MdmRateLimitedError. */
  maxWaitMs?: number;
  /** Added to each window. */
  marginMs?: number;
  /**
   * How long a call not yet released counts as running: a replica that dies mid-call holds its slot this
   * long. Longer than any call (timeouts and in-call retries included).
   */
  leaseMs?: number;
  /** Called each time a caller has to wait (for logs and tests). */
  onWait?: (event: { kind: MdmCallKind; bucket: 'all' | 'writes'; waitMs: number }) => void;
  /** Called when releasing a slot failed (the slot then counts until its lease ends). */
  onReleaseError?: (err: unknown) => void;
}

export const PACING_DEFAULTS = { maxWaitMs: 20_000, marginMs: 50, leaseMs: 120_000 } as const;

const NO_SLOT: MdmCallSlot = { release: async () => undefined };

export function createMdmCallLimiter(pool: pg.Pool, options: MdmPacingOptions): MdmCallLimiter {
  const maxWaitMs = options.maxWaitMs ?? PACING_DEFAULTS.maxWaitMs;
  const marginMs = options.marginMs ?? PACING_DEFAULTS.marginMs;
  const leaseMs = options.leaseMs ?? PACING_DEFAULTS.leaseMs;
  const limitsOf = bucketLimits(options, marginMs);
  const pruneOlderThanMs = Math.max(0, ...[...limitsOf.read, ...limitsOf.write].map((l) => l.countedMs));
  const turns = { read: createTurns(), write: createTurns() };
  // What the caller at the head of the queue last had to wait: the estimate a caller that gave up in the
  // queue passes on.
  const lastWaitMs = { read: 0, write: 0 };

  const slot = (slotId: string): MdmCallSlot => {
    let released: Promise<void> | undefined;
    const finishOnce = async () => {
      try {
        await finish(pool, slotId);
      } catch (err) {
        (options.onReleaseError ?? ((e) => console.error('[mdm pacing] releasing a slot failed:', e)))(err);
      }
    };
    return { release: () => (released ??= finishOnce()) };
  };

  async function waitForSlot(kind: MdmCallKind, limits: BucketLimit[], startedAt: number): Promise<MdmCallSlot> {
    for (;;) {
      const attempt = await tryGrant(pool, { kind, limits, leaseMs, pruneOlderThanMs });
      if (attempt.granted) return slot(attempt.slotId);
      lastWaitMs[kind] = attempt.waitMs;
      const limit = limits.find((l) => l.bucket === attempt.bucket)!;
      if (Date.now() - startedAt + attempt.waitMs > maxWaitMs) throw rateLimited(kind, limit, attempt.waitMs);
      options.onWait?.({ kind, bucket: attempt.bucket, waitMs: attempt.waitMs });
      await sleep(attempt.waitMs);
    }
  }

  return {
    async acquire(kind) {
      const limits = limitsOf[kind];
      if (limits.length === 0) return NO_SLOT;
      const startedAt = Date.now();
      const done = await turns[kind].take(maxWaitMs);
      if (!done) throw rateLimited(kind, limits[0]!, Math.max(lastWaitMs[kind], 1));
      try {
        return await waitForSlot(kind, limits, startedAt);
      } finally {
        done();
      }
    },
  };
}

/** The buckets a read and a write count in; a bucket whose limit is off is left out. */
function bucketLimits(options: MdmPacingOptions, marginMs: number): Record<MdmCallKind, BucketLimit[]> {
  const limit = (bucket: 'all' | 'writes', rate: RateLimit | null): BucketLimit[] =>
    rate ? [{ bucket, calls: rate.calls, countedMs: rate.windowMs + marginMs }] : [];
  const all = limit('all', options.all);
  return { read: all, write: [...all, ...limit('writes', options.writes)] };
}

function rateLimited(kind: MdmCallKind, limit: BucketLimit, waitMs: number): MdmRateLimitedError {
  return new MdmRateLimitedError(
    `MDM pacing: no free slot for a ${kind} within the wait limit (${limit.bucket}: ${limit.calls} calls per ` +
      `${limit.countedMs} ms); the next frees in about ${waitMs} ms`,
    waitMs,
  );
}

/**
 * One caller at a time (first come, first served); `take` resolves to the function that passes the turn
 * on, or to undefined when the turn did not come within `timeoutMs`.
 */
function createTurns() {
  const queue: Array<() => void> = [];
  let busy = false;
  const passOn = () => {
    const next = queue.shift();
    if (next) next();
    else busy = false;
  };
  return {
    take(timeoutMs: number): Promise<(() => void) | undefined> {
      if (!busy) {
        busy = true;
        return Promise.resolve(once(passOn));
      }
      return new Promise((resolve) => {
        const start = () => {
          clearTimeout(timer);
          resolve(once(passOn));
        };
        const timer = setTimeout(() => {
          queue.splice(queue.indexOf(start), 1);
          resolve(undefined);
        }, timeoutMs);
        queue.push(start);
      });
    },
  };
}

function once<T>(fn: () => T): () => T | undefined {
  let called = false;
  return () => {
    if (called) return undefined;
    called = true;
    return fn();
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
