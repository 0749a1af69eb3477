/**
 * Bulk recovery: retry or abort every process in needs-attention that matches a filter, with one row per
 * process (POST /workflows/retry, POST /workflows/abort).
 *
 * The candidates come from the task index, not from a Temporal visibility scan: every parked process has
 * its `admin-decision` row in `open_tasks`, with the step that failed, the error and (from migration 0007)
 * its kind; a row written before kinds were recorded is classified from its error text
 * (api/errorKindFallback.ts). Each match then gets the very Update the single-workflow command sends,
 * attributed to the admin, BULK_START_CONCURRENCY at a time. Its idempotency key is derived from the
 * request's key and the workflow id, so the same request sent again cannot act on a process twice. The
 * workflow's own admin-decision audit records each retry or abort.
 *
 * A process that left needs-attention between the list and its command (someone else retried it, it was
 * cancelled) is `skipped` with the reason, not an error. One request acts on at most `limit` processes
 * (MAX_BULK_RECOVERY); when more match, the answer says `truncated` and where to continue.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import * as tasksRepo from '../db/tasksRepo';
import { adminUpdates } from '../workflows/definitions';
import type { Actor } from './auth';
import { workflowActor } from './auth/workflowActor';
import type { BulkRecoveryBody, RecoveryFilter } from './bulkRecoveryRequest';
import { mapBounded } from './concurrency';
import type { ApiContext } from './context';
import { errorKindOf } from './errorKindFallback';
import { ApiError } from './errors';
import { ADMIN_DECISION } from './taskInbox';
import { temporalOutage } from './temporalErrors';
import { executeUpdate } from './workflowUpdates';

export type RecoveryCommand = 'retry' | 'abort';

export type RecoveryOutcome = 'retried' | 'aborted' | 'would-retry' | 'would-abort' | 'skipped' | 'failed';

export interface RecoveryRow {
  workflowId: string;
  assetNumber: string;
  failedStep: string | null;
  errorKind: string;
  outcome: RecoveryOutcome;
  /** Why a process was skipped or failed. */
  error?: { code: string; message: string };
}

export interface RecoveryAnswer {
  command: RecoveryCommand;
  dryRun: boolean;
  /** Processes this answer covers (at most `limit`). */
  matched: number;
  /** Processes retried or aborted by this request (0 in a dry run). */
  acted: number;
  counts: Record<string, number>;
  /** More processes match than `limit`: send the request again with `after: next.after`. */
  truncated: boolean;
  next?: { after: string; how: string };
  /** True when this is the stored answer of an earlier request with the same Idempotency-Key. */
  duplicate: boolean;
  results: RecoveryRow[];
}

export interface RecoveryRequest {
  command: RecoveryCommand;
  body: BulkRecoveryBody;
  actor: Actor;
  /** The request's Idempotency-Key, or a fresh one: each process's key is derived from it. */
  requestKey: string;
}

const DONE: Record<RecoveryCommand, RecoveryOutcome> = { retry: 'retried', abort: 'aborted' };
const DRY: Record<RecoveryCommand, RecoveryOutcome> = { retry: 'would-retry', abort: 'would-abort' };
/** Rows read from the index per query while looking for matches. */
const PAGE = 500;

/** The idempotency key of one process's command: the request's key and the workflow id, within 200 characters. */
export function perWorkflowKey(requestKey: string, workflowId: string): string {
  const readable = `bulk:${requestKey}:${workflowId}`;
  if (readable.length <= 200) return readable;
  const digest = createHash('sha256').update(requestKey).digest('hex');
  return `bulk:sha256-${digest}:${workflowId}`;
}

/**
 * The parked processes matching the filter, in workflow id order after `after`, at most `limit` of them,
 * and whether more match. The kind is compared in code, since rows without a recorded kind are read
 * from their text: the query returns them along with the rows of the wanted kind.
 */
export async function findParked(
  pool: pg.Pool,
  taskQueue: string,
  filter: RecoveryFilter,
  limit: number,
  after?: string,
): Promise<{ tasks: tasksRepo.OpenTask[]; truncated: boolean }> {
  const sqlFilter: tasksRepo.AdminDecisionFilter = {
    failedStep: filter.step,
    errorKindOrUnknown: filter.errorKind,
    process: filter.process,
    department: filter.department,
    location: filter.location,
    assetNumbers: filter.assetNumbers,
  };
  const found: tasksRepo.OpenTask[] = [];
  let cursor = after;
  for (;;) {
    const page = await tasksRepo.listAdminDecisions(pool, { taskQueue, filter: sqlFilter, after: cursor, limit: PAGE });
    for (const task of page.items) {
      if (filter.errorKind !== undefined && errorKindOf(task) !== filter.errorKind) continue;
      if (found.length === limit) return { tasks: found, truncated: true };
      found.push(task);
    }
    if (!page.more) return { tasks: found, truncated: false };
    cursor = page.items.at(-1)!.workflowId;
  }
}

