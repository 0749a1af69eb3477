/**
 * Typed MDM errors. `retryable` says whether trying again later can help (activities turn the others into
 * non-retryable failures); `code` is stable for logs, UI and tests.
 */

export type MdmErrorCode =
  'rate_limited' | 'unavailable' | 'timeout' | 'network' | 'rejected' | 'not_found' | 'invalid_response';

export class MdmError extends Error {
  constructor(
    message: string,
    readonly code: MdmErrorCode,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** 429: the MDM asked us to wait `retryAfterMs` before the next request. */
export class MdmRateLimitedError extends MdmError {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message, 'rate_limited', true);
  }
}

/**
 * 5xx, 408, a network failure or a timeout: the MDM may well answer next time. A 503 may carry
 * `Retry-After` (Intune sends it during maintenance): then `retryAfterMs` says when to try again.
 */
export class MdmUnavailableError extends MdmError {
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    code: 'unavailable' | 'timeout' | 'network' = 'unavailable',
    readonly status?: number,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, code, true, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Any other 4xx: the MDM refused the request; repeating it will not help. */
export class MdmRejectedError extends MdmError {
  constructor(
    readonly status: number,
    readonly mdmCode: string | undefined,
    readonly mdmMessage: string,
    readonly details?: unknown,
  ) {
    super(`MDM rejected the request (HTTP ${status}${mdmCode ? ` ${mdmCode}` : ''}): ${mdmMessage}`, 'rejected', false);
  }
}

export class MdmNotFoundError extends MdmError {
  constructor(
    readonly resource: string,
    readonly mdmMessage: string,
  ) {
    super(`MDM has no ${resource}: ${mdmMessage}`, 'not_found', false);
  }
}

/** The MDM answered 2xx with something we cannot read; likely a contract change, so not retryable. */
export class MdmInvalidResponseError extends MdmError {
  constructor(message: string) {
    super(message, 'invalid_response', false);
  }
}
