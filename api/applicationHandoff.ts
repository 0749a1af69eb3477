/**
 * Handing a new application to the change-user workflow that has waited longest in `awaiting-assignment`.
 * Who is waiting comes from the task index (`assign-user` rows, oldest created first: one query on a
 * partial index, db/tasksRepo.ts), never from asking the workflows.
 *
 * The database decides who gets the application, not the order of messages: the API first reserves it
 * for one waiting workflow (the repository's conditional `assign`, so an arriving workflow's own
 * claim-the-oldest cannot take it at the same time), then sends that workflow the `user-assigned` Update
 * with the application id. The workflow's `claimApplication(applicationId)` then finds the application
 * already held by itself and goes on (the repository's assign is idempotent for the same holder).
 *
 * - Update rejected (the workflow moved on, closed, or another report got there first): the reservation
 *   is released (the repository's `releaseReservation`, conditional on the holder) and the next oldest
 *   waiting workflow is tried.
 * - Update not answered in time (no worker): the reservation stays, because the workflow may still take
 *   the report; the answer says `unconfirmed`. Retrying the POST with the same Idempotency-Key re-sends
 *   the same Update (same update id and report key, so it is applied at most once) and confirms it.
 * - Nobody waiting: the application stays pending; the next workflow that reaches `awaiting-assignment`
 *   takes the oldest pending application itself (changeDeviceUser's chooseNewUser).
 */
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import * as applicationsRepo from '../db/applicationsRepo';
import * as tasksRepo from '../db/tasksRepo';
import { ApplicationUnavailableError, ConstraintViolationError, type Application } from '../db/types';
import { reportUpdates } from '../workflows/definitions';
import type { Actor } from './auth';
import { workflowActor } from './auth/workflowActor';
import { ApiError } from './errors';
import { executeUpdate } from './workflowUpdates';

export type HandoffOutcome =
  /** The workflow accepted the application. */
  | 'accepted'
  /** The workflow did not answer in time; the application is reserved for it (retry the POST to confirm). */
  | 'unconfirmed'
  /** A workflow took it by itself (it reached awaiting-assignment while this request ran). */
  | 'claimed-by-workflow'
  /** A repeated request for an application that a workflow already holds. */
  | 'already-assigned'
  /** Nobody is waiting; the application is pending until a workflow reaches awaiting-assignment. */
  | 'pending'
  /** The application was delivered or cancelled. */
  | 'closed';

export interface HandoffResult {
  assignedTo: string | null;
  handoff: HandoffOutcome;
  /** The waiting workflows tried before the outcome, oldest first, and why each one did not take it. */
  tried: { workflowId: string; outcome: string }[];
}

export interface HandoffDeps {
  pool: pg.Pool;
  temporal: Client;
  /** Only this deployment's workflows wait here. */
  taskQueue: string;
  updateTimeoutMs: number;
}

/** How many waiting workflows one query reads; more are read only if all of these refuse. */
const WAITING_PAGE = 20;

type SendResult = 'accepted' | 'refused' | 'unanswered';

/** The same report key for every attempt at this application, so a re-sent Update is applied once. */
async function sendAssignment(
  deps: HandoffDeps,
  workflowId: string,
  app: Application,
  actor: Actor,
): Promise<SendResult> {
  const idempotencyKey = `application-${app.id}`;
  try {
    await executeUpdate(deps.temporal, {
      workflowId,
      name: 'user-assigned',
      definition: reportUpdates['user-assigned'],
      arg: { actor: workflowActor(actor), idempotencyKey, data: { applicationId: app.id } },
      idempotencyKey,
      timeoutMs: deps.updateTimeoutMs,
    });
    return 'accepted';
  } catch (err) {
    if (err instanceof ApiError && err.status < 500) return 'refused';
    return 'unanswered';
  }
}

type Reserve = { ok: true } | { ok: false; takenBy?: Application };

async function reserve(deps: HandoffDeps, app: Application, task: tasksRepo.OpenTask): Promise<Reserve> {
  try {
    await applicationsRepo.assign(deps.pool, app.id, { assetNumber: task.assetNumber, workflowId: task.workflowId });
    return { ok: true };
  } catch (err) {
    if (err instanceof ApplicationUnavailableError) return { ok: false, takenBy: err.application };
    // The workflow (or its device) already holds another open application: it is not really waiting.
    if (err instanceof ConstraintViolationError) return { ok: false };
    throw err;
  }
}

/** The workflows waiting for a new user, the one waiting longest first, read from the index a page at a time. */
async function* waitingWorkflows(deps: HandoffDeps): AsyncGenerator<tasksRepo.OpenTask> {
  let after: tasksRepo.AssignmentKey | undefined;
  for (;;) {
    const page = await tasksRepo.oldestWaitingForAssignment(deps.pool, deps.taskQueue, WAITING_PAGE, after);
    for (const task of page) if (task.process === 'change-user') yield task;
    const last = page.at(-1);
    if (page.length < WAITING_PAGE || !last) return;
    after = { createdAt: last.createdAt, workflowId: last.workflowId };
  }
}

export async function handOff(deps: HandoffDeps, app: Application, actor: Actor): Promise<HandoffResult> {
  const tried: HandoffResult['tried'] = [];
  if (app.state === 'delivered' || app.state === 'cancelled')
    return { assignedTo: app.workflowId, handoff: 'closed', tried };
  if (app.state === 'assigned' && app.workflowId) {
    const sent = await sendAssignment(deps, app.workflowId, app, actor);
    return {
      assignedTo: app.workflowId,
      handoff: sent === 'accepted' ? 'accepted' : sent === 'unanswered' ? 'unconfirmed' : 'already-assigned',
      tried,
    };
  }
  for await (const task of waitingWorkflows(deps)) {
    const reserved = await reserve(deps, app, task);
    if (!reserved.ok) {
      if (reserved.takenBy) return { assignedTo: reserved.takenBy.workflowId, handoff: 'claimed-by-workflow', tried };
      tried.push({ workflowId: task.workflowId, outcome: 'holds another application' });
      continue;
    }
    const sent = await sendAssignment(deps, task.workflowId, app, actor);
    if (sent === 'accepted') return { assignedTo: task.workflowId, handoff: 'accepted', tried };
    if (sent === 'unanswered') return { assignedTo: task.workflowId, handoff: 'unconfirmed', tried };
    await applicationsRepo.releaseReservation(deps.pool, app.id, task.workflowId);
    tried.push({ workflowId: task.workflowId, outcome: 'no longer waiting' });
  }
  return { assignedTo: null, handoff: 'pending', tried };
}
