/**
 * Starting one process for one device: POST /devices/{assetNumber}/change-user, /inactivation and
 * /distribution (an admin chose the in-stock asset), and POST /distributions (the product picks it).
 */
import { Router, type Response } from 'express';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { poolOf } from '../databasePool';
import { distributionBody } from '../distributionBody';
import { startDistribution, type DistributionOutcome } from '../distributionStarts';
import { ApiError, notFound } from '../errors';
import { idempotent, REPLAYED_HEADER, type Answer } from '../idempotentRequests';
import { changeUserPlan, inactivationPlan, startLifecycle, type StartOutcome } from '../lifecycleStarts';
import { changeUserBody, inactivationBody } from '../schemas';
import { assetNumberParam, checkPlannedDate, parseBody } from '../validation';
import { idempotencyKeyFor } from '../workflowUpdates';
import { workflowIdFor } from '../../workflows/definitions';

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

/** 201 with the asset that was reserved; a refusal says why nothing started (the reservation was put back). */
function distributionAnswer(outcome: DistributionOutcome, applicationId?: string, chosen?: string): Answer {
  switch (outcome.result) {
    case 'started':
      return {
        status: 201,
        body: { workflowId: outcome.workflowId, runId: outcome.runId, assetNumber: outcome.assetNumber },
      };
    case 'unknown-application':
      throw notFound('application', applicationId ?? '');
    case 'application-unavailable':
      throw new ApiError(
        409,
        'application-unavailable',
        `application ${outcome.application.id} is ${outcome.application.state}`,
        {
          applicationId: outcome.application.id,
          state: outcome.application.state,
          workflowId: outcome.application.workflowId,
        },
      );
    case 'not-in-stock':
      throw new ApiError(
        409,
        'asset-not-in-stock',
        `asset ${chosen} is ${outcome.status}, not in stock: only a device in stock is distributed`,
        {
          asset: chosen,
          status: outcome.status,
        },
      );
    case 'already-reserved':
      throw new ApiError(409, 'asset-reserved', `asset ${chosen} is reserved for another distribution`, {
        asset: chosen,
        workflowId: workflowIdFor(outcome.reservation.assetNumber),
        reservedAt: outcome.reservation.reservedAt,
      });
    case 'unknown-asset':
      throw notFound('asset', chosen ?? '');
    case 'no-stock':
      throw new ApiError(
        409,
        'no-stock',
        'no device in stock is free to distribute (in stock, not reserved, no process running); nothing was started',
        {},
      );
    default:
      return answer(chosen ?? '', outcome);
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

  router.post('/devices/:assetNumber/distribution', requireRole('admin'), async (req, res) => {
    const assetNumber = assetNumberParam(req);
    const body = parseBody(distributionBody, req);
    const actor = actorOf(res);
    const pool = poolOf(ctx);
    const request = { route: 'POST /devices/{assetNumber}/distribution', asset: assetNumber };
    const start = { scope: 'start', key: idempotencyKeyFor(req, undefined), request, body };
    const a = await idempotent(pool, { ...start, waitMs: ctx.updateTimeoutMs, replay: 'stored' }, async () =>
      distributionAnswer(
        await startDistribution({ ...startDeps(ctx), pool }, body, actor, assetNumber),
        body.applicationId,
        assetNumber,
      ),
    );
    send(res, a);
  });

  router.post('/distributions', requireRole('admin'), async (req, res) => {
    const body = parseBody(distributionBody, req);
    const actor = actorOf(res);
    const pool = poolOf(ctx);
    const request = { route: 'POST /distributions' };
    const start = { scope: 'start', key: idempotencyKeyFor(req, undefined), request, body };
    const a = await idempotent(pool, { ...start, waitMs: ctx.updateTimeoutMs, replay: 'stored' }, async () =>
      distributionAnswer(await startDistribution({ ...startDeps(ctx), pool }, body, actor), body.applicationId),
    );
    send(res, a);
  });

  return router;
}
