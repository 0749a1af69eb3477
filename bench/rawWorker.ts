/**
 * The raw baseline's worker, run as its own process (as the product's worker is) by bench/main.ts:
 * `node --import tsx bench/rawWorker.ts` with BENCH_RAW_* variables. It bundles bench/rawWorkflow.ts
 * (its own workflowsPath, nothing of workflows/), registers a no-op per activity type and serves its
 * own task queue on the same Temporal server, sized like the product's worker (WORKER_MAX_* from the
 * same environment). Prints `raw worker ready` once polling; stops on SIGTERM/SIGINT or when the bench
 * that started it goes away.
 */
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../config/env';
import { connectTemporalWorker } from '../temporal/connection';
import { dataConverterFor } from '../temporal/codecDataConverter';
import { createRawActivities } from './rawActivities';

const config = loadConfig();
const taskQueue = process.env.BENCH_RAW_TASK_QUEUE;
const types = (process.env.BENCH_RAW_ACTIVITY_TYPES ?? '').split(',').filter(Boolean);
if (!taskQueue || types.length === 0) {
  console.error('rawWorker: BENCH_RAW_TASK_QUEUE and BENCH_RAW_ACTIVITY_TYPES are required');
  process.exit(2);
}

const connection = await connectTemporalWorker(config);
const worker = await Worker.create({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue,
  workflowsPath: path.join(import.meta.dirname, 'rawWorkflow.ts'),
  activities: createRawActivities(types),
  dataConverter: dataConverterFor(config),
  maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
  maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
  maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
  workflowThreadPoolSize: config.WORKER_WORKFLOW_THREADS,
});
// Started with an IPC channel: when the bench is gone, nobody would stop this worker.
process.on('disconnect', () => worker.shutdown());
const running = worker.run();
console.log(`raw worker ready on task queue ${taskQueue} (${types.length} activity types)`);
await running;
await connection.close();
