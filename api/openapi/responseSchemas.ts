/**
 * Shapes of the answers, for the spec only (the handlers build them with TypeScript types). Written as
 * zod so they read like the request schemas; loose on purpose where the answer carries workflow state
 * that grows with the workflows (extra fields are allowed).
 */
import { z } from 'zod';
import { ALL_STEPS, EXECUTION_STATUSES, HUMAN_EVENTS, PROCESS_TYPES } from '../schemas';

const iso = z.iso.datetime({ offset: true });
const step = z.enum(ALL_STEPS as [string, ...string[]]);
const lifecycleStatus = z.enum(['running', 'needs-attention', 'completed', 'cancelled', 'aborted']);

/** DESIGN §4: every error answer. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string().meta({ description: 'stable machine-readable code, e.g. invalid-input, event-not-expected' }),
    message: z.string().meta({ description: 'what went wrong, for people' }),
    details: z
      .unknown()
      .optional()
      .meta({ description: 'structured detail: `problems` [{field, problem}] for 400; `step`, `expects` for a refused report' }),
  }),
});

export const startResult = z.object({ workflowId: z.string(), runId: z.string() });

export const bulkResult = z.object({
  total: z.number().int(),
  counts: z.record(z.string(), z.number().int()),
  results: z.array(
    z.object({
      assetNumber: z.string(),
      result: z.enum(['started', 'unknown-asset', 'busy', 'invalid', 'error']),
      workflowId: z.string().optional(),
      runId: z.string().optional(),
      error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }).optional(),
    }),
  ),
});

export const reportAck = z.object({
  accepted: z.literal(true),
  duplicate: z.boolean().meta({ description: 'true when this idempotency key was already applied (nothing happened twice)' }),
  event: z.string(),
  step: step.meta({ description: 'the step after the report' }),
  status: lifecycleStatus,
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
  contact: z.object({ name: z.string().optional(), email: z.string().optional(), phone: z.string().optional() }).optional(),
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
  status: z.string().meta({ description: 'the process status (needs-attention, cancelled...) when known, else the execution status' }),
  stateAvailable: z.boolean().meta({ description: 'false when no worker answered the state query: fields from search attributes only' }),
  stepsDone: z.array(z.looseObject({ step, startedAt: iso, finishedAt: iso.optional(), attempts: z.number().int() })),
  pendingTask: humanTask.optional(),
  lastError: z.string().optional(),
  attempts: z.looseObject({}),
  reports: z.array(z.looseObject({})).optional(),
});

export const health = z.object({ status: z.literal('ok') });
export const readiness = z.object({
  status: z.literal('ready'),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().optional() })),
});
