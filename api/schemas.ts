/**
 * Request shapes. Every body is a strictObject: an unknown field is refused (400 naming it) instead of
 * silently dropped, so a typo like `forcd: true` cannot start a process the admin did not mean.
 */
import { z } from 'zod';
import { filterText } from './queryFilters';
import { ASSET_NUMBER_PATTERN } from '../db/types';
import { HUMAN_EVENTS, newUserSchema, reportSchema } from '../workflows/reportSchemas';
import { CHANGE_USER_STEPS, DISTRIBUTION_STEPS, INACTIVATION_STEPS, SPECIAL_STEPS } from '../workflows/definitions';

export { ASSET_NUMBER_PATTERN };
export const WORKFLOW_ID_PATTERN = /^device-A-[0-9]{6}$/;
/** A bulk request's id (GET /bulk/{bulkId}): a UUID. */
export const BULK_ID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

/** A calendar date or a date-time with offset; the date people agreed on for the collection. */
export const plannedDateSchema = z.union([z.iso.date(), z.iso.datetime({ offset: true })], {
  error: 'must be an ISO 8601 date (2025-03-31) or date-time with offset (2025-03-31T09:00:00Z)',
});

export const idempotencyKeySchema = z
  .string()
  .trim()
  .min(8)
  .max(200)
  .regex(/^[A-Za-z0-9._:\-/]+$/, 'letters, digits and . _ : - / only');

const changeUserFields = {
  reason: text(2000),
  plannedCollectionDate: plannedDateSchema,
  storageLocation: text(200),
  keepRecordAfterWipe: z.boolean().default(true),
};

export const changeUserBody = z.strictObject({ ...changeUserFields, newUser: newUserSchema.optional() });
export type ChangeUserBody = z.infer<typeof changeUserBody>;

const inactivationFields = {
  reason: text(2000),
  forced: z.boolean().default(false),
  acknowledgeProfileStays: z.boolean().optional(),
  finalStatus: z.enum(['retired', 'in_stock']).default('retired'),
};

/** A forced inactivation leaves the MDM profile on the device: the admin must say they know. */
function requireAcknowledgement(v: { forced: boolean; acknowledgeProfileStays?: boolean }, ctx: z.RefinementCtx) {
  if (v.forced && v.acknowledgeProfileStays !== true) {
    ctx.addIssue({
      code: 'custom',
      path: ['acknowledgeProfileStays'],
      message: 'must be true when forced is true: a forced inactivation leaves the MDM profile on the device',
    });
  }
}

/** requireAcknowledgement as JSON Schema, so the OpenAPI document refuses what the API refuses. */
const acknowledgementRule = {
  if: { properties: { forced: { const: true } }, required: ['forced'] },
  then: { properties: { acknowledgeProfileStays: { const: true } }, required: ['acknowledgeProfileStays'] },
};

export const inactivationBody = z
  .strictObject(inactivationFields)
  .superRefine(requireAcknowledgement)
  .meta(acknowledgementRule);
export type InactivationBody = z.infer<typeof inactivationBody>;

/** A campaign's devices per request (api/bulkStarts.ts). */
export const MAX_BULK_ASSETS = 1000;

// Bulk lists: items are checked one by one (a bad item is reported in its row, not a 400 for the batch).
const assetList = z.array(z.string().max(64), 'must be a list of asset numbers').min(1).max(MAX_BULK_ASSETS);

/**
 * A collection campaign's devices by selection (DESIGN §3.1): every asset whose planned asset status is
 * `plannedStatus` and whose own planned date is within the window (both days included).
 */
// Year 0000 passes ISO 8601 but not PostgreSQL's date type (there is no year 0).
const calendarDay = z.iso
  .date('must be a calendar date like 2025-03-31')
  .refine((d) => !d.startsWith('0000'), 'must be a calendar date from the year 0001 on')
  .meta({ pattern: '^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}$' });

export const campaignSelection = z
  .strictObject({
    plannedStatus: z.literal('in_stock', 'a collection campaign collects devices planned to go in_stock'),
    plannedDateFrom: calendarDay,
    plannedDateTo: calendarDay,
  })
  .refine((v) => v.plannedDateFrom <= v.plannedDateTo, {
    message: 'must not be before plannedDateFrom',
    path: ['plannedDateTo'],
  });
export type CampaignSelection = z.infer<typeof campaignSelection>;

/** A campaign names its devices one way: a list, or a selection. */
function oneWayToChoose(v: { assetNumbers?: unknown; select?: unknown }, ctx: z.RefinementCtx) {
  if ((v.assetNumbers === undefined) === (v.select === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [v.assetNumbers === undefined ? 'assetNumbers' : 'select'],
      message: 'give exactly one of assetNumbers (a list) or select (planned status and a planned-date window)',
    });
  }
}

/**
 * POST /collections. Without plannedCollectionDate each device keeps its own planned date (a device that
 * has none is refused in its row); with it, the date applies to every device, as before campaigns.
 */
export const collectionsBody = z
  .strictObject({
    ...changeUserFields,
    plannedCollectionDate: plannedDateSchema.optional(),
    assetNumbers: assetList.optional(),
    select: campaignSelection.optional(),
  })
  .superRefine(oneWayToChoose)
  .meta({ oneOf: [{ required: ['assetNumbers'] }, { required: ['select'] }] });
export type CollectionsBody = z.infer<typeof collectionsBody>;

/** A campaign's id in a path: its bulk request's id. */
export const CAMPAIGN_ID_PATTERN = BULK_ID_PATTERN;

/** POST /campaigns/{id}/cancel: idempotent by itself (one cancel per process of the campaign), so no key. */
export const campaignCancelBody = z.strictObject({ reason: text(2000).optional() });

export const inactivationsBody = z
  .strictObject({ ...inactivationFields, assetNumbers: assetList })
  .superRefine(requireAcknowledgement)
  .meta(acknowledgementRule);
export type InactivationsBody = z.infer<typeof inactivationsBody>;

/** Event reports: the payload sits under `data`, so envelope fields never clash with payload fields. */
export const eventBody = z.strictObject({
  idempotencyKey: idempotencyKeySchema.optional(),
  // The step of the task the reporter saw: a report that arrives after the process moved on is refused.
  step: reportSchema.shape.step,
  data: z.record(z.string(), z.unknown(), 'must be an object with the event fields').default({}),
});

export const adminCommandBody = z.strictObject({
  reason: text(2000).optional(),
  idempotencyKey: idempotencyKeySchema.optional(),
});

export const PROCESS_TYPES = ['change-user', 'inactivation', 'distribution'] as const;
export const ALL_STEPS = [
  ...new Set<string>([...CHANGE_USER_STEPS, ...INACTIVATION_STEPS, ...DISTRIBUTION_STEPS, ...SPECIAL_STEPS]),
];

/** Temporal execution statuses as the API spells them (lower case, hyphenated). */
export const EXECUTION_STATUSES = [
  'running',
  'completed',
  'failed',
  'cancelled',
  'terminated',
  'timed-out',
  'continued-as-new',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export const listWorkflowsQuery = z.strictObject({
  type: z.enum(PROCESS_TYPES).optional(),
  step: z.enum(ALL_STEPS as [string, ...string[]]).optional(),
  status: z.enum(EXECUTION_STATUSES).optional(),
  department: filterText.optional(),
  location: filterText.optional(),
  asset: z.string().regex(ASSET_NUMBER_PATTERN, 'must be an asset number like A-000123').optional(),
  needsAttention: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(4096).optional(),
});
export type ListWorkflowsQuery = z.infer<typeof listWorkflowsQuery>;

export { HUMAN_EVENTS };
