/**
 * The task index (DESIGN §7): one row per open human task in `open_tasks`, keyed by workflow id. The
 * workflows' bookkeeping activities open and close rows; the task inbox and the application hand-off read
 * them with one indexed query each; `npm run tasks:rebuild` restores them from Temporal.
 *
 * Every write is safe to repeat: a row carries the run and the step occurrence it belongs to, a write
 * names the occurrence it is about, and it only ever moves a row forward (a newer occurrence replaces an
 * older one, never the other way round), so a retried or late activity cannot undo a newer task.
 */
import { z } from 'zod';
import type { OpenTask, TaskNoticeCount } from '../activities/contracts';
import { InvalidInputError, translateDbError, type Queryable } from './types';

export type { OpenTask, TaskNoticeCount };

/** A task's position in the inbox order: due time, then workflow id (unique, so the order is total). */
export interface TaskKey {
  /** ISO 8601 to the millisecond, exactly as stored. */
  dueAt: string;
  workflowId: string;
}

/** The inbox filters; every one is an equality on an indexed column. */
export interface TaskFilters {
  type?: string;
  process?: OpenTask['process'];
  department?: string;
  location?: string;
  assetNumber?: string;
}

/** Which row of which run: what closes and notices name. */
export interface TaskRef {
  workflowId: string;
  runId: string;
}

/** Identifies one version of a row, for the rebuild's compare-and-delete. */
export interface TaskVersion extends TaskRef {
  occurrence: number;
}

/** What an upsert did: wrote a new row, replaced an older task, or kept the row there (newer or the same). */
export type OpenOutcome = 'inserted' | 'replaced' | 'kept';

/** Longer errors are cut to this length rather than refused: a refusal would fail the workflow's bookkeeping. */
export const LAST_ERROR_MAX = 4000;

interface OpenTaskRow {
  workflow_id: string;
  run_id: string;
  task_queue: string;
  occurrence: number;
  process: OpenTask['process'];
  task_type: string;
  step: string;
  expects: string[];
  asset_number: string;
  department: string | null;
  location: string | null;
  contact_name: string | null;
  contact_email: string | null;
  contact_phone: string | null;
  due_at: Date;
  escalate_at: Date | null;
  created_at: Date;
  reminders_sent: number;
  escalated: boolean;
  failed_step: string | null;
  last_error: string | null;
  error_kind: string | null;
}

function toOpenTask(row: OpenTaskRow): OpenTask {
  const contact = {
    ...(row.contact_name !== null ? { name: row.contact_name } : {}),
    ...(row.contact_email !== null ? { email: row.contact_email } : {}),
    ...(row.contact_phone !== null ? { phone: row.contact_phone } : {}),
  };
  return {
    workflowId: row.workflow_id,
    runId: row.run_id,
    taskQueue: row.task_queue,
    occurrence: row.occurrence,
    process: row.process,
    type: row.task_type,
    step: row.step,
    expects: row.expects,
    assetNumber: row.asset_number,
    department: row.department,
    location: row.location,
    contact: Object.keys(contact).length > 0 ? contact : null,
    dueAt: row.due_at.toISOString(),
    escalateAt: row.escalate_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    remindersSent: row.reminders_sent,
    escalated: row.escalated,
    ...(row.failed_step !== null ? { failedStep: row.failed_step } : {}),
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    ...(row.error_kind !== null ? { errorKind: row.error_kind } : {}),
  };
}

// ---------------------------------------------------------------------------------------------- input

const id = z.string().trim().min(1).max(255);
const label = z.string().trim().min(1).max(100);
const optionalText = z.string().max(200).nullish();
/** Any ISO date-time; stored as the millisecond it names (so stored times and cursors agree exactly). */
const isoTime = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

/**
 * Validated like every repository input, but not strict about extra fields: a workflow that sends one
 * more field must not see its bookkeeping fail for good.
 */
const openTaskSchema = z.object({
  workflowId: id,
  runId: id,
  taskQueue: id,
  occurrence: z.number().int().min(0).max(2_147_483_647),
  process: z.enum(['change-user', 'inactivation', 'distribution']),
  type: label.regex(/^[a-z][a-z0-9-]*$/, 'must be a task type like collect-device'),
  step: label,
  expects: z.array(label).max(50),
  assetNumber: id,
  department: optionalText,
  location: optionalText,
  contact: z.object({ name: optionalText, email: optionalText, phone: optionalText }).nullish(),
  dueAt: isoTime,
  escalateAt: isoTime.nullish(),
  createdAt: isoTime,
  remindersSent: z.number().int().min(0).max(1_000_000),
  escalated: z.boolean(),
  failedStep: z.string().max(100).optional(),
  lastError: z
    .string()
    .optional()
    .transform((s) => s?.slice(0, LAST_ERROR_MAX)),
  // Not checked against FAILURE_KINDS: a kind added by newer workflow code must not fail the bookkeeping.
  errorKind: z.string().trim().max(64).optional(),
});

