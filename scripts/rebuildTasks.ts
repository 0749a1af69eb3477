/**
 * `npm run tasks:rebuild`: restores the task index (`open_tasks`) of this deployment's task queue from
 * Temporal after an incident (a restored database, a table emptied by mistake, bookkeeping lost to a bug).
 * Configured from the environment like every other process (DATABASE_URL, TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE); options `--concurrency <n>` (state queries in flight, default
 * 16), `--query-timeout-ms <ms>` (per query, default 10000), `--json`.
 *
 * 1. Lists the running lifecycle workflows of the task queue through visibility.
 * 2. Adds the workflows that have a row but are not listed (closed since, or too new for visibility yet):
 *    describe() says whether the workflow id still runs; a row of a run that does not run is removed.
 * 3. Queries each running workflow's `state` (bounded concurrency) and writes what it says: its open task
 *    (`pendingTask`, or the admin decision while it needs attention), or no row. Then it queries once more
 *    and repeats while the answer changed in between, so a task the workflow closed while the rebuild was
 *    writing it is not left behind.
 *
 * Workflows keep working while it runs: every write is conditional (db/tasksRepo.ts restore,
 * settleWithoutTask, removeStale), never moves a row back to an older occurrence, and leaves alone rows
 * the live bookkeeping wrote after the rebuild began. Safe to run again at any time. A workflow that does
 * not answer (no worker, or too busy) keeps whatever row it has and is listed in the summary; run the
 * command again once its worker is up. Exit codes: 0 done, 1 failed, 2 bad command line, 3 done but some
 * workflows did not answer.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Client,
  defaultPayloadConverter,
  QueryRejectedError,
  WorkflowClient,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type pg from 'pg';
import { mapBounded } from '../api/concurrency';
import { literal } from '../api/workflowList';
import { loadConfig } from '../config/env';
import { connectTemporalClient } from '../temporal/connection';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import * as tasksRepo from '../db/tasksRepo';
import { dataConverterFor } from '../temporal/codecDataConverter';
import { DepartmentKey, LocationKey } from '../temporal/searchAttributes';
import {
  CHANGE_USER_WORKFLOW,
  DISTRIBUTION_WORKFLOW,
  INACTIVATION_WORKFLOW,
  stateQuery,
  type ChangeUserInput,
  type HumanTask,
  type InactivationInput,
  type LifecycleState,
} from '../workflows/definitions';

/** The task type the workflows open while waiting for an admin's retry or abort. */
const ADMIN_DECISION = 'admin-decision';
/** A workflow whose open task changes under every pass is reported, not chased forever. */
const MAX_PASSES = 3;

export interface RebuildOptions {
  pool: pg.Pool;
  client: Client;
  namespace: string;
  taskQueue: string;
  /** State queries in flight at once (default 16). */
  concurrency?: number;
  /** How long one state query may take (default 10 s). */
  queryTimeoutMs?: number;
}

export interface RebuildSummary {
  taskQueue: string;
  /** Running workflows visibility listed. */
  listed: number;
  /** Workflows whose state was read and written (listed, plus unlisted ones that still run). */
  queried: number;
  /** Rows inserted or replaced. */
  written: number;
  /** Rows deleted (closed tasks, runs that no longer run). */
  removed: number;
  /** Open tasks at the end of the rebuild, as it left them. */
  openTasks: number;
  /** Workflows that did not answer the state query (or kept changing): their rows were left as they were. */
  unanswered: string[];
}

/** A run to read: the workflow, the run, and where it is (its search attributes: a task's fallback). */
interface Candidate {
  workflowId: string;
  runId: string;
  department: string | null;
  location: string | null;
}

type State = LifecycleState & { occurrence?: number };
type Task = HumanTask & { occurrence?: number; escalateAt?: string };

