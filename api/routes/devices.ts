/**
 * Starting one process for one device: POST /devices/{assetNumber}/change-user and /inactivation.
 */
import { Router, type Response } from 'express';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { ApiError, notFound } from '../errors';
import { changeUserPlan, inactivationPlan, startLifecycle, type StartOutcome } from '../lifecycleStarts';
import { changeUserBody, inactivationBody } from '../schemas';
import { assetNumberParam, checkPlannedDate, parseBody } from '../validation';

export function startDeps(ctx: ApiContext) {
  return { temporal: ctx.temporal, taskQueue: ctx.taskQueue, assets: ctx.db.assets, config: ctx.config };
}

function answer(res: Response, assetNumber: string, outcome: StartOutcome): void {
  switch (outcome.result) {
    case 'started':
      res
        .status(201)
        .location(`/api/v1/workflows/${outcome.workflowId}`)
        .json({ workflowId: outcome.workflowId, runId: outcome.runId });
      return;
    case 'unknown-asset':
      throw notFound('asset', assetNumber);
    case 'busy':
      throw new ApiError(409, 'device-busy', outcome.message, { running: outcome.running });
  }
}

export function devicesRouter(ctx: ApiContext): Router {
  const router = Router();
  router.post('/devices/:assetNumber/change-user', requireRole('admin'), async (req, res) => {
    const assetNumber = assetNumberParam(req);
    const body = parseBody(changeUserBody, req);
    checkPlannedDate(body.plannedCollectionDate, ctx.clock());
    const actor = actorOf(res);
    const outcome = await startLifecycle(
      startDeps(ctx),
      assetNumber,
      changeUserPlan(assetNumber, body, actor, ctx.config),
    );
    answer(res, assetNumber, outcome);
  });

  router.post('/devices/:assetNumber/inactivation', requireRole('admin'), async (req, res) => {
    const assetNumber = assetNumberParam(req);
    const body = parseBody(inactivationBody, req);
    const actor = actorOf(res);
    const outcome = await startLifecycle(
      startDeps(ctx),
      assetNumber,
      inactivationPlan(assetNumber, body, actor, ctx.config),
    );
    answer(res, assetNumber, outcome);
  });

  return router;
}
