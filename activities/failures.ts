/**
 * Turns errors that retrying cannot fix into non-retryable Temporal failures, so the workflow moves to
 * needs-attention at once instead of hammering a refusal; everything else is left to the retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MdmError, MdmRateLimitedError, MdmUnavailableError } from '../mdm/errors';
import {
  ApplicationUnavailableError,
  ConstraintViolationError,
  IdempotencyKeyConflictError,
  InvalidInputError,
  NotFoundError,
} from '../db/types';
import { MailDeliveryError } from '../mail/mailer';

export function asActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof MdmError) {
    if (!err.retryable) return ApplicationFailure.nonRetryable(`MDM refused: ${err.message}`, `Mdm.${err.code}`);
    return mdmWeather(err);
  }
  if (err instanceof MailDeliveryError && err.permanent)
    return ApplicationFailure.nonRetryable(err.message, 'MailRejected');
  for (const type of [
    InvalidInputError,
    NotFoundError,
    ConstraintViolationError,
    IdempotencyKeyConflictError,
    ApplicationUnavailableError,
  ]) {
    if (err instanceof type) return ApplicationFailure.nonRetryable((err as Error).message, type.name);
  }
  return err;
}

/**
 * The MDM is down or throttling: retryable, typed `Mdm.<code>`, with the MDM's own wait (Retry-After) as the
 * next-retry delay and in the details, where the workflow's weather loop reads it (DESIGN §3).
 */
export function mdmWeather(err: MdmError): ApplicationFailure {
  const retryAfterMs = retryAfterOf(err);
  return ApplicationFailure.create({
    message: err.message,
    type: `Mdm.${err.code}`,
    nonRetryable: false,
    details: [{ retryAfterMs: retryAfterMs ?? null }],
    ...(retryAfterMs !== undefined ? { nextRetryDelay: retryAfterMs } : {}),
    cause: err,
  });
}

function retryAfterOf(err: MdmError): number | undefined {
  if (err instanceof MdmRateLimitedError) return err.retryAfterMs;
  const hinted = err instanceof MdmUnavailableError ? (err as { retryAfterMs?: number }).retryAfterMs : undefined;
  return typeof hinted === 'number' ? hinted : undefined;
}

/** Wraps every activity so the mapping above applies uniformly. */
export function withFailureMapping<T extends Record<string, (...args: never[]) => Promise<unknown>>>(acts: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw asActivityFailure(err);
      }
    };
  }
  return wrapped as T;
}
