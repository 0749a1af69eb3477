/**
 * The seed procedure's lists and summary: collection and distribution lists as CSV for a spreadsheet
 * (Asset #, Department, Location, User Name, E-mail, Phone; sorted by Department then Location by the
 * repository queries), and the count of devices by planned asset status.
 */
import { Router, type Response } from 'express';
import * as assetsRepo from '../../db/assetsRepo';
import { plannedStatusSummary } from '../../db/plannedStatusSummary';
import type { Asset } from '../../db/types';
import { ANY_ROLE, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { formatCsv } from '../csv';
import { poolOf } from '../databasePool';
import { dbCall } from '../dbErrors';
import { neutraliseFormula } from '../formulaGuard';

export const LIST_COLUMNS = ['Asset #', 'Department', 'Location', 'User Name', 'E-mail', 'Phone'] as const;

export function listRows(assets: readonly Asset[]): string[][] {
  const rows = assets.map((a) => [
    a.assetNumber,
    a.department,
    a.location,
    a.userName ?? '',
    a.userEmail ?? '',
    a.userPhone ?? '',
  ]);
  return [[...LIST_COLUMNS], ...rows.map((r) => r.map(neutraliseFormula))];
}

function sendCsv(res: Response, name: string, today: Date, assets: readonly Asset[]): void {
  const filename = `${name}-${today.toISOString().slice(0, 10)}.csv`;
  res
    .status(200)
    .set({
      'Content-Type': 'text/csv; charset=utf-8; header=present',
      'Content-Disposition': `attachment; filename="${filename}"`,
      // Personal data: no shared caches, and a fresh list every time.
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    })
    .send(formatCsv(listRows(assets)));
}

export function reportsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.get('/reports/collection-list.csv', requireRole(...ANY_ROLE), async (_req, res) => {
    sendCsv(res, 'collection-list', ctx.clock(), await dbCall(assetsRepo.collectionList(poolOf(ctx))));
  });

  router.get('/reports/distribution-list.csv', requireRole(...ANY_ROLE), async (_req, res) => {
    sendCsv(res, 'distribution-list', ctx.clock(), await dbCall(assetsRepo.distributionList(poolOf(ctx))));
  });

  // The same summary the summary report Schedule mails (db/plannedStatusSummary.ts).
  router.get('/reports/planned-asset-status', requireRole(...ANY_ROLE), async (_req, res) => {
    res.json(await dbCall(plannedStatusSummary(poolOf(ctx), ctx.clock())));
  });

  return router;
}
