/**
 * Starting a collection campaign (DESIGN §3.1, POST /collections): its devices come from a list, or from
 * a selection (planned asset status `in_stock`, own planned date within a window), and each device's
 * process keeps the device's own planned date unless the campaign gives one date for all (the behaviour
 * before campaigns, kept for existing clients). A device with neither is refused in its row. The campaign
 * is the bulk request: its id is the campaign id (GET /campaigns/{id}).
 */
import type { Config } from '../config/env';
import * as campaignsRepo from '../db/campaignsRepo';
import type { Actor } from './auth';
import type { PlanFor } from './bulkStarts';
import type { ApiContext } from './context';
import { poolOf } from './databasePool';
import { dbCall } from './dbErrors';
import { invalidInput } from './errors';
import { changeUserPlan } from './lifecycleStarts';
import { MAX_BULK_ASSETS, type CampaignSelection, type CollectionsBody } from './schemas';

type SharedFields = Omit<CollectionsBody, 'assetNumbers' | 'select'>;

/** The asset numbers a selection takes; 400 when none or more than one request may start. */
export async function selectedAssets(ctx: ApiContext, select: CampaignSelection): Promise<string[]> {
  const found = await dbCall(campaignsRepo.selectForCollection(poolOf(ctx), select, MAX_BULK_ASSETS));
  const window = `planned status ${select.plannedStatus}, planned date ${select.plannedDateFrom} to ${select.plannedDateTo}`;
  if (found.assetNumbers.length === 0) {
    throw invalidInput('no devices to collect', [
      { field: 'select', problem: `no asset still to collect has ${window}` },
    ]);
  }
  if (found.more) {
    throw invalidInput('too many devices for one campaign', [
      {
        field: 'select',
        problem: `more than ${MAX_BULK_ASSETS} assets have ${window}: narrow the window (at most ${MAX_BULK_ASSETS} per campaign)`,
      },
    ]);
  }
  return found.assetNumbers;
}

/** What the campaign keeps about itself (bulk_requests.campaign): how devices were chosen, shared fields. */
export function campaignRecord(body: SharedFields, select: CampaignSelection | undefined): Record<string, unknown> {
  return {
    selection: select ? { by: 'window', ...select } : { by: 'list' },
    reason: body.reason,
    storageLocation: body.storageLocation,
    plannedCollectionDate: body.plannedCollectionDate ?? null,
    keepRecordAfterWipe: body.keepRecordAfterWipe,
  };
}

/** Each device's plan: the campaign date if given, else the asset's own planned date, else refused. */
export function collectionPlan(body: SharedFields, actor: Actor, config: Config): PlanFor {
  return (assetNumber, asset) => {
    const plannedCollectionDate = body.plannedCollectionDate ?? asset.plannedDate ?? undefined;
    if (!plannedCollectionDate) {
      return {
        refused: {
          code: 'no-planned-date',
          message:
            `asset ${assetNumber} has no planned date of its own and the campaign gives none: ` +
            "set the asset's planned date, or give plannedCollectionDate",
        },
      };
    }
    return changeUserPlan(assetNumber, { ...body, plannedCollectionDate }, actor, config);
  };
}
