/**
 * A configurable rate limit, set through /admin/rate-limit, that answers 429 the way Microsoft Graph
 * (Intune) throttles: with `Retry-After` or, as Intune also does, without it.
 *
 * The window slides: in any span of `windowSeconds` at most `calls` requests are accepted, counted on
 * the real clock when a request arrives (not the emulator clock, which tests move by hours). A fixed
 * window would let 2 x calls through around its boundary, and a client that paces itself with a sliding
 * window must never trip it. Rejected requests do not take a slot.
 *
 * In memory only, like fault rules: a restart is a clean slate. Never applies to /admin or the spec.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { z } from 'zod';

export const rateLimitBody = z.strictObject({
  calls: z.number().int().min(1).max(1_000_000),
  windowSeconds: z.number().positive().max(86_400),
  retryAfter: z.boolean().default(true),
  methods: z.enum(['all', 'writes']).default('all'),
});
export type RateLimitSetting = z.infer<typeof rateLimitBody>;
/** What a client sends (defaults not yet applied). */
export type RateLimitRequest = z.input<typeof rateLimitBody>;

export interface RateLimitView {
  limit: RateLimitSetting | null;
  /** Requests the limit applied to and let through since it was set. */
  accepted: number;
  /** Requests answered 429 since it was set. */
  rejected: number;
}

export interface RateLimit {
  set(setting: RateLimitSetting): RateLimitView;
  clear(): void;
  view(): RateLimitView;
  middleware: RequestHandler;
}

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createRateLimit(wallClock: () => number = Date.now): RateLimit {
  let limit: RateLimitSetting | null = null;
  let acceptedAt: number[] = []; // arrival times of accepted requests inside the current window, oldest first
  let accepted = 0;
  let rejected = 0;

  const view = (): RateLimitView => ({ limit, accepted, rejected });

  /** Milliseconds until a slot frees, or 0 when the request may pass now (and then takes the slot). */
  function admit(setting: RateLimitSetting, now: number): number {
    const windowMs = setting.windowSeconds * 1000;
    while (acceptedAt.length > 0 && acceptedAt[0] <= now - windowMs) acceptedAt.shift();
    if (acceptedAt.length < setting.calls) {
      acceptedAt.push(now);
      accepted += 1;
      return 0;
    }
    rejected += 1;
    return Math.max(1, acceptedAt[0] + windowMs - now);
  }

  return {
    set(setting) {
      limit = setting;
      acceptedAt = [];
      accepted = rejected = 0;
      return view();
    },
    clear() {
      limit = null;
      acceptedAt = [];
      accepted = rejected = 0;
    },
    view,
    middleware: (req, res, next) => {
      if (!limit || (limit.methods === 'writes' && readMethods.has(req.method))) return next();
      const waitMs = admit(limit, wallClock());
      if (waitMs === 0) return next();
      const retryAfterSeconds = Math.ceil(waitMs / 1000);
      if (limit.retryAfter) res.set('Retry-After', String(retryAfterSeconds));
      res.status(429).json(throttled(limit, retryAfterSeconds, new Date(wallClock())));
    },
  };
}

/** Shaped like Graph's throttling answer (code, message, innerError), plus the emulator's usual details. */
function throttled(limit: RateLimitSetting, retryAfterSeconds: number, at: Date) {
  const requestId = randomUUID();
  return {
    error: {
      code: 'TooManyRequests',
      message: 'Too many requests. Please retry again later.',
      innerError: {
        code: '429',
        date: at.toISOString().slice(0, 19),
        message: 'Please retry after',
        'request-id': requestId,
        status: '429',
      },
      details: {
        calls: limit.calls,
        windowSeconds: limit.windowSeconds,
        methods: limit.methods,
        ...(limit.retryAfter ? { retryAfterSeconds } : {}),
      },
    },
  };
}
