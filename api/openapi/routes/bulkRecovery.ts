/** api/routes/bulkRecovery.ts: retry or abort every process in needs-attention that matches a filter. */
import { z } from 'zod';
import { FAILURE_KINDS } from '../../../workflows/failureKinds';
import { bulkAbortBody, bulkRetryBody, MAX_BULK_RECOVERY } from '../../bulkRecoveryRequest';
import { describeRoute } from '../registry';

const recoveryResult = z.object({
  command: z.enum(['retry', 'abort']),
  dryRun: z.boolean(),
  matched: z
    .number()
    .int()
    .meta({ description: `processes this answer covers (at most \`limit\`, ${MAX_BULK_RECOVERY})` }),
  acted: z.number().int().meta({ description: 'processes retried or aborted by this request (0 in a dry run)' }),
  counts: z.record(z.string(), z.number().int()).meta({ description: 'rows per outcome' }),
  truncated: z.boolean().meta({ description: 'more processes match than `limit`; `next` says how to continue' }),
  next: z
    .object({ after: z.string(), how: z.string() })
    .optional()
    .meta({ description: 'when truncated: send the same filter with `after` (and a new Idempotency-Key)' }),
  duplicate: z.boolean().meta({
    description:
      'true when this is the stored answer of an earlier request with the same Idempotency-Key (nothing acted twice)',
  }),
  results: z.array(
    z.object({
      workflowId: z.string(),
      assetNumber: z.string(),
      failedStep: z.string().nullable(),
      errorKind: z
        .string()
        .meta({ description: `one of ${FAILURE_KINDS.join(', ')} (or a kind newer than this list)` }),
      outcome: z.enum(['retried', 'aborted', 'would-retry', 'would-abort', 'skipped', 'failed']).meta({
        description:
          'retried / aborted: the process took the command; would-retry / would-abort: a dry run; skipped: it was no ' +
          'longer in needs-attention (`error` says why: retried or cancelled meanwhile, closed); failed: the command ' +
          'could not be sent (`error`; send the request again with the same Idempotency-Key)',
      }),
      error: z.object({ code: z.string(), message: z.string() }).optional(),
    }),
  ),
});

const how =
  'Acts on every process in `needs-attention` whose admin decision matches `filter` (all given fields must match; ' +
  '`step` is the step that failed, `errorKind` the kind of failure, read from the error text for processes parked ' +
  'before kinds were recorded). An empty filter is refused (400 naming `filter`). The candidates come from the task ' +
  'index; each gets the same Update as the single-workflow command, attributed to the caller, with an idempotency key ' +
  'derived from the Idempotency-Key and the workflow id, so sending the request again acts on no process twice (with ' +
  'the same key it gets the first answer back, `duplicate: true`; the key with another body: 409 ' +
  '`idempotency-key-reused`). A process that left needs-attention meanwhile is `skipped`. `dryRun` lists what would ' +
  `be acted on and changes nothing. At most \`limit\` (${MAX_BULK_RECOVERY}) processes per request, in workflow id ` +
  'order: `truncated` and `next.after` say how to continue.';

const responses = [{ status: 200, description: 'One row per matching process', schema: recoveryResult }];

export const bulkRecoveryRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/workflows/retry',
    tag: 'Workflows',
    summary: 'Bulk retry: retry every process in needs-attention that matches a filter',
    description: how,
    roles: ['admin'],
    body: bulkRetryBody,
    idempotencyKeyHeader: true,
    responses,
    errors: [409],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/workflows/abort',
    tag: 'Workflows',
    summary: 'Bulk abort: give up every process in needs-attention that matches a filter (a reason is required)',
    description: how,
    roles: ['admin'],
    body: bulkAbortBody,
    idempotencyKeyHeader: true,
    responses,
    errors: [409],
  }),
];
