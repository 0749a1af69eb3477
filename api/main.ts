/**
 * Runs the API: `npm run api`. Connects to Temporal and PostgreSQL from the environment (config/env.ts),
 * when first needed (neither has to be up for the API to start; /readyz says when they are),
 * listens on API_HOST:PORT, and on SIGINT/SIGTERM stops taking connections, lets requests in flight
 * finish (bounded), then closes the pool and the Temporal connection.
 */
import type { Server } from 'node:http';
import { Client } from '@temporalio/client';
import { loadConfig } from '../config/env';
import { describeTemporalTransport, lazyTemporalClient } from '../temporal/connection';
import { redactConsole } from '../config/redact';
import { createPool } from '../db/pool';
import { dataConverterFor, describeEncryption } from '../temporal/codecDataConverter';
import { createApiApp } from './app';
import { createAuthenticator } from './auth';
import { createApiMetrics } from './metrics';
import { startApiMetricsListener } from './metricsListener';
import { ensureRetentionScheduleInBackground } from '../temporal/retentionSchedule';
import { ensureSummaryScheduleInBackground } from '../temporal/summarySchedule';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  // Secrets and URL user-info never reach the log (config/redact.ts).
  redactConsole(config);
  // Lazy: the API starts (and answers /healthz, and 503 from /readyz) while Temporal is not there yet or
  // restarting; gRPC reconnects by itself, retrying at least every 5 s once Temporal went away.
  // TLS, mutual TLS and the API key as configured (temporal/connection.ts).
  const connection = lazyTemporalClient(config, { channelArgs: { 'grpc.max_reconnect_backoff_ms': 5_000 } });
  const temporal = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: dataConverterFor(config),
  });
  console.info(`[api] ${describeEncryption(config)}`);
  const pool = createPool(config.DATABASE_URL, config.DATABASE_POOL_SIZE, { applicationName: 'device-lifecycle-api' });

  const metrics = createApiMetrics();
  const app = createApiApp({
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    namespace: config.TEMPORAL_NAMESPACE,
    db: pool,
    config,
    // OIDC JWTs, API keys from the database, static API_TOKENS: chosen per token by its shape.
    auth: createAuthenticator({ config, pool }),
    // Served on API_METRICS_HOST:API_METRICS_PORT below, never on the public API port.
    metrics,
  });

  const server: Server = app.listen(config.PORT, config.API_HOST, () => {
    console.info(
      `[api] listening on http://${config.API_HOST}:${config.PORT}/api/v1 (Temporal ${config.TEMPORAL_ADDRESS} over ${describeTemporalTransport(config)}, namespace ${config.TEMPORAL_NAMESPACE})`,
    );
  });
  server.on('error', (err) => {
    console.error('[api] server error:', err);
    process.exit(1);
  });
  // Metrics are not worth failing the API for: a taken port is logged (Prometheus then sees the gap).
  const metricsListener = await startApiMetricsListener(metrics.registry, {
    port: config.API_METRICS_PORT,
    host: config.API_METRICS_HOST,
  }).catch((err: unknown) => console.error(`[api] ${(err as Error).message}`));
  if (metricsListener) console.info(`[api] Prometheus metrics on ${metricsListener.url}`);
  // The daily retention run (README: Retention); Temporal may not be up yet, so this keeps trying.
  const scheduleStop = new AbortController();
  void ensureRetentionScheduleInBackground(temporal, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    log: (line) => console.info(`[api] ${line}`),
    signal: scheduleStop.signal,
  });
  // The summary report mail on SUMMARY_REPORT_SCHEDULE (README: Summary report mail), made to match the config.
  void ensureSummaryScheduleInBackground(temporal, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    calendar: config.SUMMARY_REPORT_SCHEDULE,
    timeZone: config.SUMMARY_REPORT_TIME_ZONE,
    log: (line) => console.info(`[api] ${line}`),
    signal: scheduleStop.signal,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.info(`[api] ${signal}: shutting down`);
    scheduleStop.abort();
    await metricsListener?.close();
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(force);
    await Promise.allSettled([pool.end(), connection.close()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('[api] failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
