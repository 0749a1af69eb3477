import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, MigrationError, MIGRATIONS_DIR } from '../db/migrate';
import { ASSET_NUMBER_PATTERN } from '../db/types';
import { createTestDatabase, type TestDatabase } from './support/postgres';

/** Tables, columns, constraints, indexes and triggers: what "identical schema" means here. */
async function schemaFingerprint(db: TestDatabase): Promise<unknown> {
  const { rows } = await db.pool.query(`
    SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
           || ' ' || coalesce(column_default, '') AS def
      FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL
    SELECT 'constraint', conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT 'trigger', tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
    ORDER BY 1, 2`);
  return rows;
}

describe('migrations', () => {
  let fresh: TestDatabase;
  let template: TestDatabase;

  beforeAll(async () => {
    fresh = await createTestDatabase({ migrated: false });
    template = await createTestDatabase();
  });
  afterAll(async () => {
    await fresh?.drop();
    await template?.drop();
  });

  it('applies every file on an empty database, then finds nothing to do', async () => {
    const first = await migrate(fresh.pool);
    expect(first.applied).toEqual(loadMigrations().map((m) => m.version));
    const second = await migrate(fresh.pool);
    expect(second).toEqual({ applied: [], unknown: [] });
    const { rows } = await fresh.pool.query('SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows).toEqual(loadMigrations().map((m) => ({ version: m.version, name: m.name })));
  });

  it('leaves a fresh database and an already-migrated one identical', async () => {
    await migrate(template.pool); // the template copy was migrated by globalSetup: a no-op
    expect(await schemaFingerprint(fresh)).toEqual(await schemaFingerprint(template));
  });

  it('takes turns when several processes migrate at once', async () => {
    const db = await createTestDatabase({ migrated: false });
    try {
      const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, loadMigrations().length]);
    } finally {
      await db.drop();
    }
  });

  it('refuses an applied migration whose file was edited, and changes nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      const file = path.join(dir, '0001_init.sql');
      writeFileSync(file, `${readFileSync(file, 'utf8')}\nCREATE TABLE sneaky (id int);\n`);
      // Numbered past any real migration, so the suite keeps working as migrations are added.
      writeFileSync(path.join(dir, '9998_next.sql'), 'CREATE TABLE next_one (id int);');
      const run = migrate(fresh.pool, { dir });
      await expect(run).rejects.toThrow(MigrationError);
      await expect(run).rejects.toThrow(/0001_init\.sql was changed after it was applied/);
      const { rows } = await fresh.pool.query("SELECT to_regclass('next_one') AS t, to_regclass('sneaky') AS s");
      expect(rows[0]).toEqual({ t: null, s: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rolls back a failing migration completely and reports which file failed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
    try {
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      writeFileSync(path.join(dir, '9999_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT nonsense FROM;');
      await expect(migrate(fresh.pool, { dir })).rejects.toThrow(/9999_broken\.sql failed/);
      const { rows } = await fresh.pool.query(
        "SELECT to_regclass('half_done') AS t, max(version) AS v FROM schema_migrations",
      );
      expect(rows[0]).toEqual({ t: null, v: loadMigrations().at(-1)!.version });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('enforces the same asset-number pattern the code exports', async () => {
    const { rows } = await fresh.pool.query<{ def: string }>(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'assets_asset_number_format'",
    );
    expect(rows[0]?.def).toContain(`'${ASSET_NUMBER_PATTERN.source}'`);
  });
});
