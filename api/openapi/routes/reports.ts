/** api/routes/reports.ts: the seed procedure's lists and the planned-status summary. */
import { ANY_ROLE } from '../../auth';
import { describeRoute, type SuccessResponse } from '../registry';
import { plannedStatusCounts } from '../responseSchemas';

const csv: SuccessResponse = {
  status: 200,
  description:
    'CSV with a header row: Asset #, Department, Location, User Name, E-mail, Phone; sorted by Department then Location. Cells that a spreadsheet would run as a formula are neutralised.',
  contentType: 'text/csv',
  schema: { type: 'string' },
};

export const reportsRoutes = [
  describeRoute({
    method: 'get',
    path: '/api/v1/reports/collection-list.csv',
    tag: 'Reports',
    summary: 'Collection list: devices planned to be collected',
    roles: ANY_ROLE,
    responses: [csv],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/reports/distribution-list.csv',
    tag: 'Reports',
    summary: 'Distribution list: devices to hand out',
    roles: ANY_ROLE,
    responses: [csv],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/reports/planned-asset-status',
    tag: 'Reports',
    summary: 'Device counts by planned asset status',
    roles: ANY_ROLE,
    responses: [
      { status: 200, description: 'Counts (plannedStatus null: no change planned)', schema: plannedStatusCounts },
    ],
    errors: [503],
  }),
];
