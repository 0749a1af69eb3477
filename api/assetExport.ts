/**
 * GET /assets/export.csv: the assets as the import reads them, with the version each row was read at, so
 * "export, edit in a spreadsheet, import back" is an edit based on what was exported (api/assetEdit.ts):
 * a device changed since the export is refused as stale rather than silently reverted. The columns are
 * the import's own names; cells that a spreadsheet would run as a formula are guarded (the import removes
 * the guard). Asset-number order, filtered as GET /assets; the import takes up to MAX_IMPORT_ROWS rows a file.
 */
import * as assetsRepo from '../db/assetsRepo';
import type { Asset, AssetListFilters, Queryable } from '../db/types';
import { formatCsv } from './csv';
import { neutraliseFormula } from './formulaGuard';

export const EXPORT_COLUMNS = [
  'Asset #',
  'Serial Number',
  'Model',
  'MDM Device ID',
  'Asset Status',
  'Planned Asset Status',
  'Planned Date',
  'Department',
  'Location',
  'User Name',
  'E-mail',
  'Phone',
  'Platform',
  'Version',
] as const;

function exportRow(a: Asset): string[] {
  return [
    a.assetNumber,
    a.serialNumber,
    a.model,
    a.mdmDeviceId ?? '',
    a.status,
    a.plannedStatus ?? '',
    a.plannedDate ?? '',
    a.department,
    a.location,
    a.userName ?? '',
    a.userEmail ?? '',
    a.userPhone ?? '',
    a.platform,
    String(a.version),
  ].map(neutraliseFormula);
}

/** Every asset matching the filters, read page by page (keyset), as one CSV text. */
export async function exportAssetsCsv(db: Queryable, filters: AssetListFilters): Promise<string> {
  const rows: string[][] = [[...EXPORT_COLUMNS]];
  let cursor: string | null = null;
  do {
    const page = await assetsRepo.list(db, { cursor, limit: assetsRepo.MAX_PAGE_SIZE, filters });
    rows.push(...page.items.map(exportRow));
    cursor = page.nextCursor;
  } while (cursor);
  return formatCsv(rows);
}