/**
 * The open task a state describes, as the index keeps it; null when the workflow waits for nobody.
 * Occurrence: the task's own, else the state's, else the number of steps entered (what StepLog's
 * occurrence counts: one per step entered). Department and location: the task's, else the workflow's
 * search attributes.
 */
export async function taskFromState(
  c: Candidate,
  taskQueue: string,
  s: State,
  escalateAt: (t: Task) => Promise<string | null>,
): Promise<tasksRepo.OpenTask | null> {
  const base = {
    workflowId: c.workflowId,
    runId: c.runId,
    taskQueue,
    occurrence: occurrenceOf(s),
    process: s.process,
    assetNumber: s.assetNumber,
  };
  const t = s.pendingTask as Task | undefined;
  if (t && (s.status === 'running' || t.type === ADMIN_DECISION)) {
    return {
      ...base,
      type: t.type,
      step: t.step,
      expects: t.expects,
      department: t.department ?? c.department,
      location: t.location ?? c.location,
      contact: t.contact ?? null,
      dueAt: t.dueAt,
      escalateAt: await escalateAt(t),
      createdAt: t.createdAt,
      remindersSent: t.remindersSent,
      escalated: t.escalated,
    };
  }
  if (s.status === 'needs-attention') {
    // Waiting for an admin since the process was parked: the needs-attention step's start.
    const since = s.steps.at(-1)?.startedAt ?? new Date().toISOString();
    return {
      ...base,
      type: ADMIN_DECISION,
      step: s.step,
      expects: [],
      department: c.department,
      location: c.location,
      contact: null,
      dueAt: since,
      escalateAt: null,
      createdAt: since,
      remindersSent: 0,
      escalated: false,
      ...(s.failedStep ? { failedStep: s.failedStep } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
      ...(s.errorKind ? { errorKind: s.errorKind } : {}),
    };
  }
  return null;
}

/** The occurrence of the state's open task, or of its current step when none is open. */
function occurrenceOf(s: State): number {
  return (s.pendingTask as Task | undefined)?.occurrence ?? s.occurrence ?? s.steps.length;
}

function keyword(value: unknown): string | null {
  const one = Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
  return typeof one === 'string' ? one : null;
}

function candidateOf(info: {
  workflowId: string;
  runId: string;
  typedSearchAttributes: { get(key: typeof DepartmentKey): unknown };
}): Candidate {
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    department: keyword(info.typedSearchAttributes.get(DepartmentKey)),
    location: keyword(info.typedSearchAttributes.get(LocationKey)),
  };
}

/** The workflow types that keep rows in the task index. */
const LIFECYCLE_WORKFLOWS: readonly string[] = [CHANGE_USER_WORKFLOW, INACTIVATION_WORKFLOW, DISTRIBUTION_WORKFLOW];

export function runningWorkflowsQuery(taskQueue: string): string {
  return [
    `WorkflowType IN (${LIFECYCLE_WORKFLOWS.map(literal).join(', ')})`,
    `TaskQueue = ${literal(taskQueue)}`,
    `ExecutionStatus = 'Running'`,
  ].join(' AND ');
}