function parseTask(task: OpenTask): z.infer<typeof openTaskSchema> {
  const parsed = openTaskSchema.safeParse(task);
  if (!parsed.success) throw InvalidInputError.fromZod('open task', parsed.error);
  return parsed.data;
}

const COLUMNS = [
  'workflow_id',
  'run_id',
  'task_queue',
  'occurrence',
  'process',
  'task_type',
  'step',
  'expects',
  'asset_number',
  'department',
  'location',
  'contact_name',
  'contact_email',
  'contact_phone',
  'due_at',
  'escalate_at',
  'created_at',
  'reminders_sent',
  'escalated',
  'failed_step',
  'last_error',
  'error_kind',
] as const;

function valuesOf(t: z.infer<typeof openTaskSchema>): unknown[] {
  return [
    t.workflowId,
    t.runId,
    t.taskQueue,
    t.occurrence,
    t.process,
    t.type,
    t.step,
    t.expects,
    t.assetNumber,
    t.department ?? null,
    t.location ?? null,
    t.contact?.name ?? null,
    t.contact?.email ?? null,
    t.contact?.phone ?? null,
    t.dueAt,
    t.escalateAt ?? null,
    t.createdAt,
    t.remindersSent,
    t.escalated,
    t.failedStep ?? null,
    t.lastError ?? null,
    t.errorKind || null,
  ];
}

/** Same run and occurrence: the notice count only grows (a late write of an older count changes nothing). */
const SAME_TASK = 't.run_id = EXCLUDED.run_id AND t.occurrence = EXCLUDED.occurrence';
const ASSIGNMENTS = [
  ...COLUMNS.slice(1)
    .filter((c) => c !== 'reminders_sent' && c !== 'escalated')
    .map((c) => `${c} = EXCLUDED.${c}`),
  `reminders_sent = CASE WHEN ${SAME_TASK} THEN GREATEST(t.reminders_sent, EXCLUDED.reminders_sent) ELSE EXCLUDED.reminders_sent END`,
  `escalated = CASE WHEN ${SAME_TASK} THEN t.escalated OR EXCLUDED.escalated ELSE EXCLUDED.escalated END`,
  'written_at = clock_timestamp()',
].join(', ');

/** Inserts the task, or replaces the workflow's row when `replaceWhen` (over `t` and EXCLUDED) holds. */
async function upsert(db: Queryable, task: OpenTask, replaceWhen: string, extra: unknown[] = []): Promise<OpenOutcome> {
  const values = valuesOf(parseTask(task));
  const placeholders = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
  try {
    const { rows } = await db.query<{ inserted: boolean }>(
      `INSERT INTO open_tasks AS t (${COLUMNS.join(', ')}) VALUES (${placeholders})
       ON CONFLICT (workflow_id) DO UPDATE SET ${ASSIGNMENTS}
       WHERE ${replaceWhen}
       RETURNING (xmax = 0) AS inserted`,
      [...values, ...extra],
    );
    if (!rows[0]) return 'kept';
    return rows[0].inserted ? 'inserted' : 'replaced';
  } catch (err) {
    throw translateDbError(err);
  }
}

// ---------------------------------------------------------------------------------------------- writes

/**
 * Opens the workflow's task (openTask, and recordEvent's `tasks.open`). Changes: inserts the row, or
 * replaces the workflow's row when that belongs to another run or to an older occurrence of this run.
 * Idempotent: a row of the same run with the same or a newer occurrence is kept as it is, so a retry
 * changes nothing (not even a notice count written meanwhile) and a late, older task never replaces a
 * newer one.
 */
export function open(db: Queryable, task: OpenTask): Promise<OpenOutcome> {
  return upsert(db, task, 't.run_id <> EXCLUDED.run_id OR t.occurrence < EXCLUDED.occurrence');
}

/**
 * Closes the run's task if it belongs to occurrence `through` or an earlier one (recordEvent's
 * `tasks.closeThrough`: a report taken, a retry, a cancel or an abort). Changes: deletes at most that one
 * row; returns how many rows it deleted. Idempotent: a repeat finds nothing to delete, and a row of a newer
 * occurrence or of another run is never touched.
 */
export async function closeThrough(db: Queryable, ref: TaskRef, through: number): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM open_tasks WHERE workflow_id = $1 AND run_id = $2 AND occurrence <= $3',
    [ref.workflowId, ref.runId, through],
  );
  return rowCount ?? 0;
}

/**
 * Records the reminders sent and whether the task was escalated (sendNotice). Changes: the count of the
 * row of that run and occurrence, if it is still open; returns whether there was one. Idempotent: the
 * count only grows (GREATEST, OR), so a repeat or a late, older count changes nothing.
 */
