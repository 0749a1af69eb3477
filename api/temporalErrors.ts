/**
 * Temporal's errors, translated into answers a client can act on. A rejected report is the client's
 * business (409/400); a worker that does not answer, Temporal unreachable or past a deadline, and a
 * workflow whose workflow task is failing are temporary outages (503 + Retry-After); only something
 * unrecognised is left to become a 500.
 */
import {
  ApplicationFailure,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { readRefusal, Refusal, type ProcessPosition } from '../workflows/refusals';
import { ApiError, unavailable, type Outage } from './errors';

// gRPC status codes (kept here rather than importing @grpc/grpc-js, which is not a direct dependency).
const GRPC_NOT_FOUND = 5;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_UNAVAILABLE = 14;

interface GrpcError {
  code?: unknown;
  details?: unknown;
  metadata?: { get(key: string): unknown[] };
}

function grpcError(err: unknown): GrpcError | undefined {
  const cause = err instanceof ServiceError ? err.cause : err;
  return cause && typeof cause === 'object' ? (cause as GrpcError) : undefined;
}

function grpcCode(err: unknown): number | undefined {
  const code = grpcError(err)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC_NOT_FOUND;
}

/**
 * Temporal's WorkflowNotReady (FAILED_PRECONDITION): the workflow cannot take an Update or a Query now,
 * because its workflow task keeps failing (a bug in workflow code, an incompatible deploy; Temporal
 * retries it) or is not scheduled yet. The server refuses before admitting anything. Recognised by the
 * failure type the server attaches to the status, or else by its fixed wording.
 */
export function isWorkflowNotReady(err: unknown): boolean {
  const grpc = grpcError(err);
  if (grpc?.code !== GRPC_FAILED_PRECONDITION) return false;
  const details = grpc.metadata?.get('grpc-status-details-bin') ?? [];
  if (details.some((d) => Buffer.isBuffer(d) && d.includes('WorkflowNotReadyFailure'))) return true;
  return (
    typeof grpc.details === 'string' &&
    /Workflow Task in failed state|Workflow task is not scheduled/i.test(grpc.details)
  );
}

/** Seconds until a failing workflow task has been retried a few times (or fixed by a deploy). */
const NOT_READY_RETRY_AFTER_S = 30;

/** Temporal is down, too slow, or the workflow cannot take requests now: retryable by the client, not a bug. */
export function temporalOutage(err: unknown): Outage | undefined {
  if (isWorkflowNotReady(err)) {
    return {
      code: 'workflow-task-failing',
      what: 'the workflow cannot take requests now: its workflow task is failing and Temporal is retrying it (a workflow bug or a deploy under way; an operator is needed if it persists)',
      mayHaveApplied: false,
      retryAfterSeconds: NOT_READY_RETRY_AFTER_S,
    };
  }
  const code = grpcCode(err);
  if (code !== GRPC_UNAVAILABLE && code !== GRPC_DEADLINE_EXCEEDED) return undefined;
  return {
    code: 'temporal-unavailable',
    what:
      code === GRPC_UNAVAILABLE
        ? 'the workflow service is not reachable'
        : 'the workflow service did not answer before the deadline',
    // Either can cut a call off after the server took it (a dropped connection, a deadline mid-way).
    mayHaveApplied: true,
    retryAfterSeconds: 5,
  };
}

/**
 * The workflow did not answer an Update in time: no worker is running, or it is busy. Temporal may still
 * deliver the admitted Update later, so whether it took effect is unknown; the same key applies it once.
 */
export function workerUnavailable(retryAfterSeconds: number): ApiError {
  const what = 'the workflow did not answer in time (no worker running, or it is busy)';
  return unavailable({ code: 'worker-unavailable', what, mayHaveApplied: true, retryAfterSeconds }, 'POST');
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
    case Refusal.notPermitted:
      return new ApiError(403, 'forbidden', refusal.message, { workflowId, ...refusal.details });
    case Refusal.contradictedByMdm:
      // The report says one thing, the MDM another: the reporter sees what the MDM shows.
      return new ApiError(409, 'contradicted-by-mdm', refusal.message, { workflowId, ...refusal.details });
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
