/**
 * GET /tasks: every pending human step of both processes, oldest due first.
 *
 * Source: a visibility query finds the running lifecycle workflows on this deployment's task queue whose
 * `AwaitingTask` search attribute is set (`AwaitingTask IS NOT NULL`; the workflows set it when a human
 * step opens and clear it when it closes; department, location and task type filters are pushed into the
 * same query). Each candidate's `state` query then gives the
 * task's details (what it expects, who to contact, when it is due, reminders, escalation). The state
 * query is also the freshness check: a workflow that has moved on since the visibility store last heard
 * from it says so, and its old task is dropped.
 *
 * Visibility stores cannot sort by a task's due time (and SQL visibility has no ORDER BY at all), so the
 * candidates are read in full (up to SCAN_LIMIT), sorted here, and paged with a keyset cursor on
 * (dueAt, createdAt, workflowId), which stays stable while tasks come and go. Queries run with bounded
 * concurrency and one shared deadline, so a worker that does not answer costs at most that deadline: its
 * workflows are still listed, from their search attributes, with `stateAvailable: false`.
 */
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/client';
import { z } from 'zod';
import {
  CHANGE_USER_WORKFLOW,
  INACTIVATION_WORKFLOW,
  stateQuery,
  type HumanTask,
  type LifecycleState,
  type ProcessKind,
} from '../workflows/definitions';
import { mapBounded } from './concurrency';
import { ApiError } from './errors';
import { filterText } from './queryFilters';
import { literal } from './workflowList';
import { processOf } from './workflowView';

/** More open tasks than this and the answer says `truncated: true` (the oldest-started are read first). */
export const SCAN_LIMIT = 2000;
const QUERY_CONCURRENCY = 16;
/** app.ts mounts the API here (not imported: app.ts imports the routes that import this). */
const API_PREFIX_PATH = '/api/v1';
/** The task type the workflows set while waiting for an admin's retry or abort. */
export const ADMIN_DECISION = 'admin-decision';

