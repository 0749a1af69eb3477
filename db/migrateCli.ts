/**
 * `npm run migrate`: applies pending migrations to DATABASE_MIGRATION_URL (the schema owner), or to
 * DATABASE_URL when that is not set, and exits. The worker and the API also
 * migrate at start; this is for deployments that prefer an explicit step before rolling out.
 */
import { loadConfig } from '../config/env';
import { migrate } from './migrate';
import { createPool } from './pool';

async function main(): Promise<void> {
  const config = loadConfig();
  const pool = createPool(config.DATABASE_MIGRATION_URL ?? config.DATABASE_URL, 1, {
    applicationName: 'device-lifecycle-migrate',
  });
  try {
    const result = await migrate(pool, {
      log: (line) => console.log(`[migrate] ${line}`),
      runtimeRole: config.DATABASE_RUNTIME_ROLE,
    });
    console.log(
      result.applied.length === 0
        ? '[migrate] database is up to date'
        : `[migrate] applied ${result.applied.length} migration(s)`,
    );
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(`[migrate] ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
