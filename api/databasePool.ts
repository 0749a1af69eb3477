/** The pool behind the API's ports, for routes that use the repositories directly. */
import type pg from 'pg';
import type { ApiContext } from './context';
import { ApiError } from './errors';

export function poolOf(ctx: ApiContext): pg.Pool {
  // In-memory ports (validation tests) have no database: say so instead of failing with a TypeError.
  if (!ctx.db.pool) {
    throw new ApiError(
      503,
      'database-unavailable',
      'this API instance has no asset database configured; nothing was changed',
      { requestApplied: 'no' },
      { 'Retry-After': '60' },
    );
  }
  return ctx.db.pool;
}
