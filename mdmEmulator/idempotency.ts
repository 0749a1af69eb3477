/**
 * Idempotency-Key handling: the first successful response under a key is stored and replayed verbatim
 * (with status 200 instead of 201) for every repeat of the same request. The same key on a different
 * request is refused with 422, so a client bug can never turn into a second destructive command.
 * Errors are not stored: a request that failed may be retried under the same key.
 */
import type { Store } from './store';
import { HttpError } from './httpError';

export interface Outcome {
  status: number;
  body: unknown;
  replayed: boolean;
}

export function replayOrRun(
  store: Store,
  key: string | undefined,
  fingerprint: string,
  run: () => { status: number; body: unknown },
): Outcome {
  const previous = key ? store.state.idempotency[key] : undefined;
  if (previous && previous.fingerprint !== fingerprint) {
    throw new HttpError(
      422,
      'idempotency_key_reused',
      `Idempotency-Key '${key}' was already used for a different request.`,
      {
        field: 'Idempotency-Key',
        key,
        firstRequest: previous.fingerprint,
      },
    );
  }
  if (previous) return { status: 200, body: previous.body, replayed: true };
  const result = run();
  if (key && result.status < 300) {
    store.state.idempotency[key] = { key, fingerprint, ...result, createdAt: new Date().toISOString() };
  }
  return { ...result, replayed: false };
}
