/**
 * Applies the versioned SQL files in db/migrations (`0001_init.sql`, `0002_....sql`, ...) in order, each in
 * its own transaction, and records them in `schema_migrations`. Safe to call from every process at start:
 * an advisory lock makes concurrent starts (worker and API) take turns, and the second finds nothing to do.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';

export const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');

/** Arbitrary but fixed: every copy of this service must use the same lock key. */
const ADVISORY_LOCK_KEY = 7_351_002_001;

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrateResult {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** Versions recorded in the database but unknown to this code (a newer release migrated it). */
  unknown: number[];
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** Reads and orders the migration files; refuses odd names and duplicate versions. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Map<number, string>();
  return files.map((file) => {
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError(`migration file ${file} must be named NNNN_snake_case_name.sql`);
    const version = Number(match[1]);
    const other = seen.get(version);
    if (other) throw new MigrationError(`migration version ${version} is used by both ${other} and ${file}`);
    seen.set(version, file);
    // Line endings normalised so a Windows checkout does not look like an edited migration.
    const sql = readFileSync(path.join(dir, file), 'utf8').replace(/\r\n/g, '\n');
    return { version, name: match[2]!, checksum: createHash('sha256').update(sql).digest('hex'), sql };
  });
}

/** Where migration 0011 reads the runtime role's name (config DATABASE_RUNTIME_ROLE). */
const RUNTIME_ROLE_SETTING = 'device_lifecycle.runtime_role';

export async function migrate(
  pool: pg.Pool,
  options: { dir?: string; log?: (line: string) => void; runtimeRole?: string } = {},
): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  const migrations = loadMigrations(options.dir);
  const client = await pool.connect();
  try {
    // Session-level lock, held across the per-file transactions; released explicitly below and by
    // PostgreSQL itself if this process dies mid-way.
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
    try {
      // Session-wide, so every migration file of this run sees it; a pooled connection keeps it harmlessly.
      if (options.runtimeRole)
        await client.query('SELECT set_config($1, $2, false)', [RUNTIME_ROLE_SETTING, options.runtimeRole]);
      return await applyPending(client, migrations, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function applyPending(
  client: pg.PoolClient,
  migrations: MigrationFile[],
  log: (line: string) => void,
): Promise<MigrateResult> {
  // Only when missing: the runtime role (no CREATE right) runs this at start too, and must get through it
  // when the migrate job already brought the schema up to date.
  const { rows: present } = await client.query<{ exists: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS exists",
  );
  if (!present[0]?.exists)
    await client.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  const applied = new Map(rows.map((r) => [r.version, r]));
  checkAppliedUnchanged(migrations, applied);

  const result: MigrateResult = {
    applied: [],
    unknown: rows.filter((r) => !migrations.some((m) => m.version === r.version)).map((r) => r.version),
  };
  if (result.unknown.length > 0) {
    log(`database has migrations unknown to this code (${result.unknown.join(', ')}); a newer release applied them`);
  }
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    await applyOne(client, m);
    log(`applied migration ${fileName(m)}`);
    result.applied.push(m.version);
  }
  return result;
}

function checkAppliedUnchanged(
  migrations: MigrationFile[],
  applied: Map<number, { name: string; checksum: string }>,
): void {
  for (const m of migrations) {
    const row = applied.get(m.version);
    if (row && row.checksum !== m.checksum) {
      throw new MigrationError(
        `migration ${fileName(m)} was changed after it was applied (recorded as ${row.name}, checksum ` +
          `${row.checksum.slice(0, 12)}…, file now ${m.checksum.slice(0, 12)}…). ` +
          'Applied migrations must never be edited: restore the file and add a new migration instead.',
      );
    }
  }
}

async function applyOne(client: pg.PoolClient, m: MigrationFile): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(m.sql);
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      m.version,
      m.name,
      m.checksum,
    ]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw new MigrationError(`migration ${fileName(m)} failed: ${(err as Error).message}`, { cause: err });
  }
}

function fileName(m: MigrationFile): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}.sql`;
}
