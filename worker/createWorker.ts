/**
 * Builds the lifecycle worker: both workflow types and the activities on one task queue. The worker
 * entrypoint and the tests use the same function, each with its own wiring of the activities' parts.
 */
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type ActivityInterceptorsFactory, type WorkflowBundle } from '@temporalio/worker';
import type { LifecycleActivities } from '../activities/contracts';
import { PRELOADED_MODULES, workflowsPath } from './workflowSources';

export { PRELOADED_MODULES, workflowsPath };

export async function createLifecycleWorker(opts: {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  activities: LifecycleActivities;
  /**
   * A pre-built bundle (worker/workflowBundle.ts: cached by the hash of its sources; tests build one per
   * file); otherwise the worker bundles `workflows/` itself.
   */
  workflowBundle?: WorkflowBundle;
  /** E.g. the metrics interceptor of worker/metrics.ts. */
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** Sizing (config WORKER_MAX_*); the defaults suit tests. */
  maxCachedWorkflows?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  workflowThreadPoolSize?: number;
  /**
   * temporal/codecDataConverter.ts (`dataConverterFor(config)`): the payload codec and the encoding failure
   * converter; it must match the clients'. The workflow side's failure converter is the bundle's.
   */
  dataConverter?: DataConverter;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath, bundlerOptions: { preloadModules: PRELOADED_MODULES } }),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.activityInterceptors?.length ? { interceptors: { activity: opts.activityInterceptors } } : {}),
    // Lifecycle workflows sit idle for days; keeping them all cached costs memory for nothing.
    maxCachedWorkflows: opts.maxCachedWorkflows ?? 200,
    ...(opts.maxConcurrentActivityTaskExecutions
      ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions }
      : {}),
    ...(opts.maxConcurrentWorkflowTaskExecutions
      ? { maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTaskExecutions }
      : {}),
    ...(opts.workflowThreadPoolSize ? { workflowThreadPoolSize: opts.workflowThreadPoolSize } : {}),
  });
}
