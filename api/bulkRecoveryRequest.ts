/**
 * The bodies of POST /workflows/retry and POST /workflows/abort (bulk recovery, api/bulkRecovery.ts).
 * The filter must narrow: an empty one is refused (400 naming `filter`), so nobody retries or aborts every
 * parked process of the fleet by a slip. Unknown fields and bad values are 400 naming the field.
 */
import { z } from 'zod';
import { CHANGE_USER_STEPS, DISTRIBUTION_STEPS, INACTIVATION_STEPS } from '../workflows/definitions';
import { FAILURE_KINDS } from '../workflows/failureKinds';
import { filterText } from './queryFilters';
import { ASSET_NUMBER_PATTERN, PROCESS_TYPES, WORKFLOW_ID_PATTERN } from './schemas';

/** The most processes one request acts on; `truncated` and `next.after` say how to go on. */
export const MAX_BULK_RECOVERY = 1000;

/** The steps a process can fail at (the ones it runs; not completed, needs-attention, cancelled or aborted). */
const FAILABLE_STEPS = [
  ...new Set<string>([...CHANGE_USER_STEPS, ...INACTIVATION_STEPS, ...DISTRIBUTION_STEPS]),
].filter((s) => s !== 'completed') as [string, ...string[]];

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

export const recoveryFilter = z
  .strictObject(
    {
      step: z.enum(FAILABLE_STEPS).optional().meta({ description: 'the step that failed (failedStep)' }),
      errorKind: z.enum(FAILURE_KINDS).optional().meta({
        description: 'the kind of failure; for processes parked before kinds were recorded, read from the error text',
      }),
      department: filterText.optional(),
      location: filterText.optional(),
      process: z.enum(PROCESS_TYPES).optional(),
      assetNumbers: z
        .array(z.string().regex(ASSET_NUMBER_PATTERN, 'must be an asset number like A-000123'))
        .min(1)
        .max(MAX_BULK_RECOVERY)
        .optional(),
    },
    'must be an object with step, errorKind, department, location, process or assetNumbers',
  )
  .refine((f) => Object.values(f).some((v) => v !== undefined), {
    message: 'must name at least one of step, errorKind, department, location, process, assetNumbers',
  })
  // The refine above as JSON Schema, so the OpenAPI document refuses what the API refuses.
  .meta({ minProperties: 1 });
export type RecoveryFilter = z.infer<typeof recoveryFilter>;

const common = {
  filter: recoveryFilter,
  dryRun: z.boolean().default(false).meta({ description: 'list what would be acted on and change nothing' }),
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_BULK_RECOVERY)
    .default(MAX_BULK_RECOVERY)
    .meta({ description: `the most processes to act on (at most ${MAX_BULK_RECOVERY})` }),
  after: z
    .string()
    .regex(WORKFLOW_ID_PATTERN, 'must be a workflow id like device-A-000123')
    .optional()
    .meta({ description: 'continue after this workflow id (`next.after` of a truncated answer)' }),
};

export const bulkRetryBody = z.strictObject({ ...common, reason: text(2000).optional() });
export const bulkAbortBody = z.strictObject({ ...common, reason: text(2000) });
export type BulkRecoveryBody = z.infer<typeof bulkRetryBody>;
