/**
 * A token bucket per actor, in memory. Each API replica limits on its own, so the effective limit behind
 * a load balancer is N times this; good enough to stop a runaway script, not a quota system.
 */
import type { RequestHandler } from 'express';
import { actorOf } from './auth';
import { ApiError } from './errors';

export interface RateLimitOptions {
  perMinute: number;
  /** Requests allowed in a burst; defaults to a tenth of a minute's worth (at least 10). */
  burst?: number;
  clock?: () => number;
  /** Buckets idle this long are dropped so the map cannot grow without bound. */
  idleMs?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export function rateLimitPerActor(options: RateLimitOptions): RequestHandler {
  const now = options.clock ?? Date.now;
  const capacity = options.burst ?? Math.max(10, Math.ceil(options.perMinute / 10));
  const refillPerMs = options.perMinute / 60_000;
  const idleMs = options.idleMs ?? 10 * 60_000;
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  function sweep(t: number) {
    if (t - lastSweep < idleMs) return;
    lastSweep = t;
    for (const [key, b] of buckets) if (t - b.updatedAt > idleMs) buckets.delete(key);
  }

  return (_req, res, next) => {
    const t = now();
    sweep(t);
    const key = actorOf(res).id;
    const bucket = buckets.get(key) ?? { tokens: capacity, updatedAt: t };
    bucket.tokens = Math.min(capacity, bucket.tokens + (t - bucket.updatedAt) * refillPerMs);
    bucket.updatedAt = t;
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retryAfterS = Math.max(1, Math.ceil((1 - bucket.tokens) / refillPerMs / 1000));
      throw new ApiError(
        429,
        'rate-limited',
        `too many requests; retry in ${retryAfterS} s`,
        { retryAfterSeconds: retryAfterS },
        {
          'Retry-After': String(retryAfterS),
        },
      );
    }
    bucket.tokens -= 1;
    next();
  };
}