export async function noteNotice(db: Queryable, ref: TaskRef, count: TaskNoticeCount): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE open_tasks
        SET reminders_sent = GREATEST(reminders_sent, $4), escalated = escalated OR $5, written_at = clock_timestamp()
      WHERE workflow_id = $1 AND run_id = $2 AND occurrence = $3
        AND (reminders_sent < $4 OR (escalated = false AND $5))`,
    [ref.workflowId, ref.runId, count.occurrence, count.remindersSent, count.escalated],
  );
  if (rowCount) return true;
  const { rows } = await db.query(
    'SELECT 1 FROM open_tasks WHERE workflow_id = $1 AND run_id = $2 AND occurrence = $3',
    [ref.workflowId, ref.runId, count.occurrence],
  );
  return rows.length > 0;
}

// ---------------------------------------------------------------------------------------------- reads

/** The workflow's open task, if any. */
export async function get(db: Queryable, workflowId: string): Promise<OpenTask | null> {
  const { rows } = await db.query<OpenTaskRow>('SELECT * FROM open_tasks WHERE workflow_id = $1', [workflowId]);
  return rows[0] ? toOpenTask(rows[0]) : null;
}

export interface TaskPage {
  items: OpenTask[];
  /** True when rows follow the last item (its key is the cursor of the next page). */
  more: boolean;
}

/**
 * One page of a deployment's open tasks, oldest due first, after `after` (exclusive). One indexed query
 * (an index per filter, each ending in (due_at, workflow_id)). Keyset paging is exact while tasks open
 * and close between pages: a row's key never changes while it is open, so every task open throughout the
 * paging is returned exactly once; one that opens meanwhile is returned if its key is after the cursor.
 * Changes nothing.
 */
export async function list(db: Queryable, options: ListOptions): Promise<TaskPage> {
  const { text, values, limit } = listQuery(options);
  const { rows } = await db.query<OpenTaskRow>(text, values);
  return { items: rows.slice(0, limit).map(toOpenTask), more: rows.length > limit };
}

export interface ListOptions {
  taskQueue: string;
  filters?: TaskFilters;
  after?: TaskKey;
  limit: number;
}

/**
 * The SQL of one inbox page (exported so a test can EXPLAIN it): only the filters given become clauses,
 * so the planner sees plain equalities and picks the index of the filter. Reads one row more than
 * `limit` to tell whether another page follows.
 */
export function listQuery(options: ListOptions): { text: string; values: unknown[]; limit: number } {
  const limit = Math.min(Math.max(Math.trunc(options.limit), 1), 1000);
  const values: unknown[] = [options.taskQueue];
  const where = ['task_queue = $1'];
  const f = options.filters ?? {};
  const equal = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  };
  equal('task_type', f.type);
  equal('process', f.process);
  equal('department', f.department);
  equal('location', f.location);
  equal('asset_number', f.assetNumber);
  if (options.after) {
    values.push(options.after.dueAt, options.after.workflowId);
    where.push(`(due_at, workflow_id) > ($${values.length - 1}::timestamptz, $${values.length}::text)`);
  }
  values.push(limit + 1);
  return {
    text: `SELECT * FROM open_tasks WHERE ${where.join(' AND ')} ORDER BY due_at, workflow_id LIMIT $${values.length}`,
    values,
    limit,
  };
}

/** Which admin decisions bulk recovery wants; every field narrows, none given means all of them. */
export interface AdminDecisionFilter {
  failedStep?: string;
  /**
   * Rows of this kind and rows without a kind (written by older workflow code): the caller classifies
   * those itself (api/errorKindFallback.ts), since only it knows how to read their error text.
   */
  errorKindOrUnknown?: string;
  process?: OpenTask['process'];
  department?: string;
  location?: string;
  assetNumbers?: readonly string[];
}

/**
 * The deployment's processes waiting for an admin decision (task type `admin-decision`: every process in
 * needs-attention has one), in workflow id order, after the workflow id `after` (exclusive). One query on a
 * partial index (migration 0007). Reads one row more than `limit` to tell whether more follow. Changes
 * nothing.
 */
export async function listAdminDecisions(
  db: Queryable,
  options: { taskQueue: string; filter: AdminDecisionFilter; after?: string; limit: number },
): Promise<TaskPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit), 1), 1000);
  const values: unknown[] = [options.taskQueue];
  const where = ['task_queue = $1', "task_type = 'admin-decision'"];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const f = options.filter;
  if (f.failedStep !== undefined) where.push(`failed_step = ${param(f.failedStep)}`);
  if (f.errorKindOrUnknown !== undefined) {
    where.push(`(error_kind = ${param(f.errorKindOrUnknown)} OR error_kind IS NULL)`);
  }
  if (f.process !== undefined) where.push(`process = ${param(f.process)}`);
  if (f.department !== undefined) where.push(`department = ${param(f.department)}`);
  if (f.location !== undefined) where.push(`location = ${param(f.location)}`);
  if (f.assetNumbers !== undefined) where.push(`asset_number = ANY(${param(f.assetNumbers)}::text[])`);
  if (options.after !== undefined) where.push(`workflow_id > ${param(options.after)}`);
  const { rows } = await db.query<OpenTaskRow>(
    `SELECT * FROM open_tasks WHERE ${where.join(' AND ')} ORDER BY workflow_id LIMIT ${param(limit + 1)}`,
    values,
  );
  return { items: rows.slice(0, limit).map(toOpenTask), more: rows.length > limit };
}

/** A position in the hand-off order: created time, then workflow id. */
export interface AssignmentKey {
  createdAt: string;
  workflowId: string;
}

/**
 * The deployment's change-user workflows waiting for a new user (task type `assign-user`), the one that
 * has waited longest first; `after` continues after a given one. One query on a partial index. Changes
 * nothing.
 */
export async function oldestWaitingForAssignment(
  db: Queryable,
  taskQueue: string,
  limit: number,
  after?: AssignmentKey,
): Promise<OpenTask[]> {
  const { rows } = await db.query<OpenTaskRow>(
    `SELECT * FROM open_tasks
      WHERE task_queue = $1 AND task_type = 'assign-user'
        AND ($3::timestamptz IS NULL OR (created_at, workflow_id) > ($3::timestamptz, $4::text))
      ORDER BY created_at, workflow_id
      LIMIT $2`,
    [taskQueue, Math.min(Math.max(Math.trunc(limit), 1), 1000), after?.createdAt ?? null, after?.workflowId ?? null],
  );
  return rows.map(toOpenTask);
}

// ---------------------------------------------------------------------------------------------- rebuild

/**
 * The database's clock now. A rebuild takes it before it reads Temporal: rows written after that are the
 * live bookkeeping's, newer than anything the rebuild read, and it leaves them alone.
 */
export async function clockNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return rows[0]!.now;
}

/** Every row of a deployment, as (workflow, run, occurrence). Changes nothing. */
export async function versionsOf(db: Queryable, taskQueue: string): Promise<TaskVersion[]> {
  const { rows } = await db.query<{ workflow_id: string; run_id: string; occurrence: number }>(
    'SELECT workflow_id, run_id, occurrence FROM open_tasks WHERE task_queue = $1 ORDER BY workflow_id',
    [taskQueue],
  );
  return rows.map((r) => ({ workflowId: r.workflow_id, runId: r.run_id, occurrence: r.occurrence }));
}

/**
 * Writes a task the rebuild read from the workflow's state. Changes: inserts the row, or replaces one of
 * an older occurrence of the same run, or brings the same occurrence's notice count up to date, or
 * replaces a row of another run written before the rebuild began (`startedAt`: the run the rebuild read
 * is running, so that one is stale). Idempotent: a repeat finds the row as it would write it; a row the
 * live bookkeeping wrote since (newer occurrence, or another run after `startedAt`) is kept.
 */
export function restore(db: Queryable, task: OpenTask, startedAt: Date): Promise<OpenOutcome> {
  return upsert(
    db,
    task,
    `(t.run_id = EXCLUDED.run_id AND (t.occurrence < EXCLUDED.occurrence OR (${SAME_TASK}
        AND (t.reminders_sent < EXCLUDED.reminders_sent OR (EXCLUDED.escalated AND NOT t.escalated)))))
     OR (t.run_id <> EXCLUDED.run_id AND t.written_at < $${COLUMNS.length + 1})`,
    [startedAt],
  );
}

/**
 * The rebuild found the run open with no task at occurrence `through`. Changes: deletes the workflow's
 * row if it is this run's at that occurrence or earlier, or another run's written before the rebuild
 * began. Idempotent, and never deletes what the live bookkeeping wrote since.
 */
export async function settleWithoutTask(
  db: Queryable,
  ref: TaskRef,
  through: number,
  startedAt: Date,
): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM open_tasks
      WHERE workflow_id = $1 AND ((run_id = $2 AND occurrence <= $3) OR (run_id <> $2 AND written_at < $4))`,
    [ref.workflowId, ref.runId, through, startedAt],
  );
  return rowCount ?? 0;
}

/**
 * Removes a row whose run is no longer running (closed, or unknown to Temporal). Changes: deletes that
 * exact version (run and occurrence) if it was written before the rebuild began. Idempotent.
 */
export async function removeStale(db: Queryable, version: TaskVersion, startedAt: Date): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM open_tasks
      WHERE workflow_id = $1 AND run_id = $2 AND occurrence = $3 AND written_at < $4`,
    [version.workflowId, version.runId, version.occurrence, startedAt],
  );
  return rowCount ?? 0;
}
