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

function firstDetail(failure: ApplicationFailure): Record<string, unknown> {
  const d = failure.details?.[0];
  return d && typeof d === 'object' ? (d as Record<string, unknown>) : {};
}

/** What a workflow's update validator or handler refused, as the HTTP answer DESIGN §4 asks for. */
export function fromUpdateFailure(err: WorkflowUpdateFailedError, workflowId: string): ApiError {
  const failure = err.cause;
  if (!(failure instanceof ApplicationFailure)) {
    return new ApiError(
      409,
      'update-rejected',
      `${workflowId} refused the request: ${failure?.message ?? err.message}`,
    );
  }
  const detail = firstDetail(failure);
  switch (failure.type) {
    case 'EventNotExpected': {
      const expects = Array.isArray(detail.expects) ? detail.expects.map(String) : [];
      const step = typeof detail.step === 'string' ? detail.step : 'unknown';
      const expected = expects.length ? `it expects ${expects.join(' or ')}` : 'it expects no report now';
      return new ApiError(
        409,
        'event-not-expected',
        `${workflowId} is at step ${step}; ${expected}. ${failure.message}`,
        {
          workflowId,
          step,
          expects,
          status: detail.status,
        },
      );
    }
    case 'InvalidReport': {
      const problems = Array.isArray(detail.problems) ? detail.problems.map(String) : [failure.message];
      return new ApiError(400, 'invalid-input', `invalid report: ${problems.join('; ')}`, {
        problems: problems.map(splitProblem),
      });
    }
    case 'CommandNotAllowed':
      return new ApiError(409, 'command-not-allowed', failure.message, { workflowId, ...detail });
    default:
      // A refusal the API does not know by name is still the workflow's decision, not an API bug.
      return new ApiError(409, 'update-rejected', `${workflowId} refused the request: ${failure.message}`, {
        workflowId,
        type: failure.type,
      });
  }
}

/** `field: why` strings (from describeIssues) as the `{ field, problem }` pairs every 400 uses. */
export function splitProblem(text: string): { field: string; problem: string } {
  const i = text.indexOf(': ');
  return i > 0 ? { field: text.slice(0, i), problem: text.slice(i + 2) } : { field: '(body)', problem: text };
}

export function isUpdateTimeout(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
}
