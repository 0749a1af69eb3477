/**
 * Temporal's errors, translated into answers a client can act on. A rejected report is the client's
 * business (409/400), a worker that does not answer is a temporary outage (503 + Retry-After), and only
 * something unrecognised is left to become a 500.
 */
import {
  ApplicationFailure,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { readRefusal, Refusal, type ProcessPosition } from '../workflows/refusals';
import { ApiError } from './errors';

// gRPC status codes (kept here rather than importing @grpc/grpc-js, which is not a direct dependency).
const GRPC_NOT_FOUND = 5;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

function grpcCode(err: unknown): number | undefined {
  const cause = err instanceof ServiceError ? err.cause : err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC_NOT_FOUND;
}

/** Temporal itself is down or too slow: retryable by the client, not a bug. */
export function temporalUnavailable(err: unknown): ApiError | undefined {
  const code = grpcCode(err);
  if (code !== GRPC_UNAVAILABLE && code !== GRPC_DEADLINE_EXCEEDED) return undefined;
  return new ApiError(
    503,
    'temporal-unavailable',
    'the workflow service is not reachable; try again shortly',
    undefined,
    {
      'Retry-After': '5',
    },
  );
}

export function workerUnavailable(retryAfterS: number): ApiError {
  return new ApiError(
    503,
    'worker-unavailable',
    'the workflow did not answer in time (no worker running, or it is busy); the report was not applied unless a retry with the same idempotency key says so',
    { retryAfterSeconds: retryAfterS },
    { 'Retry-After': String(retryAfterS) },
  );
}

/** What a workflow's update validator or handler refused, as the HTTP answer DESIGN §4 asks for. */
export function fromUpdateFailure(err: WorkflowUpdateFailedError, workflowId: string): ApiError {
  const failure = err.cause;
  const refusal = readRefusal(failure);
  if (!refusal) {
    // A refusal the API does not know by name is still the workflow's decision, not an API bug.
    const type = failure instanceof ApplicationFailure ? failure.type : undefined;
    return new ApiError(
      409,
      'update-rejected',
      `${workflowId} refused the request: ${failure?.message ?? err.message}`,
      {
        workflowId,
        ...(type ? { type } : {}),
      },
    );
  }
  switch (refusal.type) {
    case Refusal.eventNotExpected:
      return eventNotExpectedError(workflowId, refusal.details, refusal.message);
    case Refusal.invalidReport: {
      const { problems } = refusal.details;
      const listed = problems.map((p) => `${p.field}: ${p.problem}`).join('; ');
      return new ApiError(400, 'invalid-input', `invalid report: ${listed}`, { problems });
    }
    case Refusal.commandNotAllowed:
      return new ApiError(409, 'command-not-allowed', refusal.message, { workflowId, ...refusal.details });
    case Refusal.idempotencyKeyReused:
      return new ApiError(409, 'idempotency-key-reused', refusal.message, { workflowId, ...refusal.details });
    case Refusal.rateLimited: {
      const retryAfter = String(refusal.details.retryAfterSeconds);
      return new ApiError(
        429,
        'rate-limited',
        refusal.message,
        { workflowId, ...refusal.details },
        {
          'Retry-After': retryAfter,
        },
      );
    }
  }
}

/** 409 naming the step the workflow is at and the events it expects there. */
export function eventNotExpectedError(workflowId: string, position: ProcessPosition, why: string): ApiError {
  const { step, expects, status } = position;
  const expected = expects.length ? `it expects ${expects.join(' or ')}` : 'it expects no report now';
  return new ApiError(409, 'event-not-expected', `${workflowId} is at step ${step}; ${expected}. ${why}`, {
    workflowId,
    step,
    expects,
    status,
  });
}

/**
 * A process registers handlers for its own events only, so Temporal itself refuses an event of the
 * other process. That refusal is the SDK's, with no type of ours: recognised by its fixed wording.
 */
export function isUnhandledUpdate(err: unknown): boolean {
  const failure = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  return Boolean(failure?.message.startsWith('No registered handler for update'));
}

export function isUpdateTimeout(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
}
