/**
 * The migrations a service process applies at start. With DATABASE_MIGRATION_URL set they run as the schema
 * owner, through a one-connection pool closed afterwards, and the service keeps only its runtime-role pool
 * (DATABASE_URL). Without it (the local stack) DATABASE_URL's pool migrates, as it always did. A runtime
 * role finds nothing to do once the migrate job brought the schema up to date (db/migrate.ts only reads).
 */
import type pg from 'pg';
import type { Config } from '../config/env';
import { migrate, type MigrateResult } from './migrate';
import { createPool } from './pool';

export async function migrateAtStart(
  config: Pick<Config, 'DATABASE_MIGRATION_URL' | 'DATABASE_RUNTIME_ROLE'>,
  runtimePool: pg.Pool,
  log: (line: string) => void,
): Promise<MigrateResult> {
  const options = { log, runtimeRole: config.DATABASE_RUNTIME_ROLE };
  if (!config.DATABASE_MIGRATION_URL) return migrate(runtimePool, options);
  const owner = createPool(config.DATABASE_MIGRATION_URL, 1, { applicationName: 'device-lifecycle-migrate' });
  try {
    return await migrate(owner, options);
  } finally {
    await owner.end();
  }
}
