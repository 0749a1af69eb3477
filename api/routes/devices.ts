/**
 * Starting one process for one device: POST /devices/{assetNumber}/change-user and /inactivation.
 */
import { Router, type Response } from 'express';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { ApiError, notFound } from '../errors';
import { idempotent, REPLAYED_HEADER, type Answer } from '../idempotentRequests';
import { changeUserPlan, inactivationPlan, startLifecycle, type StartOutcome } from '../lifecycleStarts';
import { changeUserBody, inactivationBody } from '../schemas';
import { assetNumberParam, checkPlannedDate, parseBody } from '../validation';
import { idempotencyKeyFor } from '../workflowUpdates';

export function startDeps(ctx: ApiContext) {
  return { temporal: ctx.temporal, taskQueue: ctx.taskQueue, assets: ctx.db.assets, config: ctx.config };
}

/** 201 for a start; a device that is unknown or busy is refused (nothing started, the key stays free). */
function answer(assetNumber: string, outcome: StartOutcome): Answer {
  switch (outcome.result) {
    case 'started':
      return { status: 201, body: { workflowId: outcome.workflowId, runId: outcome.runId } };
    case 'unknown-asset':
      throw notFound('asset', assetNumber);
    case 'busy':
      throw new ApiError(409, 'device-busy', outcome.message, { running: outcome.running });
    case 'unsupported-platform':
      throw new ApiError(409, 'platform-not-supported', outcome.message, {
        asset: assetNumber,
        platform: outcome.platform,
        supported: outcome.supported,
      });
  }
}

/** Sends a start's answer (the first one again for a repeated key). */
function send(res: Response, a: Answer & { replayed: boolean }): void {
  const { workflowId } = a.body as { workflowId: string };
  if (a.replayed) res.set(REPLAYED_HEADER, 'true');
  res.status(a.status).location(`/api/v1/workflows/${workflowId}`).json(a.body);
}

export function devicesRouter(ctx: ApiContext): Router {
  const router = Router();
  router.post('/devices/:assetNumber/change-user', requireRole('admin'), async (req, res) => {
    const assetNumber = assetNumberParam(req);
    const body = parseBody(changeUserBody, req);
    checkPlannedDate(body.plannedCollectionDate, ctx.clock());
    const actor = actorOf(res);
    const request = { route: 'POST /devices/{assetNumber}/change-user', asset: assetNumber };
    const start = { scope: 'start', key: idempotencyKeyFor(req, undefined), request, body };
    const a = await idempotent(ctx.db.pool, { ...start, waitMs: ctx.updateTimeoutMs, replay: 'stored' }, async () =>
      answer(
        assetNumber,
        await startLifecycle(startDeps(ctx), assetNumber, changeUserPlan(assetNumber, body, actor, ctx.config)),
      ),
    );
    send(res, a);
  });

  router.post('/devices/:assetNumber/inactivation', requireRole('admin'), async (req, res) => {
    const assetNumber = assetNumberParam(req);
    const body = parseBody(inactivationBody, req);
    const actor = actorOf(res);
    const request = { route: 'POST /devices/{assetNumber}/inactivation', asset: assetNumber };
    const start = { scope: 'start', key: idempotencyKeyFor(req, undefined), request, body };
    const a = await idempotent(ctx.db.pool, { ...start, waitMs: ctx.updateTimeoutMs, replay: 'stored' }, async () =>
      answer(
        assetNumber,
        await startLifecycle(startDeps(ctx), assetNumber, inactivationPlan(assetNumber, body, actor, ctx.config)),
      ),
    );
    send(res, a);
  });

  return router;
}
