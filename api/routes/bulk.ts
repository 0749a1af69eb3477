/**
 * Campaigns: POST /collections (change user for many devices) and POST /inactivations, one row per asset
 * in input order (api/bulkStarts.ts); GET /bulk/{bulkId} reads a request's rows back, also while its
 * starts are still running after a 202. A collections request is a campaign, followed at /campaigns/{id}
 * (api/routes/campaigns.ts, mounted here).
 */
import { Router, type Response } from 'express';
import { actorOf, ANY_ROLE, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { runBulk, type BulkAnswer } from '../bulkStarts';
import { dbCall } from '../dbErrors';
import { ApiError, invalidInput, notFound } from '../errors';
import { campaignsRouter } from './campaigns';
import { campaignRecord, collectionPlan, selectedAssets } from '../campaignStarts';
import { inactivationPlan } from '../lifecycleStarts';
import { BULK_ID_PATTERN, collectionsBody, inactivationsBody } from '../schemas';
import { checkPlannedDate, parseBody } from '../validation';

function answer(res: Response, { httpStatus, body }: BulkAnswer): void {
  if (body.bulkId) res.location(`/api/v1/bulk/${body.bulkId}`);
  res.status(httpStatus).json(body);
}

export function bulkRouter(ctx: ApiContext): Router {
  const router = Router();

  // A collection campaign (api/campaignStarts.ts): its bulk id is the campaign id (GET /campaigns/{id}).
  router.post('/collections', requireRole('admin'), async (req, res) => {
    const { assetNumbers, select, ...body } = parseBody(collectionsBody, req);
    if (body.plannedCollectionDate) checkPlannedDate(body.plannedCollectionDate, ctx.clock());
    const actor = actorOf(res);
    const chosen = select ? await selectedAssets(ctx, select) : (assetNumbers ?? []);
    const campaign = campaignRecord(body, select);
    const request = { kind: 'collections' as const, requestedBy: actor.id, assetNumbers: chosen, campaign };
    answer(res, await runBulk(ctx, request, collectionPlan(body, actor, ctx.config)));
  });

  router.post('/inactivations', requireRole('admin'), async (req, res) => {
    const { assetNumbers, ...body } = parseBody(inactivationsBody, req);
    const actor = actorOf(res);
    const request = { kind: 'inactivations' as const, requestedBy: actor.id, assetNumbers };
    answer(res, await runBulk(ctx, request, (a) => inactivationPlan(a, body, actor, ctx.config)));
  });

  router.get('/bulk/:bulkId', requireRole(...ANY_ROLE), async (req, res) => {
    const bulkId = String(req.params.bulkId);
    if (!BULK_ID_PATTERN.test(bulkId)) {
      throw invalidInput('invalid path', [{ field: 'bulkId', problem: 'must be a bulk id (a UUID)' }]);
    }
    const store = ctx.db.bulkRequests;
    if (!store) {
      throw new ApiError(
        503,
        'database-unavailable',
        'this API instance has no database configured to keep bulk requests',
      );
    }
    const request = await dbCall(store.get(bulkId.toLowerCase()));
    if (!request) throw notFound('bulk request', bulkId);
    const { id, items, ...rest } = request;
    const counts: Record<string, number> = {};
    for (const r of items) counts[r.result] = (counts[r.result] ?? 0) + 1;
    res.json({ bulkId: id, ...rest, total: items.length, counts, results: items });
  });

  router.use(campaignsRouter(ctx));
  return router;
}
