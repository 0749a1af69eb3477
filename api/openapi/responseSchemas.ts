/**
 * Shapes of the answers, for the spec only (the handlers build them with TypeScript types). Written as
 * zod so they read like the request schemas; loose on purpose where the answer carries workflow state
 * that grows with the workflows (extra fields are allowed).
 */
import { z } from 'zod';
import { ALL_STEPS, EXECUTION_STATUSES, HUMAN_EVENTS, PROCESS_TYPES } from '../schemas';
import { ASSET_PLATFORMS } from '../../db/types';

const iso = z.iso.datetime({ offset: true });
const step = z.enum(ALL_STEPS as [string, ...string[]]);
const lifecycleStatus = z.enum(['running', 'needs-attention', 'completed', 'cancelled', 'aborted']);

/** DESIGN §4: every error answer. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string().meta({ description: 'stable machine-readable code, e.g. invalid-input, event-not-expected' }),
    message: z.string().meta({ description: 'what went wrong, for people' }),
    details: z.unknown().optional().meta({
      description: 'structured detail: `problems` [{field, problem}] for 400; `step`, `expects` for a refused report',
    }),
  }),
});

export const startResult = z.object({ workflowId: z.string(), runId: z.string() });

export const bulkResult = z.object({
  bulkId: z
    .uuid()
    .optional()
    .meta({ description: 'read the rows back at GET /bulk/{bulkId} (absent only where no database keeps them)' }),
  status: z.enum(['done', 'running']).meta({
    description: 'done: every row decided; running (202): rows still `pending` are decided at GET /bulk/{bulkId}',
  }),
  total: z.number().int(),
  counts: z.record(z.string(), z.number().int()),
  results: z.array(
    z.object({
      assetNumber: z.string(),
      result: z.enum(['pending', 'started', 'unknown-asset', 'busy', 'invalid', 'error']),
      workflowId: z.string().optional(),
      runId: z.string().optional(),
      error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).optional(),
    }),
  ),
});

export const bulkRequest = bulkResult.omit({ status: true }).extend({
  bulkId: z.uuid(),
  kind: z.enum(['collections', 'inactivations']),
  requestedBy: z.string(),
  status: z.enum(['running', 'done', 'interrupted']).meta({
    description:
      'running: starts under way; done: every row decided; interrupted: rows left pending by an API process that ' +
      'stopped (start those assets again: an asset started meanwhile answers busy)',
  }),
  createdAt: iso,
  updatedAt: iso,
  finishedAt: iso.nullable(),
});

export const reportAck = z.object({
  accepted: z.literal(true),
  duplicate: z
    .boolean()
    .meta({ description: 'true when this idempotency key was already applied (nothing happened twice)' }),
  event: z.string(),
  step: step.meta({
    description: 'the step the process is moving to (it has entered it, unless `pending` says what it checks first)',
  }),
  status: lifecycleStatus,
  pending: z.string().optional().meta({
    description:
      'what the process checks before it moves on (e.g. the MDM must show the device enrolled); if the check fails the task opens again, the report record in GET /workflows/{id} gets a followUp with the reason, and the task is back in GET /tasks',
  }),
  message: z
    .string()
    .optional()
    .meta({ description: 'why the process is back at the same step (processes started before fleet-scale-1)' }),
  workflowId: z.string(),
  idempotencyKey: z.string(),
});

export const humanTask = z.looseObject({
  type: z.string(),
  step,
  expects: z.array(z.enum(HUMAN_EVENTS as [string, ...string[]])),
  assetNumber: z.string(),
  department: z.string().optional(),
  location: z.string().optional(),
  contact: z
    .object({ name: z.string().optional(), email: z.string().optional(), phone: z.string().optional() })
    .optional(),
  dueAt: iso,
  createdAt: iso,
  remindersSent: z.number().int(),
  escalated: z.boolean(),
});

const workflowSummary = z.looseObject({
  workflowId: z.string(),
  runId: z.string(),
  workflowType: z.string(),
  type: z.enum(PROCESS_TYPES).optional(),
  executionStatus: z.enum(EXECUTION_STATUSES),
  assetNumber: z.string().optional(),
  step: z.string().optional(),
  awaitingTask: z.string().optional(),
  department: z.string().optional(),
  location: z.string().optional(),
  needsAttention: z.boolean(),
  startedAt: iso.optional(),
  closedAt: iso.optional(),
});

export const workflowList = z.object({
  items: z.array(workflowSummary),
  nextCursor: z.string().nullable().meta({ description: 'pass as `cursor` for the next page; null on the last page' }),
});

export const workflowDetail = workflowSummary.extend({
  status: z
    .string()
    .meta({ description: 'the process status (needs-attention, cancelled...) when known, else the execution status' }),
  stateAvailable: z.boolean().meta({
    description:
      "true when the process's own records were read (its audit trail in the database, or the workflow's state); " +
      'false when neither could be: fields from describe() and search attributes only',
  }),
  sources: z.array(z.enum(['temporal-describe', 'audit-trail', 'task-index', 'workflow-state'])).meta({
    description:
      "where the answer came from: one describe(), the run's audit trail, the task index (the pending task); " +
      "workflow-state only when the workflow's state query had to supply a pending task the index does not hold yet",
  }),
  stepsDone: z
    .array(z.looseObject({ step, startedAt: iso, finishedAt: iso.optional(), attempts: z.number().int() }))
    .meta({
      description:
        'from the audit trail: a step finished when its last audit event was written and started when the step before ' +
        'finished; steps that write no audit event are not listed',
    }),
  pendingTask: humanTask.optional(),
  lastError: z.string().optional(),
  mdmWeather: z
    .looseObject({
      step,
      activity: z.string(),
      error: z.string(),
      since: iso,
      tries: z.number().int(),
      nextTryAt: iso,
      givesUpAt: iso.optional(),
    })
    .optional()
    .meta({
      description:
        'while the process waits out an MDM outage or throttling: the call that failed, since when, the next try, and ' +
        'for a command when it gives up and needs attention (MDM_OUTAGE_TOLERANCE); reads never give up',
    }),
  attempts: z.looseObject({}),
  reports: z.array(z.looseObject({})).optional(),
});

export const health = z.object({ status: z.literal('ok') });
export const readiness = z.object({
  status: z.literal('ready'),
  checks: z
    .array(z.object({ name: z.enum(['temporal', 'database', 'worker']), ok: z.boolean() }))
    .meta({ description: 'each component and whether it is ok; why one is not is logged by the API, not answered' }),
});

const nullableText = z.string().nullable();

export const asset = z.looseObject({
  assetNumber: z.string(),
  serialNumber: z.string(),
  model: z.string(),
  mdmDeviceId: nullableText,
  status: z.string(),
  plannedStatus: nullableText,
  plannedDate: nullableText.meta({ description: 'YYYY-MM-DD' }),
  department: z.string(),
  location: z.string(),
  userName: nullableText,
  userEmail: nullableText,
  userPhone: nullableText,
  platform: z
    .enum(ASSET_PLATFORMS)
    .meta({ description: "the device's platform; inactivation needs one with a procedure" }),
  version: z.number().int().meta({ description: 'pass back as expectedVersion for optimistic concurrency' }),
  createdAt: iso,
  updatedAt: iso,
});

/** One entry of an asset's history, as api/assetViews.ts `eventView` shows it. */
export const assetHistoryItem = z.object({
  id: z.string(),
  type: z.string().meta({ description: 'what happened: asset-created, asset-updated, device-collected, ...' }),
  actor: z.string().meta({ description: 'who did it (the caller of the API, or the workflow)' }),
  role: nullableText.meta({ description: "the actor's role, when a person did it" }),
  workflowId: nullableText,
  runId: nullableText,
  step: nullableText.meta({ description: 'the workflow step it happened in' }),
  at: iso,
  details: z.record(z.string(), z.unknown()),
  changes: z
    .record(z.string(), z.object({ from: z.unknown(), to: z.unknown() }))
    .nullable()
    .meta({ description: "for a change of the asset: each changed field's value before and after" }),
});

