/** api/routes/bulk.ts: campaigns, one row per asset. */
import { collectionsBody, inactivationsBody } from '../../schemas';
import { describeRoute } from '../registry';
import { bulkResult } from '../responseSchemas';

const rows = {
  status: 200,
  description: 'Every asset decided, in input order (started, unknown-asset, busy, invalid, error)',
  schema: bulkResult,
};

export const bulkRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/collections',
    tag: 'Campaigns',
    summary: 'Collection campaign: start "change device user" for many devices',
    description:
      'Up to 500 asset numbers; a malformed, repeated, unknown or busy asset is reported in its row, never failing the others.',
    roles: ['admin'],
    body: collectionsBody,
    responses: [rows],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/inactivations',
    tag: 'Campaigns',
    summary: 'Start "inactivate device" for many devices',
    roles: ['admin'],
    body: inactivationsBody,
    responses: [rows],
  }),
];
