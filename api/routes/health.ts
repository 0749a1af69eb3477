/**
 * Liveness and readiness, without authentication (load balancers and orchestrators call them).
 * Readiness checks each dependency with a short timeout so a hung dependency cannot hang the probe:
 * Temporal answers, the database answers, and a worker polls the task queue (without one, every start
 * and report would wait). Anonymous callers learn each component's name and ok or not, nothing more;
 * why a check failed goes to the API's log.
 */
import { tsToMs } from '@temporalio/common/lib/time';
import proto from '@temporalio/proto';
import { Router } from 'express';
import type { ApiContext } from '../context';

const CHECK_TIMEOUT_MS = 2_000;
/**
 * A worker serves the task queue when it has polled the workflow task queue within this long.
 * DescribeTaskQueue reports when each worker last began a poll, and an idle worker's long poll lasts up
 * to a minute (the server's long-poll expiry) before it polls again, so a live worker's time can be
 * nearly that old; a worker that died stays listed for minutes with an ever older time.
 */
export const WORKER_POLLED_WITHIN_MS = 75_000;
const { TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;
/** A probe that found a dependency down asks to be repeated after this long, like every 503 of the API. */
const NOT_READY_RETRY_AFTER_S = 5;

function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work(), timeout]).finally(() => clearTimeout(timer));
}

interface CheckResult {
  name: string;
  ok: boolean;
  /** Kept for the log, never sent. */
  error?: string;
}

async function check(name: string, work: () => Promise<unknown>): Promise<CheckResult> {
  try {
    await withTimeout(work, CHECK_TIMEOUT_MS);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Resolves when a worker has polled the workflow task queue recently (WORKER_POLLED_WITHIN_MS). */
async function workerPolls(ctx: ApiContext): Promise<void> {
  const { pollers } = await ctx.temporal.withDeadline(Date.now() + CHECK_TIMEOUT_MS - 250, () =>
    ctx.temporal.workflowService.describeTaskQueue({
      namespace: ctx.namespace,
      taskQueue: { name: ctx.taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    }),
  );
  const since = Date.now() - WORKER_POLLED_WITHIN_MS;
  if (pollers.some((p) => p.lastAccessTime && tsToMs(p.lastAccessTime) >= since)) return;
  throw new Error(
    pollers.length === 0
      ? `no worker has polled task queue ${ctx.taskQueue}`
      : `no worker has polled task queue ${ctx.taskQueue} in the last ${WORKER_POLLED_WITHIN_MS / 1000} s`,
  );
}

export function healthRouter(ctx: ApiContext): Router {
  const router = Router();
  let lastNotReady = '';

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const checks = await Promise.all([
      check('temporal', () =>
        // The gRPC deadline ends the SDK's own retries before our timeout gives up on them.
        ctx.temporal.withDeadline(Date.now() + CHECK_TIMEOUT_MS - 250, () =>
          ctx.temporal.workflowService.getSystemInfo({}),
        ),
      ),
      check('database', () => ctx.db.ping()),
      check('worker', () => workerPolls(ctx)),
    ]);
    const failed = checks.filter((c) => !c.ok);
    const anonymous = checks.map(({ name, ok }) => ({ name, ok }));
    if (failed.length === 0) {
      if (lastNotReady) ctx.logger.info('[api] ready');
      lastNotReady = '';
      res.json({ status: 'ready', checks: anonymous });
      return;
    }
    // Once per change of what fails, not per probe (probes come every few seconds).
    const why = failed.map((c) => `${c.name} (${c.error})`).join(', ');
    if (why !== lastNotReady) ctx.logger.warn(`[api] not ready: ${why}`);
    lastNotReady = why;
    res.set('Retry-After', String(NOT_READY_RETRY_AFTER_S));
    res.status(503).json({
      error: {
        code: 'not-ready',
        message: `not ready: ${failed.map((c) => c.name).join(', ')}`,
        details: { checks: anonymous },
      },
    });
  });

  return router;
}
