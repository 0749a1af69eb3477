/** api/routes/campaigns.ts: a collection campaign's progress, its two CSVs, and its cancel. */
import { z } from 'zod';
import { ANY_ROLE } from '../../auth';
import { RECONCILIATION_COLUMNS } from '../../campaignCsv';
import { campaignCancelBody } from '../../schemas';
import { describeRoute, type SuccessResponse } from '../registry';

const iso = z.iso.datetime({ offset: true });
const day = z.iso.date();
const count = z.number().int();

const deviceState = z.enum(['not-started', 'starting', 'outstanding', 'collected', 'cancelled', 'aborted']).meta({
  description:
    'collected: the device-collected report of the campaign process was recorded; outstanding: its process waits ' +
    'for it; cancelled / aborted: the process was stopped first; not-started: the campaign did not start a ' +
    'process for it (see result and error); starting: its start is still under way',
});

export const campaignView = z.object({
  campaignId: z.uuid(),
  requestedBy: z.string(),
  createdAt: iso,
  // Absent only for a collections request made before campaigns were kept (migration 0014).
  selection: z
    .union([
      z.object({ by: z.literal('list') }),
      z.object({
        by: z.literal('window'),
        plannedStatus: z.literal('in_stock'),
        plannedDateFrom: day,
        plannedDateTo: day,
      }),
    ])
    .optional()
    .meta({ description: 'how the devices were chosen: a list, or planned status and a planned-date window' }),
  reason: z.string().optional(),
  storageLocation: z.string().optional(),
  plannedCollectionDate: z.string().nullable().optional().meta({
    description: 'the one date given to every device, or null: each device keeps its own planned date',
  }),
  keepRecordAfterWipe: z.boolean().optional(),
  cancelledAt: iso.nullable(),
  cancelledBy: z.string().nullable(),
  asOf: iso.meta({ description: 'the time the counts refer to (overdue: outstanding after its own planned day, UTC)' }),
  totals: z.object({
    listed: count,
    started: count,
    notStarted: count,
    starting: count,
    collected: count,
    outstanding: count,
    overdue: count,
    cancelled: count,
    aborted: count,
  }),
  byDepartmentAndLocation: z
    .array(
      z.object({
        department: z.string(),
        location: z.string(),
        devices: count,
        collected: count,
        outstanding: count,
        overdue: count,
        stopped: count,
      }),
    )
    .meta({
      description:
        'started devices by the department and location they had when the campaign started, in Japanese order',
    }),
  devices: z.array(
    z.object({
      assetNumber: z.string(),
      result: z.enum(['pending', 'started', 'unknown-asset', 'busy', 'invalid', 'error']),
      workflowId: z.string().nullable(),
      runId: z.string().nullable(),
      error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).nullable(),
      plannedDate: day.nullable().meta({ description: "the device's own planned date its process was started with" }),
      department: z.string().nullable(),
      location: z.string().nullable(),
      state: deviceState,
      overdue: z.boolean(),
      collectedAt: iso.nullable(),
      collectedBy: z.string().nullable(),
      reportedBy: z.string().nullable(),
      storageLocation: z.string().nullable(),
      stoppedAt: iso.nullable(),
    }),
  ),
  links: z.object({ collectionList: z.string(), reconciliation: z.string(), startResults: z.string() }),
});

export const campaignCancelResult = z.object({
  campaignId: z.uuid(),
  total: count,
  counts: z.record(z.string(), count),
  results: z.array(
    z.object({
      assetNumber: z.string(),
      workflowId: z.string().optional(),
      outcome: z.enum(['cancelled', 'already-closed', 'not-started', 'failed']).meta({
        description:
          'cancelled: the cancel was taken (the process undoes what it had only planned); already-closed: the ' +
          'campaign process had ended; not-started: the campaign started no process for it; failed: try again',
      }),
      detail: z.string().optional(),
      error: z.object({ code: z.string(), message: z.string() }).optional(),
    }),
  ),
});

const csv = (description: string): SuccessResponse => ({
  status: 200,
  description,
  contentType: 'text/csv',
  schema: { type: 'string' },
});

export const campaignsRoutes = [
  describeRoute({
    method: 'get',
    path: '/api/v1/campaigns/{campaignId}',
    tag: 'Campaigns',
    summary: "A collection campaign's progress: collected, outstanding and overdue",
    description:
      'Totals, counts by department and location, and one row per listed device, read from the audit trail and ' +
      'the start results in the database (no workflow is asked).',
    roles: ANY_ROLE,
    responses: [{ status: 200, description: 'The campaign', schema: campaignView }],
    errors: [404, 503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/campaigns/{campaignId}/collection-list.csv',
    tag: 'Campaigns',
    summary: "The campaign's collection list: its devices still to collect",
    roles: ANY_ROLE,
    responses: [
      csv(
        'CSV with a header row: Asset #, Department, Location, User Name, E-mail, Phone; sorted by Department then ' +
          'Location (Japanese collation), as GET /reports/collection-list.csv, with exactly this campaign’s ' +
          'outstanding devices. Cells a spreadsheet would run as a formula are neutralised.',
      ),
    ],
    errors: [404, 503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/campaigns/{campaignId}/reconciliation.csv',
    tag: 'Campaigns',
    summary: 'What was collected against the campaign’s list',
    roles: ANY_ROLE,
    responses: [
      csv(
        `CSV with a header row: ${RECONCILIATION_COLUMNS.join(', ')}; one row per listed device, sorted by the ` +
          'department and location it had at the start (Japanese collation). A collection report reaches a ' +
          'campaign only through the process it started for a listed device, so nothing outside the list appears.',
      ),
    ],
    errors: [404, 503],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/campaigns/{campaignId}/cancel',
    tag: 'Campaigns',
    summary: 'Cancel every still-running process of the campaign',
    description:
      'Each process gets the cancel a single POST /workflows/{workflowId}/cancel sends and undoes what it had only ' +
      'planned (planned status and date put back, with audit events). Sending it again cancels nothing twice.',
    roles: ['admin'],
    body: campaignCancelBody,
    responses: [{ status: 200, description: 'One row per listed device', schema: campaignCancelResult }],
    errors: [404, 503],
  }),
];