export const listTasksQuery = z.strictObject({
  type: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a task type like collect-device')
    .optional(),
  process: z.enum(['change-user', 'inactivation']).optional(),
  department: filterText.optional(),
  location: filterText.optional(),
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
  createdAt?: string;
  overdue?: boolean;
  remindersSent?: number;
  escalated?: boolean;
  /** For an admin decision: the step that failed and why. */
  failedStep?: string;
  lastError?: string;
  /** False when the workflow's worker did not answer in time: the fields come from search attributes only. */
  stateAvailable: boolean;
  workflowUrl: string;
  /** Where to POST each report this task accepts (or, for an admin decision, each command). */
  reportUrls: Record<string, string>;
}

export interface InboxDeps {
  temporal: Client;
  namespace: string;
  /** Only this deployment's workflows: the ones its workers run (and whose database the API shares). */
  taskQueue: string;
  queryTimeoutMs: number;
  now: Date;
}

export function taskVisibilityQuery(f: TaskFilters, taskQueue: string): string {
  const types =
    f.process === 'change-user'
      ? [CHANGE_USER_WORKFLOW]
      : f.process === 'inactivation'
        ? [INACTIVATION_WORKFLOW]
        : [CHANGE_USER_WORKFLOW, INACTIVATION_WORKFLOW];
  const clauses = [
    `WorkflowType IN (${types.map(literal).join(', ')})`,
    `TaskQueue = ${literal(taskQueue)}`,
    `ExecutionStatus = 'Running'`,
    'AwaitingTask IS NOT NULL',
  ];
  if (f.type) clauses.push(`AwaitingTask = ${literal(f.type)}`);
  if (f.department) clauses.push(`Department = ${literal(f.department)}`);
  if (f.location) clauses.push(`Location = ${literal(f.location)}`);
  return clauses.join(' AND ');
}

type Execution = proto.api.workflow.v1.IWorkflowExecutionInfo;

function attribute(e: Execution, name: string): string | undefined {
  const payload = e.searchAttributes?.indexedFields?.[name];
  if (!payload) return undefined;
  try {
    const value = defaultPayloadConverter.fromPayload<unknown>(payload);
    const one = Array.isArray(value) && value.length === 1 ? value[0] : value;
    return typeof one === 'string' ? one : undefined;
  } catch {
    return undefined;
  }
}

async function candidates(deps: InboxDeps, query: string): Promise<{ executions: Execution[]; truncated: boolean }> {
  const executions: Execution[] = [];
  let token: Uint8Array | undefined;
  do {
    const page = await deps.temporal.workflowService.listWorkflowExecutions({
      namespace: deps.namespace,
      query,
      pageSize: Math.min(500, SCAN_LIMIT - executions.length),
      nextPageToken: token,
    });
    executions.push(...page.executions);
    token = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (token && executions.length < SCAN_LIMIT);
  return { executions, truncated: Boolean(token) };
}

const urls = (workflowId: string, names: readonly string[], kind: 'events' | 'commands') =>
  Object.fromEntries(
    names.map((n) => [n, `${API_PREFIX_PATH}/workflows/${workflowId}/${kind === 'events' ? `events/${n}` : n}`]),
  );

/** The task as the workflow itself describes it; undefined when it waits for nobody any more. */
function fromState(e: Execution, s: LifecycleState, now: Date): TaskItem | undefined {
  const workflowId = e.execution?.workflowId ?? '';
  const base = {
    workflowId,
    runId: e.execution?.runId ?? '',
    process: s.process,
    assetNumber: s.assetNumber,
    department: attribute(e, 'Department'),
    location: attribute(e, 'Location'),
    stateAvailable: true,
    workflowUrl: `${API_PREFIX_PATH}/workflows/${workflowId}`,
  };
  const t = s.pendingTask;
  if (s.status === 'running' && t) {
    return {
      ...base,
      type: t.type,
      step: t.step,
      expects: t.expects,
      contact: t.contact,
      dueAt: t.dueAt,
      createdAt: t.createdAt,
      overdue: Date.parse(t.dueAt) < now.getTime(),
      remindersSent: t.remindersSent,
      escalated: t.escalated,
      reportUrls: urls(workflowId, t.expects, 'events'),
    };
  }
  if (s.status === 'needs-attention') {
    // Waiting for an admin since the step was parked: that is when the decision became due.
    const since = s.steps.at(-1)?.startedAt;
    return {
      ...base,
      type: ADMIN_DECISION,
      step: s.step,
      expects: [],
      dueAt: since,
      createdAt: since,
      overdue: true,
      failedStep: s.failedStep,
      lastError: s.lastError,
      reportUrls: urls(workflowId, ['retry', 'abort', 'cancel'], 'commands'),
    };
  }
  return undefined;
}

/** What the visibility store alone says, for a workflow whose worker did not answer. */
function fromSearchAttributes(e: Execution): TaskItem {
  const workflowId = e.execution?.workflowId ?? '';
  return {
    workflowId,
    runId: e.execution?.runId ?? '',
    process: processOf(e.type?.name ?? ''),
    type: attribute(e, 'AwaitingTask') ?? 'unknown',
    step: attribute(e, 'LifecycleStep'),
    expects: [],
    assetNumber: attribute(e, 'AssetNumber'),
    department: attribute(e, 'Department'),
    location: attribute(e, 'Location'),
    stateAvailable: false,
    workflowUrl: `${API_PREFIX_PATH}/workflows/${workflowId}`,
    reportUrls: {},
  };
}

async function taskOf(deps: InboxDeps, e: Execution, deadline: number): Promise<TaskItem | undefined> {
  const id = e.execution?.workflowId ?? '';
  try {
    if (Date.now() >= deadline) return fromSearchAttributes(e);
    const state = await deps.temporal.withDeadline(deadline, () =>
      deps.temporal.workflow.getHandle(id, e.execution?.runId ?? undefined).query(stateQuery),
    );
    return fromState(e, state, deps.now);
  } catch {
    // No worker, a worker too busy to answer before the deadline, or a run that closed meanwhile.
    return fromSearchAttributes(e);
  }
}

/** Every open task matching the filters, sorted oldest due first (tasks without known due time last). */
export async function collectTasks(
  deps: InboxDeps,
  filters: TaskFilters,
): Promise<{ tasks: TaskItem[]; truncated: boolean }> {
  const { executions, truncated } = await candidates(deps, taskVisibilityQuery(filters, deps.taskQueue));
  const deadline = Date.now() + deps.queryTimeoutMs;
  const found = await mapBounded(executions, QUERY_CONCURRENCY, (e) => taskOf(deps, e, deadline));
  // The state is fresher than the search attributes the visibility query filtered on: filter again.
  const tasks = found.filter((t): t is TaskItem => t !== undefined && (!filters.type || t.type === filters.type));
  return { tasks: tasks.sort(compareTasks), truncated };
}

type SortKey = [string, string, string];
const FAR = '\uffff'; // unknown times sort after every ISO timestamp
const keyOf = (t: TaskItem): SortKey => [t.dueAt ?? FAR, t.createdAt ?? FAR, t.workflowId];

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

export const compareTasks = (a: TaskItem, b: TaskItem) => compareKeys(keyOf(a), keyOf(b));

// The cursor carries a fingerprint of its filters, so it cannot be replayed against another list.
const fingerprint = (f: TaskFilters) =>
  createHash('sha256')
    .update(JSON.stringify([f.type, f.process, f.department, f.location]))
    .digest('base64url')
    .slice(0, 11);

const invalidCursor = () =>
  new ApiError(400, 'invalid-input', 'cursor: not a cursor from this list with these filters', {
    problems: [{ field: 'cursor', problem: 'not a cursor from this list with these filters' }],
  });

function decodeCursor(cursor: string, f: TaskFilters): SortKey {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 4 &&
      parsed[0] === fingerprint(f) &&
      parsed.slice(1).every((x) => typeof x === 'string')
    ) {
      return parsed.slice(1) as SortKey;
    }
  } catch {
    // fall through: anything undecodable is simply not a cursor
  }
  throw invalidCursor();
}

const encodeCursor = (t: TaskItem, f: TaskFilters) =>
  Buffer.from(JSON.stringify([fingerprint(f), ...keyOf(t)])).toString('base64url');

export async function listTasks(deps: InboxDeps, q: ListTasksQuery) {
  const { limit, cursor, ...filters } = q;
  const after = cursor ? decodeCursor(cursor, filters) : undefined;
  const { tasks, truncated } = await collectTasks(deps, filters);
  const rest = after ? tasks.filter((t) => compareKeys(keyOf(t), after) > 0) : tasks;
  const items = rest.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rest.length > limit && last ? encodeCursor(last, filters) : null,
    truncated,
    stateUnavailable: items.filter((t) => !t.stateAvailable).map((t) => t.workflowId),
  };
}
