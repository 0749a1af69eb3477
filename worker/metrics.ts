/**
 * Worker metrics on one Prometheus endpoint (`WORKER_METRICS_PORT`, default 9464, 0 = off):
 *
 * - our own, from an activity inbound interceptor (prom-client): `lifecycle_activity_executions_total`
 *   {activity_type, outcome}, `lifecycle_activity_failures_total` {activity_type, error_type, retryable},
 *   `lifecycle_activity_duration_seconds` {activity_type, outcome}, `lifecycle_activities_running`
 *   {activity_type}, plus the process metrics of the worker's Node process;
 * - Temporal Core's own (`temporal_*`: workflow completed/failed/cancelled by workflow_type, workflow task
 *   and activity latencies, poller and slot usage, sticky cache). Workflow code runs in a sandbox that
 *   cannot reach prom-client, and Core already counts workflows exactly, so its Prometheus exporter is
 *   enabled on a private loopback port and its text is appended to ours on each scrape.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Runtime, type ActivityInterceptorsFactory, type Logger } from '@temporalio/worker';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { freePort } from '../scripts/freePort';

export interface WorkerMetrics {
  registry: Registry;
  /** For `interceptors.activity` of Worker.create (createLifecycleWorker's `activityInterceptors`). */
  activityInterceptor: ActivityInterceptorsFactory;
}

/** Failure types come from our code (ApplicationFailure types, error classes); still, keep them label-safe. */
function errorType(err: unknown): string {
  const raw = err instanceof ApplicationFailure && err.type ? err.type : err instanceof Error ? err.name : typeof err;
  return raw.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || 'unknown';
}

export function createWorkerMetrics(options: { processMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const executions = new Counter({
    name: 'lifecycle_activity_executions_total',
    help: 'Activity attempts finished, by activity type and outcome (completed, failed, cancelled)',
    labelNames: ['activity_type', 'outcome'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'lifecycle_activity_failures_total',
    help: 'Activity attempts that failed, by activity type, error type and whether Temporal will retry',
    labelNames: ['activity_type', 'error_type', 'retryable'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'lifecycle_activity_duration_seconds',
    help: 'Time an activity attempt ran, by activity type and outcome',
    labelNames: ['activity_type', 'outcome'] as const,
    // Database writes and mail are ms; MDM calls with retries and backoff can take tens of seconds.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const running = new Gauge({
    name: 'lifecycle_activities_running',
    help: 'Activity attempts running now, by activity type',
    labelNames: ['activity_type'] as const,
    registers: [registry],
  });

  const activityInterceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: {
      async execute(input, next) {
        const activityType = ctx.info.activityType;
        const started = process.hrtime.bigint();
        running.inc({ activity_type: activityType });
        let outcome = 'completed';
        try {
          return await next(input);
        } catch (err) {
          if (err instanceof CancelledFailure) {
            outcome = 'cancelled';
          } else {
            outcome = 'failed';
            const retryable = !(err instanceof ApplicationFailure && err.nonRetryable);
            failures.inc({ activity_type: activityType, error_type: errorType(err), retryable: String(retryable) });
          }
          throw err;
        } finally {
          running.dec({ activity_type: activityType });
          executions.inc({ activity_type: activityType, outcome });
          duration.observe({ activity_type: activityType, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
        }
      },
    },
  });

  return { registry, activityInterceptor };
}

/**
 * Installs the Temporal runtime with Core's Prometheus exporter on `coreBindAddress` (loopback, private).
 * Must run before the first NativeConnection is made: the runtime is created once per process.
 */
export function installRuntimeWithCoreMetrics(coreBindAddress: string, logger?: Logger): void {
  Runtime.install({
    ...(logger ? { logger } : {}),
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: coreBindAddress, useSecondsForDurations: true, countersTotalSuffix: true },
      },
    },
  });
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

async function coreText(coreMetricsUrl: string): Promise<string> {
  try {
    const res = await fetch(coreMetricsUrl, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? await res.text() : `# Temporal Core metrics unavailable: HTTP ${res.status}\n`;
  } catch (err) {
    // Our own metrics are still worth serving when Core's exporter does not answer.
    return `# Temporal Core metrics unavailable: ${(err as Error).message.replace(/\n/g, ' ')}\n`;
  }
}

/** `GET /metrics` on host:port (port 0 = any free port, for tests): ours, then Core's when configured. */
export async function startWorkerMetricsServer(opts: {
  registry: Registry;
  port: number;
  host?: string;
  /** Core's exporter, e.g. http://127.0.0.1:9465/metrics (see installRuntimeWithCoreMetrics). */
  coreMetricsUrl?: string;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    void Promise.all([
      opts.registry.metrics(),
      opts.coreMetricsUrl ? coreText(opts.coreMetricsUrl) : Promise.resolve(''),
    ])
      .then(([ours, core]) => {
        res.writeHead(200, { 'Content-Type': opts.registry.contentType }).end(core ? `${ours}\n${core}` : ours);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
      });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface WorkerMetricsSetup {
  activityInterceptors: ActivityInterceptorsFactory[];
  url: string;
  close(): Promise<void>;
}

/**
 * Everything the worker entrypoint needs, or undefined when `port` is 0. Call before the first
 * NativeConnection.connect (it installs the Temporal runtime with Core's exporter).
 */
export async function setupWorkerMetrics(opts: {
  port: number;
  host: string;
  logger?: Logger;
}): Promise<WorkerMetricsSetup | undefined> {
  if (opts.port === 0) return undefined;
  const corePort = await freePort();
  installRuntimeWithCoreMetrics(`127.0.0.1:${corePort}`, opts.logger);
  const metrics = createWorkerMetrics();
  const server = await startWorkerMetricsServer({
    registry: metrics.registry,
    port: opts.port,
    host: opts.host,
    coreMetricsUrl: `http://127.0.0.1:${corePort}/metrics`,
  });
  return { activityInterceptors: [metrics.activityInterceptor], url: server.url, close: server.close };
}
