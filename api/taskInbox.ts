/**
 * GET /tasks: every open human task of both processes on this deployment, oldest due first.
 *
 * Source: the task index (`open_tasks`, db/tasksRepo.ts), which the workflows' bookkeeping activities keep
 * as tasks open and close (DESIGN §7) and `npm run tasks:rebuild` restores. One page is one indexed SQL
 * query; no workflow is asked anything, so the answer costs the same with ten tasks or ten thousand and
 * does not depend on any worker being up.
 *
 * Paging is a keyset cursor on (dueAt, workflowId), the index order: a task keeps its key while it is
 * open, so paging through returns every task open throughout exactly once, whatever opens and closes
 * between pages. The cursor is opaque and carries a fingerprint of its filters, so it cannot be replayed
 * against another list.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import * as tasksRepo from '../db/tasksRepo';
import { ASSET_NUMBER_PATTERN } from '../db/types';
import type { HumanTask, ProcessKind } from '../workflows/definitions';
import { ApiError } from './errors';
import { filterText } from './queryFilters';

/** app.ts mounts the API here (not imported: app.ts imports the routes that import this). */
const API_PREFIX_PATH = '/api/v1';
/** The task type the workflows open while waiting for an admin's retry or abort. */
export const ADMIN_DECISION = 'admin-decision';

export const listTasksQuery = z.strictObject({
  type: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a task type like collect-device')
    .optional(),
  process: z.enum(['change-user', 'inactivation', 'distribution']).optional(),
  department: filterText.optional(),
  location: filterText.optional(),
  /** One device's open tasks (a device's barcode scanned in the field), as GET /workflows?asset= names it. */
  asset: z.string().regex(ASSET_NUMBER_PATTERN, 'must be an asset number like A-000123').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(1024).optional(),
});
export type ListTasksQuery = z.infer<typeof listTasksQuery>;
export type TaskFilters = Omit<ListTasksQuery, 'limit' | 'cursor'>;

export interface TaskItem {
  workflowId: string;
  runId: string;
  process?: ProcessKind;
  type: string;
  step?: string;
  expects: string[];
  assetNumber?: string;
  department?: string;
  location?: string;
  contact?: HumanTask['contact'];
  dueAt?: string;
  /** When the task is escalated to the admins if nobody reports (absent for an admin decision). */
  escalateAt?: string;
  createdAt?: string;
  overdue?: boolean;
  remindersSent?: number;
  escalated?: boolean;
  /** For an admin decision: the step that failed and why. */
  failedStep?: string;
  lastError?: string;
  /**
   * Always true now: every item comes whole from the task index, never from search attributes alone.
   * Kept so clients written against the visibility-scan inbox (which set it false for a workflow whose
   * worker did not answer) keep working.
   */
  stateAvailable: true;
  workflowUrl: string;
  /** Where to POST each report this task accepts (or, for an admin decision, each command). */
  reportUrls: Record<string, string>;
}

export interface TaskPage {
  items: TaskItem[];
  nextCursor: string | null;
}

export interface InboxDeps {
  pool: pg.Pool;
  /** Only this deployment's tasks: the ones its workers run (and whose database the API shares). */
  taskQueue: string;
  now: Date;
}

const urls = (workflowId: string, names: readonly string[], kind: 'events' | 'commands') =>
  Object.fromEntries(
    names.map((n) => [n, `${API_PREFIX_PATH}/workflows/${workflowId}/${kind === 'events' ? `events/${n}` : n}`]),
  );

/** The inbox item of an index row; `overdue` is its due time against the request's clock. */
export function taskItem(t: tasksRepo.OpenTask, now: Date): TaskItem {
  const decision = t.type === ADMIN_DECISION;
  return {
    workflowId: t.workflowId,
    runId: t.runId,
    process: t.process,
    type: t.type,
    step: t.step,
    expects: t.expects,
    assetNumber: t.assetNumber,
    ...(t.department !== null ? { department: t.department } : {}),
    ...(t.location !== null ? { location: t.location } : {}),
    ...(t.contact ? { contact: t.contact } : {}),
    dueAt: t.dueAt,
    ...(t.escalateAt ? { escalateAt: t.escalateAt } : {}),
    createdAt: t.createdAt,
    overdue: Date.parse(t.dueAt) < now.getTime(),
    remindersSent: t.remindersSent,
    escalated: t.escalated,
    ...(t.failedStep !== undefined ? { failedStep: t.failedStep } : {}),
    ...(t.lastError !== undefined ? { lastError: t.lastError } : {}),
    stateAvailable: true,
    workflowUrl: `${API_PREFIX_PATH}/workflows/${t.workflowId}`,
    reportUrls: decision
      ? urls(t.workflowId, ['retry', 'abort', 'cancel'], 'commands')
      : urls(t.workflowId, t.expects, 'events'),
  };
}

// The cursor carries a fingerprint of its filters, so it cannot be replayed against another list.
const fingerprint = (f: TaskFilters) =>
  createHash('sha256')
    .update(JSON.stringify([f.type, f.process, f.department, f.location, ...(f.asset ? [f.asset] : [])]))
    .digest('base64url')
    .slice(0, 11);

const invalidCursor = () =>
  new ApiError(400, 'invalid-input', 'cursor: not a cursor from this list with these filters', {
    problems: [{ field: 'cursor', problem: 'not a cursor from this list with these filters' }],
  });

/** Exactly what Date#toISOString writes, the form the index keeps due times in. */
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function decodeCursor(cursor: string, f: TaskFilters): tasksRepo.TaskKey {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 3 &&
      parsed[0] === fingerprint(f) &&
      typeof parsed[1] === 'string' &&
      ISO_MILLIS.test(parsed[1]) &&
      Number.isFinite(Date.parse(parsed[1])) &&
      typeof parsed[2] === 'string' &&
      parsed[2].length > 0 &&
      parsed[2].length <= 255
    ) {
      return { dueAt: parsed[1], workflowId: parsed[2] };
    }
  } catch {
    // fall through: anything undecodable is simply not a cursor
  }
  throw invalidCursor();
}

const encodeCursor = (t: tasksRepo.OpenTask, f: TaskFilters) =>
  Buffer.from(JSON.stringify([fingerprint(f), t.dueAt, t.workflowId])).toString('base64url');

/** One page of the inbox: one query on the task index. */
export async function listTasks(deps: InboxDeps, q: ListTasksQuery): Promise<TaskPage> {
  const { limit, cursor, ...filters } = q;
  const after = cursor ? decodeCursor(cursor, filters) : undefined;
  const { asset, ...columns } = filters;
  const page = await tasksRepo.list(deps.pool, {
    taskQueue: deps.taskQueue,
    filters: { ...columns, assetNumber: asset },
    after,
    limit,
  });
  const last = page.items.at(-1);
  return {
    items: page.items.map((t) => taskItem(t, deps.now)),
    nextCursor: page.more && last ? encodeCursor(last, filters) : null,
  };
}
