/**
 * Least privilege on real PostgreSQL (issue 12 item 7): migrations run as the schema owner, the service as
 * the runtime role, which may INSERT and SELECT the audit trail but cannot change, remove or truncate it,
 * nor ALTER, DISABLE or DROP its triggers. Set up as compose does: a non-superuser owner of the database
 * (no CREATEROLE) and a login runtime role made beforehand (deploy/postgres/initdb).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../db/migrate';
import { migrateAtStart } from '../db/migrateAtStart';
import { createPool } from '../db/pool';
import { createTestDatabase, type TestDatabase } from './support/postgres';

const suffix = randomBytes(4).toString('hex');
const owner = `dl_owner_${suffix}`;
const runtime = `dl_app_${suffix}`;
const password = randomBytes(12).toString('hex');

let db: TestDatabase;
let runtimePool: pg.Pool;
let admin: pg.Client;

function urlAs(user: string, base: string): string {
  const url = new URL(base);
  url.username = user;
  url.password = password;
  return url.toString();
}

async function refusal(sql: string, params: unknown[] = []): Promise<{ code?: string; message: string }> {
  const err = await runtimePool.query(sql, params).then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  if (!err) throw new Error(`the runtime role was allowed: ${sql}`);
  return err;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD '${password}'`);
  await admin.query(`CREATE ROLE ${runtime} LOGIN PASSWORD '${password}'`);
  await admin.query(`ALTER DATABASE ${db.name} OWNER TO ${owner}`);
  await admin.query(`ALTER SCHEMA public OWNER TO ${owner}`);
  runtimePool = createPool(urlAs(runtime, db.url), 2);
  const config = { DATABASE_MIGRATION_URL: urlAs(owner, db.url), DATABASE_RUNTIME_ROLE: runtime };
  const result = await migrateAtStart(config, runtimePool, () => undefined);
  expect(result.applied).toEqual(loadMigrations().map((m) => m.version));
  await admin.query(`INSERT INTO assets (asset_number, serial_number, model, department, location)
                     VALUES ('A-000001', 'SN-ROLES-1', 'iPhone', 'IT', 'HQ')`);
});

afterAll(async () => {
  await runtimePool?.end();
  await admin?.end();
  await db?.drop();
  const cleanup = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
  await cleanup.connect();
  await cleanup.query(`DROP ROLE IF EXISTS ${runtime}`);
  await cleanup.query(`DROP ROLE IF EXISTS ${owner}`);
  await cleanup.end();
});

describe('the runtime role (DATABASE_URL) after migrations as the owner (DATABASE_MIGRATION_URL)', () => {
  it('owns nothing: the tables and the audit triggers belong to the owner', async () => {
    const { rows } = await admin.query<{ owner: string }>(
      "SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'asset_events'",
    );
    expect(rows[0]!.owner).toBe(owner);
  });

  it('starts without the owner: the schema is up to date, so migrating at start only reads', async () => {
    const result = await migrateAtStart({ DATABASE_RUNTIME_ROLE: runtime }, runtimePool, () => undefined);
    expect(result).toEqual({ applied: [], unknown: [] });
  });

  it('INSERTs and SELECTs the audit trail, and uses the other tables', async () => {
    await runtimePool.query(`UPDATE assets SET location = 'Branch' WHERE asset_number = 'A-000001'`);
    await runtimePool.query(
      `INSERT INTO asset_events (asset_number, event_type, actor, actor_role, details, idempotency_key)
       VALUES ('A-000001', 'user-assigned', 'admin@example.com', 'admin', '{"user": {"name": "Jane"}}', $1)`,
      [`roles-${suffix}`],
    );
    const { rows } = await runtimePool.query('SELECT event_type, details FROM asset_events');
    expect(rows).toEqual([{ event_type: 'user-assigned', details: { user: { name: 'Jane' } } }]);
  });

  it.each([
    ['UPDATE', "UPDATE asset_events SET actor = 'someone-else'"],
    ['DELETE', 'DELETE FROM asset_events'],
    ['TRUNCATE', 'TRUNCATE asset_events'],
  ])('cannot %s the audit trail: refused by privilege, before any trigger', async (_, sql) => {
    const err = await refusal(sql);
    expect(err.code).toBe('42501');
    expect(err.message).toBe('permission denied for table asset_events');
  });

  it.each([
    ['ALTER TABLE ... DISABLE TRIGGER', 'ALTER TABLE asset_events DISABLE TRIGGER asset_events_no_update_delete'],
    ['ALTER TABLE ... DISABLE TRIGGER ALL', 'ALTER TABLE asset_events DISABLE TRIGGER ALL'],
    ['DROP TRIGGER', 'DROP TRIGGER asset_events_no_truncate ON asset_events'],
    [
      'CREATE TRIGGER',
      `CREATE TRIGGER sneaky BEFORE INSERT ON asset_events FOR EACH ROW EXECUTE FUNCTION asset_events_refuse_change()`,
    ],
    ['ALTER TABLE ... OWNER', `ALTER TABLE asset_events OWNER TO ${runtime}`],
    [
      'replace the trigger function',
      `CREATE OR REPLACE FUNCTION asset_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
    ],
  ])('cannot %s', async (_, sql) => {
    const err = await refusal(sql);
    expect(err.code).toBe('42501');
    expect(err.message).toMatch(/must be owner of (table|relation|function) asset_events|permission denied/);
  });

  it('leaves the triggers in place and enabled after all those attempts', async () => {
    const { rows } = await admin.query(
      "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'asset_events'::regclass AND NOT tgisinternal ORDER BY 1",
    );
    expect(rows).toEqual([
      { tgname: 'asset_events_no_truncate', tgenabled: 'O' },
      { tgname: 'asset_events_no_update_delete', tgenabled: 'O' },
    ]);
  });

  it('erases only through erase_expired_personal_data, which refuses a cutoff less than a day old', async () => {
    const err = await refusal('SELECT * FROM erase_expired_personal_data(now(), 10)');
    expect(err.message).toMatch(/cutoff .* must lie at least one day in the past/);
    const { rows } = await runtimePool.query(
      "SELECT * FROM erase_expired_personal_data(now() - interval '400 days', 10)",
    );
    expect(rows).toEqual([{ audit_events: 0, signatures: 0, applications: 0 }]);
  });

  it('the owner cannot change audit facts either: the trigger allows only an erasure of personal fields', async () => {
    const ownerPool = createPool(urlAs(owner, db.url), 1);
    try {
      const changed = await ownerPool.query("UPDATE asset_events SET actor = 'forged'").catch((e: Error) => e);
      expect((changed as Error).message).toMatch(/asset_events is append-only: UPDATE is not allowed/);
      const forged = await ownerPool
        .query("UPDATE asset_events SET details = erase_personal_fields(details), erased_at = now(), step = 'forged'")
        .catch((e: Error) => e);
      expect((forged as Error).message).toMatch(/append-only/);
      const deleted = await ownerPool.query('DELETE FROM asset_events').catch((e: Error) => e);
      expect((deleted as Error).message).toMatch(/append-only: DELETE/);
    } finally {
      await ownerPool.end();
    }
  });
});

describe('the local stack (DATABASE_URL only, a superuser migrates)', () => {
  it('creates the runtime role NOLOGIN with the same limits, and the service keeps running as before', async () => {
    const local = await createTestDatabase(); // migrated by globalSetup as the superuser, no runtime role given
    try {
      const { rows } = await local.pool.query(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'device_lifecycle_app'",
      );
      expect(rows).toEqual([{ rolcanlogin: false }]);
      const client = await local.pool.connect();
      try {
        await client.query('SET ROLE device_lifecycle_app');
        await client.query(`INSERT INTO assets (asset_number, serial_number, model, department, location)
                            VALUES ('A-000002', 'SN-ROLES-2', 'iPhone', 'IT', 'HQ')`);
        const err = await client.query('DELETE FROM asset_events').catch((e: Error) => e);
        expect((err as Error).message).toBe('permission denied for table asset_events');
      } finally {
        await client.query('RESET ROLE').catch(() => undefined);
        client.release();
      }
    } finally {
      await local.drop();
    }
  });
});
