/**
 * POST /workflows/retry and POST /workflows/abort: the admin command for every process in needs-attention
 * that matches a filter, one row per process (api/bulkRecovery.ts). Admin only.
 *
 * With an Idempotency-Key the request is claimed like every other keyed request (api/idempotentRequests.ts):
 * sent again it gets the first answer back (`duplicate: true`), and another body with the key is 409. A dry
 * run changes nothing and claims no key, so the same key can then be used for the real request.
 */
import { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import { actorOf, requireRole } from '../auth';
import { runRecovery, type RecoveryCommand } from '../bulkRecovery';
import { bulkAbortBody, bulkRetryBody } from '../bulkRecoveryRequest';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { idempotent, REPLAYED_HEADER } from '../idempotentRequests';
import { parseBody } from '../validation';
import { idempotencyKeyFor } from '../workflowUpdates';

const BODIES: Record<RecoveryCommand, typeof bulkRetryBody | typeof bulkAbortBody> = {
  retry: bulkRetryBody,
  abort: bulkAbortBody,
};

export function bulkRecoveryRouter(ctx: ApiContext): Router {
  const router = Router();
  for (const command of ['retry', 'abort'] as const) {
    router.post(`/workflows/${command}`, requireRole('admin'), (req, res) => recover(ctx, command, req, res));
  }
  return router;
}

async function recover(ctx: ApiContext, command: RecoveryCommand, req: Request, res: Response): Promise<void> {
  const body: z.infer<typeof bulkRetryBody> = parseBody(BODIES[command], req);
  const pool = ctx.db.pool;
  if (!pool) throw new ApiError(503, 'database-unavailable', 'this API instance has no database configured');
  const keyed = req.get('idempotency-key') !== undefined;
  const requestKey = idempotencyKeyFor(req, undefined);
  const run = async () => ({
    status: 200,
    body: await runRecovery(ctx, pool, { command, body, actor: actorOf(res), requestKey }),
  });
  if (!keyed || body.dryRun) {
    res.json((await run()).body);
    return;
  }
  const claim = {
    scope: 'bulk-recovery',
    key: requestKey,
    request: { route: `POST /workflows/${command}` },
    body,
    waitMs: ctx.updateTimeoutMs,
    replay: 'stored' as const,
  };
  const answer = await idempotent(pool, claim, run);
  if (answer.replayed) res.set(REPLAYED_HEADER, 'true');
  res.status(answer.status).json(answer.body);
}
