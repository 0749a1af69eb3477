/** api/routes/bulk.ts: campaigns, one row per asset, and reading a campaign's rows back. */
import { ANY_ROLE } from '../../auth';
import { collectionsBody, inactivationsBody, MAX_BULK_ASSETS } from '../../schemas';
import { describeRoute } from '../registry';
import { bulkRequest, bulkResult } from '../responseSchemas';

const responses = [
  {
    status: 200,
    description: 'Every asset decided, in input order (started, unknown-asset, busy, invalid, error)',
    schema: bulkResult,
  },
  {
    status: 202,
    description:
      'Starts still running after BULK_SYNC_WAIT_MS: the rows decided so far, the others `pending`; ' +
      'the `Location` header and `bulkId` name where to read the rest (GET /bulk/{bulkId})',
    schema: bulkResult,
  },
];

const campaign =
  `Up to ${MAX_BULK_ASSETS} asset numbers; a malformed, repeated, unknown or busy asset is reported in its row, ` +
  'never failing the others. The known assets are looked up at once and started side by side.';

export const bulkRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/collections',
    tag: 'Campaigns',
    summary: 'Collection campaign: start "change device user" for many devices',
    description:
      `${campaign} The devices are a list (\`assetNumbers\`) or a selection (\`select\`: planned status in_stock and ` +
      'a window of planned dates; already in stock excluded). Without `plannedCollectionDate` each device keeps its ' +
      'own planned date (a device without one is refused in its row, `no-planned-date`); with it, every device gets ' +
      'that date. The `bulkId` is the campaign id: follow it at GET /campaigns/{campaignId}.',
    roles: ['admin'],
    body: collectionsBody,
    responses,
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/inactivations',
    tag: 'Campaigns',
    summary: 'Start "inactivate device" for many devices',
    description: campaign,
    roles: ['admin'],
    body: inactivationsBody,
    responses,
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/bulk/{bulkId}',
    tag: 'Campaigns',
    summary: "A bulk request's rows, in input order, also while its starts are still running",
    roles: ANY_ROLE,
    responses: [{ status: 200, description: 'The request and one row per asset number', schema: bulkRequest }],
    errors: [404, 503],
  }),
];
