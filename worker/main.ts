/**
 * The worker process: `npm run worker`. Applies pending migrations (advisory-locked, so API and worker
 * replicas may start together), then serves the lifecycle task queue until SIGINT/SIGTERM.
 */
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadConfig } from '../config/env';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { createLogMailer, createSmtpMailer } from '../mail/mailer';
import { createHttpMdm } from '../mdm/httpAdapter';
import { createLifecycleWorker } from './createWorker';
import { setupWorkerMetrics } from './metrics';

const config = loadConfig();
// Before the first connection: Core's metrics exporter is part of the runtime that connection creates.
const metrics = await setupWorkerMetrics({ port: config.WORKER_METRICS_PORT, host: config.WORKER_METRICS_HOST });
const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE, { applicationName: 'device-lifecycle-worker' });
await migrate(pool, { log: (l) => console.log(`[worker] ${l}`) });
const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
const smtp = config.SMTP_URL.startsWith('log:')
  ? undefined
  : createSmtpMailer({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM });
const mail = smtp ?? createLogMailer();
const worker = await createLifecycleWorker({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
  maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
  maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
  activities: createActivities({
    db: pool,
    mdm: createHttpMdm({
      baseUrl: config.MDM_BASE_URL,
      apiKey: config.MDM_API_KEY,
      timeoutMs: config.MDM_TIMEOUT_MS,
      maxAttempts: config.MDM_MAX_ATTEMPTS,
    }),
    mail,
    adminEmails: config.ADMIN_EMAILS,
  }),
  activityInterceptors: metrics?.activityInterceptors,
});
if (metrics) console.log(`[worker] Prometheus metrics on ${metrics.url}`);
console.log(`[worker] serving task queue ${config.TEMPORAL_TASK_QUEUE} on ${config.TEMPORAL_ADDRESS}`);
await worker.run(); // returns after shutdown() on SIGINT/SIGTERM (the SDK installs those handlers)
await metrics?.close();
// The pooled SMTP connection would otherwise keep the process alive after the worker stopped.
smtp?.close();
await connection.close();
await pool.end();
