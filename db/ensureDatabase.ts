/**
 * Cluster set-up for the local stack: the role and database named in DATABASE_URL, created when missing
 * (a fresh data directory has only `postgres`). Runs on the maintenance database as the superuser.
 */
import pg from 'pg';

/**
 * Creates the role (with the URL's password) unless it is `postgres` or already exists, then the database
 * owned by it unless it already exists; each creation is logged. Checked before each CREATE, so calling
 * it again on a set-up cluster changes nothing.
 */
export async function ensureDatabase(
  adminUrl: string,
  databaseUrl: string,
  log: (line: string) => void,
): Promise<void> {
  const target = new URL(databaseUrl);
  const database = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const user = decodeURIComponent(target.username) || 'postgres';
  const password = decodeURIComponent(target.password);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    if (user !== 'postgres') {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
      if (!rowCount) {
        await admin.query(
          `CREATE ROLE ${admin.escapeIdentifier(user)} LOGIN${password ? ` PASSWORD ${admin.escapeLiteral(password)}` : ''}`,
        );
        log(`created role ${user}`);
      }
    }
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)} OWNER ${admin.escapeIdentifier(user)}`);
      log(`created database ${database}`);
    }
  } finally {
    await admin.end();
  }
}
