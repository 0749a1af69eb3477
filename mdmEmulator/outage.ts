/**
 * Outage mode, set through /admin/outage: for `seconds` of real time (or until DELETE /admin/outage) every
 * API request is turned away, the way a down MDM or a broken network path looks to a client:
 * - `unavailable`: 503 (with Retry-After when `retryAfterSeconds` is given, as Intune sends it);
 * - `refuse`: the request's connection is destroyed without an answer, so the client sees a network error.
 *   This resets an accepted connection rather than refusing the TCP connect: the same listener must keep
 *   serving /admin, or a test could not end the outage.
 *
 * Never applies to /admin or the spec. In memory only, like fault rules: a restart is a clean slate.
 * Real time (not the emulator clock) because an outage is about when requests arrive.
 */
import type { RequestHandler } from 'express';
import { z } from 'zod';

export const outageBody = z
  .strictObject({
    mode: z.enum(['unavailable', 'refuse']),
    seconds: z.number().positive().max(86_400).optional(),
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
  })
  .refine((o) => o.mode === 'unavailable' || o.retryAfterSeconds === undefined, {
    message: "only with mode 'unavailable' (a dropped connection carries no header)",
    path: ['retryAfterSeconds'],
  });
export type OutageSetting = z.infer<typeof outageBody>;

export interface OutageState {
  mode: OutageSetting['mode'];
  retryAfterSeconds?: number;
  startedAt: string;
  /** Absent: until DELETE /admin/outage. */
  endsAt?: string;
  /** API requests turned away so far. */
  requests: number;
}

export interface Outage {
  start(setting: OutageSetting): OutageState;
  end(): void;
  /** The outage in force now, or null (one that ran its time is over). */
  current(): OutageState | null;
  middleware: RequestHandler;
}

export function createOutage(wallClock: () => number = Date.now): Outage {
  let state: OutageState | null = null;

  const current = (): OutageState | null => {
    if (state?.endsAt && Date.parse(state.endsAt) <= wallClock()) state = null;
    return state;
  };

  return {
    start(setting) {
      const now = wallClock();
      state = {
        mode: setting.mode,
        ...(setting.retryAfterSeconds !== undefined ? { retryAfterSeconds: setting.retryAfterSeconds } : {}),
        startedAt: new Date(now).toISOString(),
        ...(setting.seconds !== undefined ? { endsAt: new Date(now + setting.seconds * 1000).toISOString() } : {}),
        requests: 0,
      };
      return state;
    },
    end() {
      state = null;
    },
    current,
    middleware: (req, res, next) => {
      const outage = current();
      if (!outage) return next();
      outage.requests += 1;
      if (outage.mode === 'refuse') {
        req.socket.destroy();
        return;
      }
      if (outage.retryAfterSeconds !== undefined) res.set('Retry-After', String(outage.retryAfterSeconds));
      res.status(503).json({
        error: {
          code: 'service_unavailable',
          message: 'The MDM is unavailable (emulated outage). Try again later.',
          details: { ...(outage.endsAt ? { endsAt: outage.endsAt } : {}) },
        },
      });
    },
  };
}
