/**
 * The repositories' typed errors as HTTP answers (DESIGN §4): what the caller can fix is a 4xx naming the
 * field or the conflict. PostgreSQL being down, restarting or recovering is an outage (`databaseOutage`,
 * answered 503 by the error handler); anything else stays an error (a 500 with a request id).
 */
import {
  ApplicationUnavailableError,
  ConcurrentUpdateError,
  ConstraintViolationError,
  IdempotencyKeyConflictError,
  InvalidCursorError,
  InvalidInputError,
  NotFoundError,
} from '../db/types';
import { ApiError, invalidInput, type Outage } from './errors';

// Unique constraints are conflicts with another row; CHECK failures are bad input.
const CONFLICT_CONSTRAINTS: Record<string, string> = {
  assets_serial_number_key: 'serialNumber',
  assets_mdm_device_id_key: 'mdmDeviceId',
  applications_one_open_per_asset: 'assetNumber',
  applications_one_open_per_workflow: 'workflowId',
};

export function fromDbError(err: unknown): unknown {
  if (err instanceof InvalidInputError) {
    return invalidInput(
      'invalid input',
      err.issues.map((i) => ({ field: i.path || '(body)', problem: i.message })),
    );
  }
  if (err instanceof InvalidCursorError) {
    return invalidInput('invalid query', [{ field: 'cursor', problem: 'not a cursor from this list' }]);
  }
  if (err instanceof NotFoundError) return new ApiError(404, 'not-found', err.message, { [err.entity]: err.id });
  if (err instanceof ConstraintViolationError) {
    const field = err.constraint ? CONFLICT_CONSTRAINTS[err.constraint] : undefined;
    if (field) return new ApiError(409, 'conflict', err.message, { field, constraint: err.constraint });
    return invalidInput('refused by the database', [{ field: '(body)', problem: err.message }]);
  }
  if (err instanceof IdempotencyKeyConflictError) {
    return new ApiError(
      409,
      'idempotency-key-reused',
      `${err.message}; use a new Idempotency-Key for a different request`,
      {
        idempotencyKey: err.idempotencyKey,
      },
    );
  }
  if (err instanceof ConcurrentUpdateError) {
    return new ApiError(409, 'concurrent-update', err.message, {
      expectedVersion: err.expectedVersion,
      actualVersion: err.actualVersion,
    });
  }
  if (err instanceof ApplicationUnavailableError) {
    return new ApiError(409, 'application-unavailable', err.message, {
      state: err.application.state,
      workflowId: err.application.workflowId,
    });
  }
  return err;
}

/** Runs a repository call and translates its typed errors. */
export async function dbCall<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw fromDbError(err);
  }
}

/**
 * Refused before any work was done: no server listening or reachable, the server starting up, shutting
 * down for new sessions or in recovery (57P03), out of connections, a statement rolled back for a
 * deadline or a lock (57014, 55P03, 40001, 40P01), a read-only standby after a failover.
 */
const REFUSED_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P03',
  '53300',
  '08001',
  '08004',
  '57014',
  '55P03',
  '40001',
  '40P01',
  '25006',
]);
/** Cut off while working: the connection lost mid-query, the server shut down or crashed (57P01, 57P02). */
const CUT_OFF_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01',
  '57P02',
  '08000',
  '08003',
  '08006',
  '08007',
]);
/** node-postgres says these in words only (no code). */
const REFUSED_MESSAGES = [
  /^timeout exceeded when trying to connect$/,
  /^Connection terminated due to connection timeout$/,
];
const CUT_OFF_MESSAGES = [
  /^Connection terminated( unexpectedly)?$/,
  /^Client (has encountered a connection error|was closed) and is not queryable$/,
];

/** The error, or the one it wraps, as `{ code, message }`. */
function* causes(err: unknown): Generator<{ code?: unknown; message?: unknown }> {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    yield e as { code?: unknown; message?: unknown };
    // An AggregateError (a host with several addresses, all refused) holds its causes in `errors`.
    const inner = (e as { errors?: unknown[] }).errors?.[0];
    e = (e as { cause?: unknown }).cause ?? inner;
  }
}

/** PostgreSQL is down, restarting or recovering: a retry can fix it (503), it is no bug. */
export function databaseOutage(err: unknown): Outage | undefined {
  for (const e of causes(err)) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    const message = typeof e.message === 'string' ? e.message : '';
    const refused = (code && REFUSED_CODES.has(code)) || REFUSED_MESSAGES.some((m) => m.test(message));
    const cutOff = (code && CUT_OFF_CODES.has(code)) || CUT_OFF_MESSAGES.some((m) => m.test(message));
    if (!refused && !cutOff) continue;
    const what =
      code === '57P03'
        ? 'the database is starting up, shutting down or recovering'
        : cutOff
          ? 'the connection to the database was lost'
          : 'the database is not reachable or too busy';
    return { code: 'database-unavailable', what, mayHaveApplied: Boolean(cutOff), retryAfterSeconds: 5 };
  }
  return undefined;
}
