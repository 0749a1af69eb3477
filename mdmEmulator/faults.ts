/**
 * Fault injection, configured through /admin/faults. Faults live in memory only: a restart is a clean
 * slate, which is what a test expects after it restarts the emulator on purpose.
 *
 * The request log (GET /admin/requests) is kept here too: `recorder` runs before the outage and the rate
 * limit, so a test also counts the requests those turned away.
 *
 * Rules apply to API requests only (never to /admin or the spec), in the order they were added:
 * - latency: delay matching requests by `ms` (optionally only the next `count`);
 * - error:   answer the next `count` matching requests with `status` (5xx, 4xx, or 429 with Retry-After);
 * - stall-jobs: matching commands (one device, or all) stop at `stage` forever; only the next `count` if given.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RequestHandler, Response } from 'express';
import type { Job } from './types';

const match = {
  method: z.string().toUpperCase().optional(),
  pathPrefix: z.string().startsWith('/').optional(),
};

export const faultRuleBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('latency'),
    ms: z.number().int().min(0).max(120_000),
    count: z.number().int().min(1).optional(),
    ...match,
  }),
  z.strictObject({
    kind: z.literal('error'),
    status: z.number().int().min(400).max(599),
    count: z.number().int().min(1).default(1),
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    ...match,
  }),
  z.strictObject({
    kind: z.literal('stall-jobs'),
    count: z.number().int().min(1).optional(),
    deviceId: z.string().min(1).optional(),
    stage: z.enum(['queued', 'acknowledged']).default('queued'),
  }),
]);
export type FaultRuleInput = z.infer<typeof faultRuleBody>;
/** What a client sends (defaults not yet applied). */
export type FaultRuleRequest = z.input<typeof faultRuleBody>;
export type FaultRule = FaultRuleInput & { id: string; remaining?: number };

export interface RecordedRequest {
  method: string;
  path: string;
  /** The status answered; 0 while in flight, or when the connection closed without an answer. */
  status: number;
  /** Set when the connection closed before an answer was sent (outage mode `refuse`, a client that gave up). */
  noAnswer?: true;
  idempotencyKey?: string;
  at: string;
}

export interface Faults {
  rules: FaultRule[];
  requests: RecordedRequest[];
  add(input: FaultRuleInput): FaultRule;
  clear(): void;
  /** Middleware: records the request and, once answered, its status. */
  recorder: RequestHandler;
  /** Middleware: applies latency and error rules. */
  middleware: RequestHandler;
  /** Consumes a stall-jobs rule for this command, if one matches. */
  stallFor(deviceId: string): Job['stalledAt'];
}

const maxRecorded = 2000;

export function createFaults(): Faults {
  const faults: Faults = {
    rules: [],
    requests: [],
    add(input) {
      const rule: FaultRule = {
        ...input,
        id: `fault-${randomUUID()}`,
        ...(input.count ? { remaining: input.count } : {}),
      };
      faults.rules.push(rule);
      return rule;
    },
    clear() {
      faults.rules = [];
      faults.requests = [];
    },
    recorder: (req, res, next) => {
      record(faults, req.method, req.path, req.get('Idempotency-Key'), res);
      next();
    },
    middleware: async (req, res, next) => {
      const delay = take(faults, 'latency', req.method, req.path);
      if (delay?.kind === 'latency' && delay.ms > 0) await sleep(delay.ms);
      const error = take(faults, 'error', req.method, req.path);
      if (error?.kind !== 'error') return next();
      if (error.retryAfterSeconds !== undefined) res.set('Retry-After', String(error.retryAfterSeconds));
      res.status(error.status).json({
        error: {
          code: 'injected_fault',
          message: `Injected fault: HTTP ${error.status}.`,
          details: { faultId: error.id },
        },
      });
    },
    stallFor(deviceId) {
      const rule = faults.rules.find((r) => r.kind === 'stall-jobs' && (!r.deviceId || r.deviceId === deviceId));
      if (rule?.kind !== 'stall-jobs') return undefined;
      consume(faults, rule);
      return rule.stage;
    },
  };
  return faults;
}

function record(faults: Faults, method: string, path: string, idempotencyKey: string | undefined, res: Response): void {
  const entry: RecordedRequest = {
    method,
    path,
    status: 0,
    at: new Date().toISOString(),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
  faults.requests.push(entry);
  if (faults.requests.length > maxRecorded) faults.requests.shift();
  res.on('finish', () => {
    entry.status = res.statusCode;
  });
  res.on('close', () => {
    if (!res.writableFinished) entry.noAnswer = true;
  });
}

function take(faults: Faults, kind: 'latency' | 'error', method: string, path: string): FaultRule | undefined {
  const rule = faults.rules.find((r) => r.kind === kind && matches(r, method, path));
  if (rule) consume(faults, rule);
  return rule;
}

function matches(rule: FaultRule, method: string, path: string): boolean {
  if (rule.kind === 'stall-jobs') return false;
  return (!rule.method || rule.method === method) && (!rule.pathPrefix || path.startsWith(rule.pathPrefix));
}

function consume(faults: Faults, rule: FaultRule): void {
  if (rule.remaining === undefined) return;
  rule.remaining -= 1;
  if (rule.remaining <= 0) faults.rules = faults.rules.filter((r) => r !== rule);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
