/**
 * GET /campaigns/{id}: a collection campaign followed as one thing (DESIGN §3.1): collected, outstanding
 * and overdue, in total and by the department and location each device had when the campaign started,
 * and one row per listed device. All of it from the database (db/campaignsRepo.ts), in a few queries
 * whatever the campaign's size: no workflow is asked. Overdue means outstanding after its own planned day.
 */
import type pg from 'pg';
import * as campaignsRepo from '../db/campaignsRepo';
import { dbCall } from './dbErrors';
import { notFound } from './errors';

export interface CampaignTotals {
  /** Asset numbers the campaign listed (or selected). */
  listed: number;
  /** Whose process was started by the campaign (the others: notStarted, each with its reason in its row). */
  started: number;
  notStarted: number;
  /** Rows whose start is still under way (a 202 answer). */
  starting: number;
  collected: number;
  outstanding: number;
  overdue: number;
  cancelled: number;
  aborted: number;
}

export function totalsOf(devices: readonly campaignsRepo.CampaignDevice[]): CampaignTotals {
  const count = (p: (d: campaignsRepo.CampaignDevice) => boolean) => devices.filter(p).length;
  return {
    listed: devices.length,
    started: count((d) => d.result === 'started'),
    notStarted: count((d) => d.state === 'not-started'),
    starting: count((d) => d.state === 'starting'),
    collected: count((d) => d.state === 'collected'),
    outstanding: count((d) => d.state === 'outstanding'),
    overdue: count((d) => d.overdue),
    cancelled: count((d) => d.state === 'cancelled'),
    aborted: count((d) => d.state === 'aborted'),
  };
}

/** The campaign's header, or 404 (an unknown id, or a bulk request that is not a collection campaign). */
export async function requireCampaign(pool: pg.Pool, id: string): Promise<campaignsRepo.CampaignHeader> {
  const header = await dbCall(campaignsRepo.getHeader(pool, id));
  if (!header) throw notFound('campaign', id);
  return header;
}

export async function campaignView(pool: pg.Pool, id: string, now: Date) {
  const header = await requireCampaign(pool, id);
  const [devices, groups] = await Promise.all([
    dbCall(campaignsRepo.devices(pool, header.id, now)),
    dbCall(campaignsRepo.groups(pool, header.id, now)),
  ]);
  const base = `/api/v1/campaigns/${header.id}`;
  return {
    campaignId: header.id,
    requestedBy: header.requestedBy,
    createdAt: header.createdAt,
    ...(header.campaign ?? {}),
    cancelledAt: header.cancelledAt,
    cancelledBy: header.cancelledBy,
    asOf: now.toISOString(),
    totals: totalsOf(devices),
    byDepartmentAndLocation: groups,
    devices: devices.map(({ position: _position, ...d }) => d),
    links: {
      collectionList: `${base}/collection-list.csv`,
      reconciliation: `${base}/reconciliation.csv`,
      startResults: `/api/v1/bulk/${header.id}`,
    },
  };
}
