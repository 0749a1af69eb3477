/** api/routes/assets.ts: assets, their history, create/update and the CSV import. */
import { ANY_ROLE } from '../../auth';
import { assetBody, listAssetsQuery } from '../../routes/assets';
import { describeRoute } from '../registry';
import { assetDetail, assetPage, assetWrite, importResult } from '../responseSchemas';

export const assetsRoutes = [
  describeRoute({
    method: 'get',
    path: '/api/v1/assets',
    tag: 'Assets',
    summary: 'List assets',
    description:
      'Filter by status, planned status, department, location, user e-mail; paginated with `limit` and `cursor`.',
    roles: ANY_ROLE,
    query: listAssetsQuery,
    responses: [{ status: 200, description: 'One page of assets', schema: assetPage }],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/assets/export.csv',
    tag: 'Assets',
    summary: 'Export assets as CSV, to edit and import back',
    description:
      'Every asset matching the filters of GET /assets (`limit` and `cursor` do not apply), in asset-number order, with the columns POST /assets/import reads and the `Version` each row was read at, ' +
      'so an edited file imports back as edits based on that version (a device changed since is refused as stale, not reverted). Cells a spreadsheet would run as a formula are guarded; the import removes the guard.',
    roles: ANY_ROLE,
    query: listAssetsQuery,
    responses: [
      {
        status: 200,
        description:
          'CSV with a header row: Asset #, Serial Number, Model, MDM Device ID, Asset Status, Planned Asset Status, Planned Date, Department, Location, User Name, E-mail, Phone, Platform, Version',
        contentType: 'text/csv',
        schema: { type: 'string' },
      },
    ],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/assets/{assetNumber}',
    tag: 'Assets',
    summary: 'One asset with its event history (oldest first)',
    description:
      'The history holds the first 1000 events of the asset, oldest first; `eventsTruncated` is true when there are more.',
    roles: ANY_ROLE,
    responses: [{ status: 200, description: 'The asset', schema: assetDetail }],
    errors: [404, 503],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/assets',
    tag: 'Assets',
    summary: 'Create or update an asset',
    description:
      'On update, optional fields that are absent stay as they are (null clears them). ' +
      '`version` is the version the edit was based on (as GET /assets/{assetNumber} shows): required to change an asset that exists, absent (or 0) to create one. ' +
      'Refused with 409 `version-required` when an existing asset would change without it; 409 `stale-version` when the asset has changed since that version, ' +
      'with `details.changedFields` and `details.changes` (each change: fields with before and after, event type, actor, workflow, step, time, from the audit trail); ' +
      '409 `owned-by-process` when a running process owns a field the edit changes, with `details.workflows` (workflow id, run id, process, step, the fields) and `details.editable` ' +
      '(change-user owns status, planned status and date, department, location, user name, e-mail and phone, MDM device id and serial number; ' +
      'inactivation owns status, planned status and date, MDM device id, serial number and platform; ' +
      'distribution owns status, planned status and date, department, location, user name, e-mail and phone; the model is owned by none); ' +
      '404 when a version is given for an asset that does not exist. An edit that changes nothing is answered 200 whatever its version (the asset keeps its version). ' +
      'The same `Idempotency-Key` again answers `applied: false`; with another body it is refused with 409 `idempotency-key-reused`.',
    roles: ['admin'],
    body: assetBody,
    idempotencyKeyHeader: true,
    responses: [
      { status: 201, description: 'Created', schema: assetWrite },
      { status: 200, description: 'Updated (or unchanged)', schema: assetWrite },
    ],
    errors: [404, 409, 503],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/assets/import',
    tag: 'Assets',
    summary: 'Import assets from CSV: all rows or none',
    description:
      'A header row names the columns (those of GET /assets/export.csv; `Version` is the version a row was based on, required for a row that changes an existing asset, empty for a new one). ' +
      'Any refused row rejects the whole file and writes nothing; `details.errors` lists every refused row (`row`, `column`, `message`). ' +
      "Rows refused for the asset's state also carry `assetNumber`, `code` (`version-required`, `stale-version`, `owned-by-process`, `unknown-asset`) and `details` as POST /assets gives them. " +
      'The answer is 409 `import-conflict` when every refusal is `version-required`, `stale-version` or `owned-by-process`, otherwise 400 `invalid-csv`. ' +
      'A row that changes nothing is accepted whatever its version, so an export of the whole fleet, edited in a few rows, imports back.',
    roles: ['admin'],
    textBody: {
      contentType: 'text/csv',
      description: 'UTF-8 CSV (RFC 4180), a BOM is allowed; size limit API_IMPORT_LIMIT',
    },
    idempotencyKeyHeader: true,
    responses: [{ status: 200, description: 'Every row written', schema: importResult }],
    errors: [409, 503],
  }),
];