export async function rebuildTaskIndex(o: RebuildOptions): Promise<RebuildSummary> {
  const concurrency = o.concurrency ?? 16;
  const queryTimeoutMs = o.queryTimeoutMs ?? 10_000;
  const startedAt = await tasksRepo.clockNow(o.pool);
  const summary: RebuildSummary = {
    taskQueue: o.taskQueue,
    listed: 0,
    queried: 0,
    written: 0,
    removed: 0,
    openTasks: 0,
    unanswered: [],
  };

  // 1. What visibility lists as running.
  const candidates = new Map<string, Candidate>();
  for await (const info of o.client.workflow.list({ query: runningWorkflowsQuery(o.taskQueue) })) {
    candidates.set(info.workflowId, candidateOf(info));
  }
  summary.listed = candidates.size;

  // 2. Rows of workflows visibility did not list: still running (visibility lags), or stale.
  const unlisted = (await tasksRepo.versionsOf(o.pool, o.taskQueue)).filter((v) => !candidates.has(v.workflowId));
  await mapBounded(unlisted, concurrency, async (version) => {
    const current = await describeCurrent(o.client, version.workflowId);
    if (current && current.taskQueue === o.taskQueue) {
      candidates.set(version.workflowId, candidateOf(current));
      return;
    }
    const removed = await tasksRepo.removeStale(o.pool, version, startedAt);
    summary.removed += removed; // not `+= await`: that would read the total before the await
  });

  // 3. Each running workflow's own word on its open task.
  const escalateAtOf = (c: Candidate) => {
    let escalateAfterMs: Promise<number | null> | undefined; // read once per run, only if a task needs it
    return async (t: Task): Promise<string | null> => {
      if (t.escalateAt !== undefined) return t.escalateAt;
      if (t.type === ADMIN_DECISION) return null;
      escalateAfterMs ??= startTimings(o, c).catch(() => null);
      const after = await escalateAfterMs;
      return after === null ? null : new Date(Date.parse(t.dueAt) + after).toISOString();
    };
  };
  // NOT_OPEN: a closed run refuses the query instead of answering with the state it was closed in.
  const workflows = new WorkflowClient({
    connection: o.client.connection,
    namespace: o.namespace,
    queryRejectCondition: 'NOT_OPEN',
    // The state a query answers is encrypted like every payload (temporal/codecDataConverter.ts).
    dataConverter: o.client.options.dataConverter,
  });
  await mapBounded([...candidates.values()], concurrency, async (c) => {
    const outcome = await reconcile(o, workflows, c, startedAt, queryTimeoutMs, escalateAtOf(c));
    summary.written += outcome.written;
    summary.removed += outcome.removed;
    if (outcome.unanswered) summary.unanswered.push(c.workflowId);
    else summary.queried += 1;
  });
  summary.unanswered.sort();
  summary.openTasks = (await tasksRepo.versionsOf(o.pool, o.taskQueue)).length;
  return summary;
}

type Answer = { state: State } | { closed: true } | undefined;

/**
 * Writes what one workflow's state says, then asks again: while the answer changed in between (the
 * workflow moved on while the rebuild wrote), writes the newer answer, up to MAX_PASSES times. A run that
 * turns out to be closed (visibility listed it a moment late) loses its row.
 */
async function reconcile(
  o: RebuildOptions,
  workflows: WorkflowClient,
  c: Candidate,
  startedAt: Date,
  queryTimeoutMs: number,
  escalateAt: (t: Task) => Promise<string | null>,
): Promise<{ written: number; removed: number; unanswered: boolean }> {
  const result = { written: 0, removed: 0, unanswered: true };
  const ask = (): Promise<Answer> =>
    o.client
      .withDeadline(Date.now() + queryTimeoutMs, () => workflows.getHandle(c.workflowId, c.runId).query(stateQuery))
      .then((state) => ({ state: state as State }))
      .catch((err: unknown) => (err instanceof QueryRejectedError ? { closed: true as const } : undefined));
  let answer = await ask();
  for (let pass = 1; answer && pass <= MAX_PASSES; pass++) {
    if (!('state' in answer)) {
      const removed = await tasksRepo.closeThrough(o.pool, c, 2_147_483_647);
      return { ...result, removed: result.removed + removed, unanswered: false };
    }
    const { state } = answer;
    const task = await taskFromState(c, o.taskQueue, state, escalateAt);
    if (task) {
      const outcome = await tasksRepo.restore(o.pool, task, startedAt);
      if (outcome !== 'kept') result.written += 1;
    } else {
      const removed = await tasksRepo.settleWithoutTask(o.pool, c, occurrenceOf(state), startedAt);
      result.removed += removed;
    }
    const again = await ask();
    if (again && 'state' in again && sameOpenTask(state, again.state)) return { ...result, unanswered: false };
    answer = again;
  }
  return result;
}

