/**
 * The summary by planned asset status (the seed procedure's summary report): what
 * GET /reports/planned-asset-status answers and what the summary report Schedule mails
 * (activities/summaryReport.ts), from this one query.
 */
import { countByPlannedStatus } from './assetsRepo';
import type { AssetStatus, Queryable } from './types';

export interface PlannedStatusCount {
  /** null: no change planned for these devices. */
  plannedStatus: AssetStatus | null;
  count: number;
}

export interface PlannedStatusSummary {
  generatedAt: string;
  total: number;
  /** Every planned status, zero counts included, in ASSET_STATUSES order, then null. */
  counts: PlannedStatusCount[];
}

export async function plannedStatusSummary(db: Queryable, at: Date): Promise<PlannedStatusSummary> {
  const counts = await countByPlannedStatus(db);
  return { generatedAt: at.toISOString(), total: counts.reduce((sum, c) => sum + c.count, 0), counts };
}
