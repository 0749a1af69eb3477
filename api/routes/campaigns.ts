/**
 * Collection campaigns (DESIGN §3.1, §4), started by POST /collections: the campaign view, its collection
 * list and its reconciliation as CSV (any role), and the cancel of the whole campaign (admin).
 */
import { Router, type Request } from 'express';
import * as campaignsRepo from '../../db/campaignsRepo';
import { actorOf, ANY_ROLE, requireRole } from '../auth';
import { cancelCampaign } from '../campaignCancel';
import { collectionListRows, reconciliationRows, sendCampaignCsv } from '../campaignCsv';
import { campaignView, requireCampaign } from '../campaignView';
import type { ApiContext } from '../context';
import { poolOf } from '../databasePool';
import { dbCall } from '../dbErrors';
import { invalidInput } from '../errors';
import { CAMPAIGN_ID_PATTERN, campaignCancelBody } from '../schemas';
import { parseBody } from '../validation';

/** The campaign id in the path, checked before it reaches SQL (lower case, as PostgreSQL prints UUIDs). */
function campaignIdParam(req: Request): string {
  const value = String(req.params.campaignId);
  if (!CAMPAIGN_ID_PATTERN.test(value)) {
    throw invalidInput('invalid path', [{ field: 'campaignId', problem: 'must be a campaign id (a UUID)' }]);
  }
  return value.toLowerCase();
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function campaignsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.get('/campaigns/:campaignId', requireRole(...ANY_ROLE), async (req, res) => {
    const id = campaignIdParam(req);
    res.json(await campaignView(poolOf(ctx), id, ctx.clock()));
  });

  router.get('/campaigns/:campaignId/collection-list.csv', requireRole(...ANY_ROLE), async (req, res) => {
    const id = campaignIdParam(req);
    const pool = poolOf(ctx);
    await requireCampaign(pool, id);
    const rows = await dbCall(campaignsRepo.collectionList(pool, id));
    sendCampaignCsv(res, `campaign-${id}-collection-list-${day(ctx.clock())}.csv`, collectionListRows(rows));
  });

  router.get('/campaigns/:campaignId/reconciliation.csv', requireRole(...ANY_ROLE), async (req, res) => {
    const id = campaignIdParam(req);
    const pool = poolOf(ctx);
    await requireCampaign(pool, id);
    const devices = await dbCall(campaignsRepo.devices(pool, id, ctx.clock(), 'list'));
    sendCampaignCsv(res, `campaign-${id}-reconciliation-${day(ctx.clock())}.csv`, reconciliationRows(devices));
  });

  router.post('/campaigns/:campaignId/cancel', requireRole('admin'), async (req, res) => {
    const id = campaignIdParam(req);
    const { reason } = parseBody(campaignCancelBody, req);
    const pool = poolOf(ctx);
    await requireCampaign(pool, id);
    res.json(await cancelCampaign(ctx, pool, id, actorOf(res), reason));
  });

  return router;
}
