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
      'On update, optional fields that are absent stay as they are (null clears them). `expectedVersion` guards against lost updates (409). ' +
      'The same `Idempotency-Key` again answers `applied: false`; with another body it is refused with 409 `idempotency-key-reused`.',
    roles: ['admin'],
    body: assetBody,
    idempotencyKeyHeader: true,
    responses: [
      { status: 201, description: 'Created', schema: assetWrite },
      { status: 200, description: 'Updated (or unchanged)', schema: assetWrite },
    ],
    errors: [409, 503],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/assets/import',
    tag: 'Assets',
    summary: 'Import assets from CSV: all rows or none',
    description:
      'A header row names the columns. Any bad row rejects the whole file (400 `invalid-csv` with `details.errors` per row and column) and writes nothing.',
    roles: ['admin'],
    textBody: {
      contentType: 'text/csv',
      description: 'UTF-8 CSV (RFC 4180), a BOM is allowed; size limit API_IMPORT_LIMIT',
    },
    idempotencyKeyHeader: true,
    responses: [{ status: 200, description: 'Every row written', schema: importResult }],
    errors: [503],
  }),
];
