/**
 * One meaning per idempotency key. The first request that names a key claims it in PostgreSQL
 * (db/idempotencyRepo.ts) with a fingerprint of what defines it (route, path ids, event, body); a later
 * request with the key is then either another request (409 `idempotency-key-reused`, naming what differs)
 * or the same one again: it gets the first answer back (`duplicate: true` where the answer has that
 * field), waiting while the first is still running. Only answers that decided something (2xx) are kept:
 * a refusal or a failure releases the key, so the same request can be sent again and is judged afresh.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import * as idempotencyRepo from '../db/idempotencyRepo';
import type { RequestDescriptor } from '../db/idempotencyRepo';
import { ApiError } from './errors';

/** What a route answers: its status and JSON body. */
export interface Answer {
  status: number;
  body: unknown;
}

export interface IdempotentRequest {
  /** What the key is unique within: `update` (reports and commands), `start`, `application`, `asset`. */
  scope: string;
  key: string;
  /** The parts of the request besides its body, by name: `route`, `workflow`, `event`, `asset`. */
  request: RequestDescriptor;
  /** What the client sent, as parsed (without the idempotency key). */
  body: unknown;
  /** How long a repeat waits for the first request to finish (the route's update timeout). */
  waitMs: number;
  /**
   * `stored`: a repeat gets the first answer. `rerun`: a repeat runs again (the route's own write already
   * answers a repeat as such, e.g. `replayed`/`applied: false`); the key still refuses another request.
   */
  replay: 'stored' | 'rerun';
}

/** An answer replayed from the record carries this header. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** JSON with object keys sorted at every level (undefined members left out): equal requests, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The request's fingerprint and the descriptor stored with it (the body as its hash). */
export function fingerprintOf(r: Pick<IdempotentRequest, 'request' | 'body'>): {
  fingerprint: string;
  descriptor: RequestDescriptor;
} {
  const descriptor = { ...r.request, bodySha256: sha256(canonicalJson(r.body ?? null)) };
  return { fingerprint: sha256(canonicalJson(descriptor)), descriptor };
}

/** The names of what differs between two descriptors (`bodySha256` is named `body`). */
export function differences(first: RequestDescriptor, now: RequestDescriptor): string[] {
  const names = [...new Set([...Object.keys(first), ...Object.keys(now)])];
  return names.filter((n) => first[n] !== now[n]).map((n) => (n === 'bodySha256' ? 'body' : n));
}

function keyReused(key: string, first: RequestDescriptor, now: RequestDescriptor): ApiError {
  const differs = differences(first, now);
  const { bodySha256: _omitted, ...firstRequest } = first;
  void _omitted;
  return new ApiError(
    409,
    'idempotency-key-reused',
    `idempotency key ${key} was already used for another request (${differs.join(' and ')} differ${differs.length === 1 ? 's' : ''}); use a new Idempotency-Key for a different request`,
    { idempotencyKey: key, differs, firstRequest },
  );
}

function stillRunning(key: string, retryAfterSeconds: number): ApiError {
  return new ApiError(
    503,
    'request-in-progress',
    `the first request with idempotency key ${key} is still running; send it again later with the same key to get its answer`,
    { idempotencyKey: key, requestApplied: 'unknown', retryAfterSeconds },
    { 'Retry-After': String(retryAfterSeconds) },
  );
}

/** The first answer again, as a repeat's: `duplicate: true` where the answer has that field. */
function replayed(answer: Answer): Answer {
  const body = answer.body;
  if (body && typeof body === 'object' && !Array.isArray(body) && 'duplicate' in body) {
    return { status: answer.status, body: { ...body, duplicate: true } };
  }
  return answer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `run` at most once per key and meaning (see the module comment). Without a database (the in-memory
 * ports of validation tests) it just runs. Returns the answer and whether it is a replay of the first.
 */
export async function idempotent(
  pool: pg.Pool | undefined,
  r: IdempotentRequest,
  run: () => Promise<Answer>,
): Promise<Answer & { replayed: boolean }> {
  if (!pool) return { ...(await run()), replayed: false };
  const { fingerprint, descriptor } = fingerprintOf(r);
  const id = { scope: r.scope, key: r.key, fingerprint };
  // A claim held longer than this lost its API process: the request runs again (safe: every route's
  // write is itself keyed, so running it again cannot apply it twice).
  const leaseSeconds = Math.ceil(r.waitMs / 1000) * 2 + 30;
  const deadline = Date.now() + r.waitMs;
  let pause = 20;
  for (;;) {
    if (await idempotencyRepo.claim(pool, { ...id, request: descriptor })) return runClaimed(pool, id, run);
    const record = await idempotencyRepo.get(pool, r.scope, r.key);
    if (!record) continue; // released between the two statements: claim again
    if (record.fingerprint !== fingerprint) throw keyReused(r.key, record.request, descriptor);
    if (r.replay === 'rerun') return { ...(await run()), replayed: false };
    if (record.state === 'done' && record.response) return { ...replayed(record.response), replayed: true };
    if (await idempotencyRepo.takeOver(pool, { ...id, leaseSeconds })) return runClaimed(pool, id, run);
    if (Date.now() >= deadline) throw stillRunning(r.key, Math.max(1, Math.ceil(r.waitMs / 1000)));
    await sleep(Math.min(pause, Math.max(1, deadline - Date.now())));
    pause = Math.min(pause * 2, 250);
  }
}

async function runClaimed(
  pool: pg.Pool,
  id: { scope: string; key: string; fingerprint: string },
  run: () => Promise<Answer>,
): Promise<Answer & { replayed: boolean }> {
  let answer: Answer;
  try {
    answer = await run();
  } catch (err) {
    // Refused or failed: nothing was decided, so the key is free for the same request again.
    await idempotencyRepo.release(pool, id).catch(() => undefined);
    throw err;
  }
  if (answer.status >= 200 && answer.status < 300) {
    // Not awaited: the answer does not depend on it, and the client should not wait for it. A repeat that
    // comes first finds the claim in progress and waits for this write like for any running request. If
    // the write fails the claim stays in progress until its lease ends; the answer stands.
    void idempotencyRepo.complete(pool, { ...id, ...answer }).catch(() => undefined);
  } else {
    await idempotencyRepo.release(pool, id).catch(() => undefined);
  }
  return { ...answer, replayed: false };
}
