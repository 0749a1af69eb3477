/**
 * A fresh, migrated database per test file (or per test): copied from the template the globalSetup
 * prepared, so tests never see each other's rows and need no cleanup beyond `drop()`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool } from '../../db/pool';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplateDb: string;
  }
}

export interface TestDatabase {
  pool: pg.Pool;
  url: string;
  name: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const TEMPLATE_BUSY = '55006';

/**
 * `migrated: false` gives an empty database (for the migration tests). Database names are unique per
 * process and call, so parallel test files never collide.
 */
export async function createTestDatabase(
  options: { migrated?: boolean; poolSize?: number } = {},
): Promise<TestDatabase> {
  const name = `test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const template = options.migrated === false ? 'template0' : inject('pgTemplateDb');
  // Two files copying the template at the same instant can briefly see each other as "using" it.
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${template}`);
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== TEMPLATE_BUSY || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
  const url = databaseUrl(inject('pgAdminUrl'), name);
  const pool = createPool(url, options.poolSize ?? 10, { applicationName: 'device-lifecycle-test' });
  return {
    pool,
    url,
    name,
    drop: async () => {
      await pool.end();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
