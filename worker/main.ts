/**
 * The worker process: `npm run worker`. Loads the workflow bundle (cached by the hash of its sources,
 * worker/workflowBundle.ts: built once, then read in milliseconds), applies pending migrations
 * (advisory-locked, so API and worker replicas may start together), then serves the lifecycle task queue
 * until SIGINT/SIGTERM.
 *
 * A dependency that is not there yet, or goes away, is waited for rather than fatal: PostgreSQL and
 * Temporal are retried at start (1 s doubling to 30 s, each failure logged); once serving, Temporal Core
 * keeps re-polling through a Temporal outage and the database pool reconnects (activities fail and are
 * retried meanwhile); a worker that still fails is created again after the same backoff.
 */
import type { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadConfig } from '../config/env';
import { connectTemporalWorker, describeTemporalTransport } from '../temporal/connection';
import { redactConsole } from '../config/redact';
import { migrateAtStart } from '../db/migrateAtStart';
import { createPool } from '../db/pool';
import { createLogMailer, createSmtpMailer } from '../mail/mailer';
import { createMdmPort } from '../mdm/createMdmPort';
import { createPacedMdm } from '../mdm/pacedMdm';
import { dataConverterFor, describeEncryption } from '../temporal/codecDataConverter';
import { createMdmCallLimiter } from '../mdm/pacing';
import { createLifecycleWorker } from './createWorker';
import { setupWorkerMetrics } from './metrics';
import { loadWorkflowBundle } from './workflowBundle';

const startedAt = performance.timeOrigin;
const log = (line: string) => console.log(`[worker] ${line}`);
const config = loadConfig();
// Secrets and URL user-info never reach the log (config/redact.ts).
redactConsole(config);

// Stopping is asked for by SIGINT/SIGTERM: a running worker is shut down by the SDK's own handlers (it
// drains), a wait for a dependency ends here.
const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => stop.abort(new Error(`${signal} received`)));
}

const INITIAL_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && !text.includes(code) ? `${code} ${text}` : text).split('\n')[0]!.slice(0, 300);
}

/** `work()` until it succeeds or the process is asked to stop (then undefined); each failure logged. */
async function retrying<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
  let delay = INITIAL_RETRY_MS;
  for (let attempt = 1; !stop.signal.aborted; attempt++) {
    try {
      const value = await work();
      if (attempt > 1) log(`${what}: done after ${attempt} attempts`);
      return value;
    } catch (err) {
      if (stop.signal.aborted) break;
      log(`${what}: ${reason(err)}; trying again in ${delay / 1000} s`);
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
  return undefined;
}

// Before the first connection: Core's metrics exporter is part of the runtime that connection creates.
const metrics = await setupWorkerMetrics({ port: config.WORKER_METRICS_PORT, host: config.WORKER_METRICS_HOST });
const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE, {
  applicationName: 'device-lifecycle-worker',
  onError: (err) => log(`database connection lost (${err.message}); the pool reconnects on next use`),
});
const smtp = config.SMTP_URL.startsWith('log:')
  ? undefined
  : createSmtpMailer({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM });

async function closeAll(connection?: NativeConnection): Promise<void> {
  await metrics?.close();
  // The pooled SMTP connection would otherwise keep the process alive after the worker stopped.
  smtp?.close();
  await connection?.close();
  await pool.end();
}

const loaded = await loadWorkflowBundle({ log });
log(
  loaded.source === 'cache'
    ? `workflow bundle ${loaded.hash} read from the cache in ${loaded.ms} ms`
    : `workflow bundle ${loaded.hash} built in ${(loaded.ms / 1000).toFixed(1)} s (cached in ${loaded.file})`,
);

const migrated = await retrying('waiting for PostgreSQL (migrations)', () => migrateAtStart(config, pool, log));
const connection =
  migrated === undefined
    ? undefined
    : await retrying(`waiting for Temporal at ${config.TEMPORAL_ADDRESS} (${describeTemporalTransport(config)})`, () =>
        connectTemporalWorker(config),
      );
if (!connection) {
  log(`${(stop.signal.reason as Error | undefined)?.message ?? 'stopping'} before serving: stopped`);
  await closeAll();
  process.exit(0);
}

// Every MDM call takes a slot shared with the other replicas through PostgreSQL (mdm/pacing.ts).
const mdmLimiter = createMdmCallLimiter(pool, {
  all: config.MDM_RATE_LIMIT,
  writes: config.MDM_WRITE_RATE_LIMIT,
  onReleaseError: (err) => log(`releasing an MDM call slot failed (${reason(err)}); it counts until its lease ends`),
});
const mdm = await createMdmPort(config);
log(`MDM: ${mdm.describe}`);
const activities = createActivities({
  db: pool,
  mdm: createPacedMdm(mdm.port, mdmLimiter),
  mail: smtp ?? createLogMailer(),
  adminEmails: config.ADMIN_EMAILS,
  mailLanguage: config.MAIL_LANGUAGE,
  retentionDays: config.RETENTION_MS / 86_400_000,
});
if (metrics) log(`Prometheus metrics on ${metrics.url}`);
const dataConverter = dataConverterFor(config);
log(describeEncryption(config));

let delay = INITIAL_RETRY_MS;
while (!stop.signal.aborted) {
  const worker = await retrying('creating the worker', () =>
    createLifecycleWorker({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      workflowThreadPoolSize: config.WORKER_WORKFLOW_THREADS,
      workflowBundle: loaded.bundle,
      activities,
      activityInterceptors: metrics?.activityInterceptors,
      dataConverter,
    }),
  );
  if (!worker) break;
  const servingAt = Date.now();
  log(
    `serving task queue ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS} ` +
      `(pid ${process.pid}, ${((servingAt - startedAt) / 1000).toFixed(1)} s after the process started)`,
  );
  try {
    await worker.run(); // returns after shutdown() on SIGINT/SIGTERM (the SDK installs those handlers)
    break;
  } catch (err) {
    if (stop.signal.aborted) break;
    // Stayed up a while: the next failure starts the backoff afresh.
    if (Date.now() - servingAt > 5 * MAX_RETRY_MS) delay = INITIAL_RETRY_MS;
    log(`the worker stopped with an error (${reason(err)}); serving again in ${delay / 1000} s`);
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
}
await mdm.close?.();
await closeAll(connection);
