/**
 * Liveness and readiness, without authentication (load balancers and orchestrators call them).
 * Readiness checks each dependency with a short timeout so a hung dependency cannot hang the probe.
 */
import { Router } from 'express';
import type { ApiContext } from '../context';

const CHECK_TIMEOUT_MS = 2_000;
/** A probe that found a dependency down asks to be repeated after this long, like every 503 of the API. */
const NOT_READY_RETRY_AFTER_S = 5;

function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work(), timeout]).finally(() => clearTimeout(timer));
}

async function check(
  name: string,
  work: () => Promise<unknown>,
): Promise<{ name: string; ok: boolean; error?: string }> {
  try {
    await withTimeout(work, CHECK_TIMEOUT_MS);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export function healthRouter(ctx: ApiContext): Router {
  const router = Router();

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
    ]);
    const failed = checks.filter((c) => !c.ok);
    if (failed.length === 0) {
      res.json({ status: 'ready', checks });
      return;
    }
    res.set('Retry-After', String(NOT_READY_RETRY_AFTER_S));
    res.status(503).json({
      error: {
        code: 'not-ready',
        message: `not ready: ${failed.map((c) => `${c.name} (${c.error})`).join(', ')}`,
        details: { checks },
      },
    });
  });

  return router;
}