function rowOf(task: tasksRepo.OpenTask, outcome: RecoveryOutcome, error?: RecoveryRow['error']): RecoveryRow {
  return {
    workflowId: task.workflowId,
    assetNumber: task.assetNumber,
    failedStep: task.failedStep ?? null,
    errorKind: errorKindOf(task),
    outcome,
    ...(error ? { error } : {}),
  };
}

/** The workflow's answers that mean "not in needs-attention any more": nothing to do, not a failure. */
const NOT_PARKED = new Set(['command-not-allowed', 'event-not-expected', 'workflow-closed', 'not-found']);

function outcomeOfError(ctx: ApiContext, task: tasksRepo.OpenTask, err: unknown): RecoveryRow {
  if (err instanceof ApiError) {
    const outcome = NOT_PARKED.has(err.code) ? 'skipped' : 'failed';
    return rowOf(task, outcome, { code: err.code, message: err.message });
  }
  const outage = temporalOutage(err);
  if (outage) {
    const message = `${outage.what}; whether the command took effect is unknown: send the request again with the same Idempotency-Key`;
    return rowOf(task, 'failed', { code: outage.code, message });
  }
  ctx.logger.error(`[api] bulk command on ${task.workflowId} failed:`, err);
  return rowOf(task, 'failed', { code: 'internal', message: 'the command failed unexpectedly; see the API log' });
}

async function actOn(ctx: ApiContext, pool: pg.Pool, r: RecoveryRequest, task: tasksRepo.OpenTask) {
  // Read again just before acting: the list may be seconds old by now, and a process retried and parked
  // anew since (perhaps at another step, for another reason) is not the one the filter matched.
  const current = await tasksRepo.get(pool, task.workflowId);
  const same =
    current?.type === ADMIN_DECISION && current.runId === task.runId && current.occurrence === task.occurrence;
  if (!same) {
    return rowOf(task, 'skipped', {
      code: 'no-longer-parked',
      message: `${task.workflowId} left needs-attention after it was matched (retried, aborted or cancelled meanwhile)`,
    });
  }
  const idempotencyKey = perWorkflowKey(r.requestKey, task.workflowId);
  try {
    await executeUpdate(ctx.temporal, {
      workflowId: task.workflowId,
      name: r.command,
      definition: adminUpdates[r.command],
      arg: {
        actor: workflowActor(r.actor),
        idempotencyKey,
        ...(r.body.reason !== undefined ? { reason: r.body.reason } : {}),
      },
      idempotencyKey,
      timeoutMs: ctx.updateTimeoutMs,
    });
    return rowOf(task, DONE[r.command]);
  } catch (err) {
    return outcomeOfError(ctx, task, err);
  }
}

export async function runRecovery(ctx: ApiContext, pool: pg.Pool, r: RecoveryRequest): Promise<RecoveryAnswer> {
  const { filter, limit, after, dryRun } = r.body;
  const { tasks, truncated } = await findParked(pool, ctx.taskQueue, filter, limit, after);
  const results = dryRun
    ? tasks.map((t) => rowOf(t, DRY[r.command]))
    : await mapBounded(tasks, ctx.config.BULK_START_CONCURRENCY, (t) => actOn(ctx, pool, r, t));
  const counts: Record<string, number> = {};
  for (const row of results) counts[row.outcome] = (counts[row.outcome] ?? 0) + 1;
  const last = tasks.at(-1)?.workflowId;
  const answer: RecoveryAnswer = {
    command: r.command,
    dryRun,
    matched: results.length,
    acted: counts[DONE[r.command]] ?? 0,
    counts,
    truncated,
    ...(truncated && last
      ? {
          next: {
            after: last,
            how: `more processes match than limit (${limit}): send the same request with "after": "${last}" and a new Idempotency-Key`,
          },
        }
      : {}),
    duplicate: false,
    results,
  };
  // The bulk request itself, for the operators' log; each process's own audit trail records its command.
  ctx.logger.info(
    `[api] bulk ${r.command}${dryRun ? ' (dry run)' : ''} by ${r.actor.id} (${r.actor.role}): ` +
      JSON.stringify({ filter, after, limit, reason: r.body.reason, matched: answer.matched, truncated, counts }),
  );
  return answer;
}
