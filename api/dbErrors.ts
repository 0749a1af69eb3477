/**
 * The repositories' typed errors as HTTP answers (DESIGN §4): what the caller can fix is a 4xx naming the
 * field or the conflict; anything else stays an error (a 500 with a request id).
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
import { ApiError, invalidInput } from './errors';

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