/** Both states describe the same open task (or both none) at the same occurrence, with the same count. */
function sameOpenTask(a: State, b: State): boolean {
  return (
    a.status === b.status &&
    occurrenceOf(a) === occurrenceOf(b) &&
    a.pendingTask?.type === b.pendingTask?.type &&
    a.pendingTask?.remindersSent === b.pendingTask?.remindersSent &&
    a.pendingTask?.escalated === b.pendingTask?.escalated
  );
}

/** The workflow id's current run if it is a running lifecycle workflow; undefined when closed or unknown. */
async function describeCurrent(client: Client, workflowId: string) {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    const lifecycle = LIFECYCLE_WORKFLOWS.includes(d.type);
    return d.status.name === 'RUNNING' && lifecycle ? d : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * The escalation delay the run was started with (its input's `timings`), read from the first event of its
 * history: the state has the task's due time, the escalation is that delay later.
 */
async function startTimings(o: RebuildOptions, c: Candidate): Promise<number | null> {
  const { history } = await o.client.workflowService.getWorkflowExecutionHistory({
    namespace: o.namespace,
    execution: { workflowId: c.workflowId, runId: c.runId },
    maximumPageSize: 1,
  });
  const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return null;
  const input = defaultPayloadConverter.fromPayload<Partial<ChangeUserInput | InactivationInput>>(payload);
  const ms = input?.timings?.escalateAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : null;
}

// ---------------------------------------------------------------------------------------------- CLI

const USAGE = `usage: npm run tasks:rebuild -- [--concurrency <n>] [--query-timeout-ms <ms>] [--json]
  Restores the task index of TEMPORAL_TASK_QUEUE in DATABASE_URL from the running workflows.`;

class UsageError extends Error {}

function parseOptions(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      concurrency: { type: 'string' },
      'query-timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length > 0)
    throw new UsageError(`takes no arguments besides options (got "${positionals.join(' ')}")`);
  const int = (name: string, raw: string | undefined, min: number, max: number, fallback: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
    return n;
  };
  return {
    help: values.help === true,
    json: values.json === true,
    concurrency: int('concurrency', values.concurrency, 1, 256, 16),
    queryTimeoutMs: int('query-timeout-ms', values['query-timeout-ms'], 100, 600_000, 10_000),
  };
}

function describeSummary(s: RebuildSummary): string {
  const lines = [
    `task index of ${s.taskQueue}: ${s.openTasks} open task(s)`,
    `  running workflows listed: ${s.listed}, states read: ${s.queried}`,
    `  rows written: ${s.written}, rows removed: ${s.removed}`,
    `  workflows that did not answer: ${s.unanswered.length}${s.unanswered.length ? ` (${s.unanswered.join(', ')})` : ''}`,
  ];
  if (s.unanswered.length)
    lines.push('  their rows were left as they were; run the command again once their worker is up');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`tasks:rebuild: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const config = loadConfig();
    const pool = createPool(config.DATABASE_URL, 4, { applicationName: 'device-lifecycle-tasks-rebuild' });
    const connection = await connectTemporalClient(config);
    try {
      await migrate(pool);
      const client = new Client({
        connection,
        namespace: config.TEMPORAL_NAMESPACE,
        dataConverter: dataConverterFor(config),
      });
      const summary = await rebuildTaskIndex({
        pool,
        client,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        concurrency: options.concurrency,
        queryTimeoutMs: options.queryTimeoutMs,
      });
      process.stdout.write(`${options.json ? JSON.stringify(summary) : describeSummary(summary)}\n`);
      return summary.unanswered.length > 0 ? 3 : 0;
    } finally {
      await connection.close();
      await pool.end();
    }
  } catch (err) {
    process.stderr.write(`tasks:rebuild: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  process.exitCode = await main(process.argv.slice(2));
}
