/**
 * Conditions a retry can fix, whichever route met them: PostgreSQL down, restarting or recovering,
 * Temporal unreachable or past a deadline, a workflow whose workflow task is failing. The error handler
 * answers them 503 with `Retry-After` (errors.ts `unavailable`), never 500: DESIGN §4 keeps 5xx for bugs.
 */
import type { Request } from 'express';
import { databaseOutage } from './dbErrors';
import { unavailable, type ApiError } from './errors';
import { temporalOutage } from './temporalErrors';

export function retryableOutage(err: unknown, req: Request): ApiError | undefined {
  const outage = databaseOutage(err) ?? temporalOutage(err);
  return outage && unavailable(outage, req.method);
}
