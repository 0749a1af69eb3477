/**
 * Sending a report or an admin command to a workflow as a Temporal Update. The workflow's validator
 * decides synchronously whether it fits the current step, so the answer (200 with the new step, or 409
 * with what it expects) is the truth, not a guess made by the API from stale search attributes.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { Request } from 'express';
import { stateQuery, type ReportAck } from '../workflows/definitions';
import { ApiError, invalidInput } from './errors';
import {
  eventNotExpectedError,
  fromUpdateFailure,
  isNotFound,
  isUnhandledUpdate,
  isUpdateTimeout,
  workerUnavailable,
} from './temporalErrors';
import { idempotencyKeySchema } from './schemas';
import { describeOrUndefined, executionStatus } from './workflowView';

/**
 * The key that makes a retried request harmless: the `Idempotency-Key` header or the body's
 * `idempotencyKey` (they must agree when both are given). Without either, the request gets a fresh key
 * and is therefore not safe to retry blindly; the key is returned so the client can retry with it.
 */
export function idempotencyKeyFor(req: Request, bodyKey: string | undefined): string {
  const header = req.get('idempotency-key');
  if (header !== undefined) {
    const parsed = idempotencyKeySchema.safeParse(header);
    if (!parsed.success) {
      throw invalidInput('invalid header', [
        { field: 'Idempotency-Key', problem: parsed.error.issues[0]?.message ?? 'invalid' },
      ]);
    }
    if (bodyKey !== undefined && bodyKey !== parsed.data) {
      throw invalidInput('conflicting idempotency keys', [
        { field: 'idempotencyKey', problem: 'differs from the Idempotency-Key header; send one or make them equal' },
      ]);
    }
    return parsed.data;
  }
  return bodyKey ?? `api-${randomUUID()}`;
}

export interface UpdateCall<A> {
  workflowId: string;
  /** Names the update in the update id, so one key reused for two different events cannot collide. */
  name: string;
  definition: UpdateDefinition<ReportAck, [A]>;
  arg: A;
  idempotencyKey: string;
  timeoutMs: number;
  /**
   * For a report, whose workflow answers a repeated key itself with `duplicate: true`: a fresh update id
   * per request, so a repeat whose first answer the API never kept (the first request timed out after the
   * workflow took it, or its API process died) reaches the workflow. Admin commands keep one id per key:
   * their handlers do not dedupe, Temporal does.
   */
  freshUpdateId?: boolean;
  /**
   * For a command a client sent with its key (one update id per key), whose answer's `duplicate` the client
   * reads: an update Temporal already has under this id is answered as a repeat (`earlierAnswer`), at the
   * cost of one more call to Temporal first.
   */
  answerRepeat?: boolean;
  /** Only the process (run chain) that began with this run: never a later process of the same device. */
  firstExecutionRunId?: string;
}

const updateIdOf = (call: UpdateCall<unknown>) =>
  `${call.name}:${call.idempotencyKey}${call.freshUpdateId ? `:${randomUUID()}` : ''}`;

export async function executeUpdate<A>(temporal: Client, call: UpdateCall<A>): Promise<ReportAck> {
  const chain = call.firstExecutionRunId ? { firstExecutionRunId: call.firstExecutionRunId } : undefined;
  const handle = temporal.workflow.getHandle(call.workflowId, undefined, chain);
  const updateId = updateIdOf(call as UpdateCall<unknown>);
  const send = (arg: A) =>
    temporal.withDeadline(Date.now() + call.timeoutMs, () =>
      handle.executeUpdate(call.definition, { args: [arg], updateId }),
    );
  try {
    const earlier =
      call.answerRepeat && !call.freshUpdateId
        ? await earlierAnswer(temporal, call as UpdateCall<unknown>, updateId)
        : undefined;
    if (earlier) return earlier;
    try {
      return await send(call.arg);
    } catch (err) {
      // During a rolling deploy an older worker's validator does not know the actor's `credential` and
      // refuses the whole report (nothing is written): send it once more without, rather than fail it.
      const withoutCredential = refusedForCredential(err) ? dropCredential(call.arg) : undefined;
      if (!withoutCredential) throw err;
      return await send(withoutCredential);
    }
  } catch (err) {
    throw await translate(temporal, call as UpdateCall<unknown>, err);
  }
}

