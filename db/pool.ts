/**
 * The PostgreSQL connection pool and transactions. Every process (worker, API, scripts) opens one pool.
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { Queryable } from './types';

export interface PoolOptions {
  /** Shown in pg_stat_activity so an operator can tell the worker's connections from the API's. */
  applicationName?: string;
  /** Called when an idle connection dies (server restart, network); without a handler pg crashes the process. */
  onError?: (err: Error) => void;
  statementTimeoutMs?: number;
}

export function createPool(url: string, size: number, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    // Fail fast when the database is unreachable, so readiness probes and activity retries see an error.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // A runaway query or a forgotten open transaction must not hold row locks forever.
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: 60_000,
    application_name: options.applicationName ?? 'device-lifecycle',
  });
  const onError = options.onError ?? ((err: Error) => console.error('[db] idle client error:', err.message));
  pool.on('error', onError);
  return pool;
}

/** Runs `fn` inside BEGIN/COMMIT on one connection; rolls back and rethrows on error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no pool listener: when the server goes away mid-transaction (a restart, a
  // failover) node-postgres emits 'error' on it besides failing the query, and an unheard 'error' would
  // crash the process. The failed query carries the error to the caller; the connection is not reused.
  const onConnectionError = (err: Error) => {
    broken = err;
  };
  client.on('error', onConnectionError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      // A connection that cannot roll back is unusable: destroy it rather than return it to the pool.
      broken = rollbackError as Error;
    }
    throw err;
  } finally {
    client.release(broken);
    client.removeListener('error', onConnectionError);
  }
}

function isPoolClient(db: Queryable): db is PoolClient {
  return typeof (db as PoolClient).release === 'function';
}

let savepointCounter = 0;

/**
 * Runs `fn` atomically whatever the caller passed: a pool gets its own transaction; a client is assumed
 * to be inside the caller's transaction and gets a savepoint (PostgreSQL refuses a savepoint outside a
 * transaction, so a client used by mistake in autocommit mode fails loudly instead of losing atomicity).
 */
export async function inTransaction<T>(db: Queryable, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  if (!isPoolClient(db)) return withTransaction(db, fn);
  const savepoint = `dl_sp_${++savepointCounter}`;
  await db.query(`SAVEPOINT ${savepoint}`);
  try {
    const result = await fn(db);
    await db.query(`RELEASE SAVEPOINT ${savepoint}`);
    return result;
  } catch (err) {
    await db.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    throw err;
  }
}