export const assetPage = z.object({ items: z.array(asset), nextCursor: z.string().nullable() });
export const assetDetail = z.object({ asset, events: z.array(assetHistoryItem), eventsTruncated: z.boolean() });
export const assetWrite = z.looseObject({
  asset,
  created: z.boolean(),
  applied: z.boolean(),
  event: assetHistoryItem
    .nullable()
    .meta({ description: 'the audit event of this write (or of the first one, on a retry)' }),
  idempotencyKey: z.string(),
});
export const importResult = z.object({
  importKey: z.string(),
  rows: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  assets: z.array(
    z.looseObject({ row: z.number().int(), assetNumber: z.string(), outcome: z.string(), version: z.number().int() }),
  ),
});

export const application = z.looseObject({
  id: z.uuid(),
  department: z.string(),
  deliveryLocation: z.string(),
  userName: z.string(),
  userEmail: z.string(),
  state: z.enum(['pending', 'assigned', 'delivered', 'cancelled']),
  assignedAssetNumber: nullableText,
  workflowId: nullableText,
  createdAt: iso,
});
export const applicationPage = z.object({ items: z.array(application), nextCursor: z.string().nullable() });
export const applicationWrite = z.looseObject({
  application,
  assignedTo: z
    .string()
    .nullable()
    .optional()
    .meta({ description: 'the change-user workflow the application went to, if any' }),
  handoff: z
    .string()
    .optional()
    .meta({ description: 'accepted, unconfirmed, already-assigned, claimed-by-workflow, closed, or waiting' }),
  replayed: z.boolean(),
  idempotencyKey: z.string(),
});

export const plannedStatusCounts = z.object({
  generatedAt: iso,
  total: z.number().int(),
  counts: z.array(z.looseObject({ plannedStatus: z.string().nullable(), count: z.number().int() })),
});

export const taskItem = humanTask.partial().extend({
  workflowId: z.string(),
  runId: z.string(),
  process: z.enum(PROCESS_TYPES).optional(),
  type: z.string(),
  expects: z.array(z.string()),
  escalateAt: iso.optional().meta({ description: 'when the admins hear of it if nobody reports' }),
  overdue: z.boolean().optional(),
  failedStep: z.string().optional(),
  lastError: z.string().optional(),
  stateAvailable: z.literal(true).meta({
    description: 'always true: every item comes whole from the task index (kept for older clients)',
  }),
  workflowUrl: z.string(),
  reportUrls: z
    .record(z.string(), z.string())
    .meta({ description: 'where to POST each report (or admin command) this task accepts' }),
});
export const taskPage = z.object({
  items: z.array(taskItem),
  nextCursor: z.string().nullable().meta({ description: 'pass as `cursor` for the next page; null on the last page' }),
});

export const apiKey = z.looseObject({
  id: z.uuid(),
  actorId: z.string(),
  role: z.enum(['admin', 'field-staff', 'viewer']),
  name: z.string().nullable(),
  keyPrefix: z.string(),
  createdBy: z.string(),
  createdAt: iso,
  expiresAt: iso.nullable(),
  revokedAt: iso.nullable(),
});
export const apiKeyCreated = z.object({
  key: z.string().meta({ description: 'the secret: shown in this answer only, never again' }),
  apiKey,
});
export const apiKeyPage = z.object({ items: z.array(apiKey), nextCursor: z.string().nullable() });
