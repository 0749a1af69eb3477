/**
 * A campaign's two CSVs. The collection list has the columns and order of GET /reports/collection-list.csv
 * (Japanese collation, in SQL), with exactly the campaign's devices still to collect. The reconciliation
 * sets every listed asset number against what was reported: collected or not, when, by whom, where it is
 * stored. A device-collected report reaches a campaign only through the process the campaign started for
 * that device, so nothing can be collected for a campaign that was not on its list; a listed device whose
 * process was never started (busy, unknown, no planned date) has its row, with the reason.
 */
import type { Response } from 'express';
import type { CampaignDevice, ListRow } from '../db/campaignsRepo';
import { formatCsv } from './csv';
import { neutraliseFormula } from './formulaGuard';
import { LIST_COLUMNS } from './routes/reports';

export function collectionListRows(rows: readonly ListRow[]): string[][] {
  const body = rows.map((a) => [
    a.assetNumber,
    a.department,
    a.location,
    a.userName ?? '',
    a.userEmail ?? '',
    a.userPhone ?? '',
  ]);
  return [[...LIST_COLUMNS], ...body.map((r) => r.map(neutraliseFormula))];
}

export const RECONCILIATION_COLUMNS = [
  'Asset #',
  'Department',
  'Location',
  'Planned Date',
  'State',
  'Overdue',
  'Collected',
  'Collected At',
  'Collected By',
  'Reported By',
  'Storage Location',
  'Workflow',
  'Not Started Because',
] as const;

export function reconciliationRows(devices: readonly CampaignDevice[]): string[][] {
  const body = devices.map((d) => [
    d.assetNumber,
    d.department ?? '',
    d.location ?? '',
    d.plannedDate ?? '',
    d.state,
    d.overdue ? 'yes' : 'no',
    d.collectedAt ? 'yes' : 'no',
    d.collectedAt ?? '',
    d.collectedBy ?? '',
    d.reportedBy ?? '',
    d.storageLocation ?? '',
    d.workflowId ?? '',
    d.state === 'not-started' ? `${d.result}: ${d.error?.message ?? ''}` : '',
  ]);
  return [[...RECONCILIATION_COLUMNS], ...body.map((r) => r.map(neutraliseFormula))];
}

/** Sent as the collection list is: a download, never cached (personal data). */
export function sendCampaignCsv(res: Response, filename: string, rows: string[][]): void {
  res
    .status(200)
    .set({
      'Content-Type': 'text/csv; charset=utf-8; header=present',
      'Content-Disposition': `attachment; filename="${filename}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    })
    .send(formatCsv(rows));
}
