/**
 * Worker metrics on real parts: a lifecycle worker with the metrics interceptor (its own task queue, the
 * harness's database, MDM emulator and SMTP sink) runs a change-user workflow started through the API;
 * one scrape of the worker's /metrics then shows our activity counts and latencies and Temporal Core's
 * workflow metrics (the runtime is installed with the Prometheus exporter before anything connects).
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities';
import { createSmtpMailer } from '../mail/mailer';
import { freePort } from '../scripts/freePort';
import { createLifecycleWorker } from '../worker/createWorker';
import {
  createWorkerMetrics,
  installRuntimeWithCoreMetrics,
  startWorkerMetricsServer,
  type MetricsServer,
} from '../worker/metrics';
import { startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { newAssetNumber, PATIENCE_MS } from './support/fixtures';
import { ADMIN_EMAILS, startHarness, workflowBundle, type Harness } from './support/lifecycleHarness';
import { startChangeUserThroughApi } from './support/suite';

let h: Harness;
let api: ApiHarness;
let worker: Worker;
let running: Promise<void>;
let connection: NativeConnection;
let server: MetricsServer;
const taskQueue = `metrics-${randomUUID()}`;

beforeAll(async () => {
  // First: the runtime is created once per process, by whichever connection comes first.
  const corePort = await freePort();
  installRuntimeWithCoreMetrics(`127.0.0.1:${corePort}`, new DefaultLogger('WARN'));
  h = await startHarness();
  const metrics = createWorkerMetrics();
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  worker = await createLifecycleWorker({
    connection,
    taskQueue,
    activities: createActivities({
      db: h.db.pool,
      mdm: h.mdm,
      mail: createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${h.mail.port}`, from: 'device-lifecycle@example.com' }),
      adminEmails: ADMIN_EMAILS,
    }),
    workflowBundle: await workflowBundle(),
    activityInterceptors: [metrics.activityInterceptor],
  });
  running = worker.run();
  server = await startWorkerMetricsServer({
    registry: metrics.registry,
    port: 0,
    coreMetricsUrl: `http://127.0.0.1:${corePort}/metrics`,
  });
  api = await startApi({
    temporalAddress: inject('temporalAddress'),
    db: h.db.pool,
    taskQueue,
    env: { ADMIN_EMAILS: ADMIN_EMAILS.join(',') },
    updateTimeoutMs: PATIENCE_MS,
    queryTimeoutMs: PATIENCE_MS,
  });
});

afterAll(async () => {
  await api?.close();
  await server?.close();
  worker?.shutdown();
  await running?.catch(() => undefined);
  await connection?.close();
  await h?.stop();
});

async function scrape(url = server.url): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

/** Sum of a metric's samples whose labels include every given label (Prometheus text format). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[4]);
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

const assetNumber = newAssetNumber();
const workflowId = `device-${assetNumber}`;

describe('worker /metrics', () => {
  it("counts activity executions by type with their latency, and shows Core's workflow metrics after a workflow completes", async () => {
    await h.seedDevice({ assetNumber });
    await startChangeUserThroughApi(h, api, assetNumber, { reason: 'Metrics test', storageLocation: 'Shelf M' });

    const cancel = await api.call('POST', `/api/v1/workflows/${workflowId}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'metrics test done' },
    });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    await api.temporal.workflow.getHandle(workflowId).result();

    const text = await scrape();
    // scheduleCollection runs in `scheduled`: exactly one attempt, completed.
    expect(
      sample(text, 'lifecycle_activity_executions_total', {
        activity_type: 'scheduleCollection',
        outcome: 'completed',
      }),
    ).toBe(1);
    expect(
      sample(text, 'lifecycle_activity_duration_seconds_count', {
        activity_type: 'scheduleCollection',
        outcome: 'completed',
      }),
    ).toBe(1);
    expect(
      sample(text, 'lifecycle_activity_duration_seconds_sum', { activity_type: 'scheduleCollection' }),
    ).toBeGreaterThan(0);
    expect(sample(text, 'lifecycle_activities_running', { activity_type: 'scheduleCollection' })).toBe(0);
    // Label values are activity type names and fixed outcomes only: no ids, no asset numbers.
    const activityTypes = new Set([...text.matchAll(/activity_type="([^"]+)"/g)].map((m) => m[1]));
    for (const t of activityTypes) expect(t).toMatch(/^[a-zA-Z]+$/);
    expect(text).not.toContain(assetNumber);
    // The Node process metrics of the worker.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    // Core's exporter (appended): workflow completions by workflow type and task queue.
    await expect
      .poll(async () =>
        sample(await scrape(), 'temporal_workflow_completed_total', {
          workflow_type: 'changeDeviceUser',
          task_queue: taskQueue,
        }),
      )
      .toBe(1);
    expect(
      sample(text, 'temporal_activity_execution_latency_count', {
        activity_type: 'scheduleCollection',
        task_queue: taskQueue,
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts failures by error type and retryability, and cancellations apart from failures', async () => {
    const metrics = createWorkerMetrics({ processMetrics: false });
    const ctx = { info: { activityType: 'deleteFromMdm' } } as unknown as Context;
    const inbound = metrics.activityInterceptor(ctx).inbound!;
    const run = (error: unknown) =>
      inbound.execute!({ args: [], headers: {} }, () => Promise.reject(error)).catch(() => undefined);
    await run(ApplicationFailure.nonRetryable('gone for good', 'Mdm.not_found'));
    await run(new Error('socket hang up'));
    await run(new Error('socket hang up'));
    await run(new CancelledFailure('activity cancelled'));
    await inbound.execute!({ args: [], headers: {} }, () => Promise.resolve('ok'));

    const own = await startWorkerMetricsServer({ registry: metrics.registry, port: 0 });
    try {
      const text = await scrape(own.url);
      expect(
        sample(text, 'lifecycle_activity_failures_total', {
          activity_type: 'deleteFromMdm',
          error_type: 'Mdm.not_found',
          retryable: 'false',
        }),
      ).toBe(1);
      expect(
        sample(text, 'lifecycle_activity_failures_total', {
          activity_type: 'deleteFromMdm',
          error_type: 'Error',
          retryable: 'true',
        }),
      ).toBe(2);
      expect(
        sample(text, 'lifecycle_activity_executions_total', { activity_type: 'deleteFromMdm', outcome: 'failed' }),
      ).toBe(3);
      expect(
        sample(text, 'lifecycle_activity_executions_total', { activity_type: 'deleteFromMdm', outcome: 'completed' }),
      ).toBe(1);
      expect(
        sample(text, 'lifecycle_activity_executions_total', { activity_type: 'deleteFromMdm', outcome: 'cancelled' }),
      ).toBe(1);
      expect(sample(text, 'lifecycle_activity_failures_total', { activity_type: 'deleteFromMdm' })).toBe(3);
      expect(text).not.toContain('temporal_'); // no Core URL given: ours only
      expect((await fetch(own.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await own.close();
    }
  });
});
