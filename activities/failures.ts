/**
 * Turns errors that retrying cannot fix into non-retryable Temporal failures, so the workflow moves to
 * needs-attention at once instead of hammering a refusal; everything else is left to the retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MdmError } from '../mdm/errors';
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
    return err.retryable ? err : ApplicationFailure.nonRetryable(`MDM refused: ${err.message}`, `Mdm.${err.code}`);
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