/**
 * The answer of an update this id already names, as a repeat's (`duplicate: true`), or undefined when
 * Temporal has no such update. With one update id per key, an id Temporal knows was sent by an earlier
 * request with the key whose answer the API did not keep (it timed out after the workflow took the
 * command, or its API process died before storing the answer): sent again, Temporal would hand back that
 * update's own answer, `duplicate: false`, though nothing happened now. Temporal keeps a completed
 * update's outcome with its run, also once the run has closed, and waits for one still running; an update
 * the validator refused is not kept (NOT_FOUND, as is an unknown workflow), so that one is sent and
 * judged afresh. A failed earlier update throws its failure, as sending it again would.
 */
async function earlierAnswer(temporal: Client, call: UpdateCall<unknown>, updateId: string) {
  const earlier = temporal.workflow.getHandle(call.workflowId).getUpdateHandle<ReportAck>(updateId);
  try {
    const ack = await temporal.withDeadline(Date.now() + call.timeoutMs, () => earlier.result());
    return { ...ack, duplicate: true };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function refusedForCredential(err: unknown): boolean {
  if (!(err instanceof WorkflowUpdateFailedError)) return false;
  const cause = err.cause as { type?: string; message?: string; details?: unknown[] } | undefined;
  const problems = JSON.stringify(cause?.details ?? []);
  return cause?.type === 'InvalidReport' && problems.includes('Unrecognized key') && problems.includes('credential');
}

function dropCredential<A>(arg: A): A | undefined {
  const actor = (arg as { actor?: { credential?: unknown } } | undefined)?.actor;
  if (!actor || actor.credential === undefined) return undefined;
  const { credential: _dropped, ...rest } = actor;
  return { ...(arg as object), actor: rest } as A;
}

async function translate(temporal: Client, call: UpdateCall<unknown>, err: unknown): Promise<unknown> {
  const { workflowId, timeoutMs } = call;
  if (isUnhandledUpdate(err)) return notThisProcess(temporal, call);
  if (err instanceof WorkflowUpdateFailedError) return fromUpdateFailure(err, workflowId);
  if (isUpdateTimeout(err)) return workerUnavailable(Math.max(5, Math.ceil(timeoutMs / 1000)));
  if (isNotFound(err)) {
    // Updates to a closed run also come back as NOT_FOUND: tell "never existed" from "already closed".
    const desc = await describeOrUndefined(temporal, workflowId);
    if (!desc) return new ApiError(404, 'not-found', `workflow ${workflowId} not found`, { workflow: workflowId });
    const status = executionStatus(desc.status.name);
    return new ApiError(
      409,
      'workflow-closed',
      `workflow ${workflowId} is ${status}; it accepts no more reports or commands`,
      {
        workflowId,
        runId: desc.runId,
        executionStatus: status,
      },
    );
  }
  // Temporal down, past a deadline, or the workflow not ready: the error handler answers 503 (api/outages.ts).
  return err;
}

/**
 * The event belongs to the other process, so this workflow has no handler for it. Answered like any
 * event that does not fit: 409 with the step the workflow is at and what it expects (one state query;
 * without it, the refusal still stands).
 */
async function notThisProcess(temporal: Client, call: UpdateCall<unknown>): Promise<ApiError> {
  const why = `${call.name} is not an event of this workflow's process`;
  try {
    const state = await temporal.withDeadline(Date.now() + call.timeoutMs, () =>
      temporal.workflow.getHandle(call.workflowId).query(stateQuery),
    );
    const expects = state.pendingTask?.expects ?? [];
    return eventNotExpectedError(call.workflowId, { step: state.step, status: state.status, expects }, why);
  } catch {
    return eventNotExpectedError(call.workflowId, { step: 'unknown', status: 'unknown', expects: [] }, why);
  }
}
