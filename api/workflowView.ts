/**
 * What the API shows about one workflow, from what already holds it rather than from the workflow itself:
 * one describe() (execution status, type, times, search attributes: step, awaiting task, needs attention,
 * department, location, asset, process; pending activities and their errors) and the database: the run's
 * audit trail (steps done with times, reports, inactivation attempts, the last failure) and the task
 * index (the pending human task). A closed process is never replayed by a worker to be shown.
 *
 * The workflow's `state` query is asked only for what nothing else holds: the pending task of a process
 * that waits for a person while the task index has no row for that step of that run (a run from before
 * the index, or, before lean-2, the moment between the step opening and its row being written; from lean-2
 * on the step shows in the search attributes only once its row is written). Then a request makes two
 * Temporal calls; otherwise one.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import {
  AssetNumberKey,
  AwaitingTaskKey,
  DepartmentKey,
  LifecycleProcessKey,
  LifecycleStepKey,
  LocationKey,
  NeedsAttentionKey,
} from '../temporal/searchAttributes';
import type { OpenTask } from '../db/tasksRepo';
import type { AssetEvent } from '../db/types';
import {
  CHANGE_USER_WORKFLOW,
  DISTRIBUTION_WORKFLOW,
  HUMAN_EVENTS,
  INACTIVATION_WORKFLOW,
  stateQuery,
  type HumanTask,
  type LifecycleState,
  type ProcessKind,
  type ReportRecord,
  type StepRecord,
} from '../workflows/definitions';
import { notFound, type Logger } from './errors';
import type { WorkflowRecords } from './ports';
import { isNotFound } from './temporalErrors';

export function processOf(workflowType: string): ProcessKind | undefined {
  if (workflowType === CHANGE_USER_WORKFLOW) return 'change-user';
  if (workflowType === INACTIVATION_WORKFLOW) return 'inactivation';
  if (workflowType === DISTRIBUTION_WORKFLOW) return 'distribution';
  return undefined;
}

/** Temporal's RUNNING / TIMED_OUT as the API's `running` / `timed-out`. */
export const executionStatus = (name: string) => name.toLowerCase().replace(/_/g, '-');

export interface SearchAttributeView {
  assetNumber?: string;
  process?: string;
  step?: string;
  awaitingTask?: string;
  department?: string;
  location?: string;
  needsAttention?: boolean;
}

export function searchAttributeView(sa: TypedSearchAttributes): SearchAttributeView {
  return {
    assetNumber: sa.get(AssetNumberKey),
    process: sa.get(LifecycleProcessKey),
    step: sa.get(LifecycleStepKey),
    awaitingTask: sa.get(AwaitingTaskKey),
    department: sa.get(DepartmentKey),
    location: sa.get(LocationKey),
    needsAttention: sa.get(NeedsAttentionKey),
  };
}

export interface RunningSummary {
  workflowId: string;
  runId: string;
  workflowType: string;
  process?: ProcessKind;
  status: string;
  step?: string;
  startedAt: string;
}

function summarise(desc: WorkflowExecutionDescription): RunningSummary {
  return {
    workflowId: desc.workflowId,
    runId: desc.runId,
    workflowType: desc.type,
    process: processOf(desc.type),
    status: executionStatus(desc.status.name),
    step: searchAttributeView(desc.typedSearchAttributes).step,
    startedAt: desc.startTime.toISOString(),
  };
}

/** The workflow that holds a device's id, for a 409 that names it. */
export async function describeRunning(temporal: Client, workflowId: string): Promise<RunningSummary> {
  return summarise(await temporal.workflow.getHandle(workflowId).describe());
}

/** describe(), or undefined when no run with this id exists. */
export async function describeOrUndefined(
  temporal: Client,
  workflowId: string,
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await temporal.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export interface PendingActivityView {
  activityType?: string;
  state?: string;
  attempt: number;
  lastError?: string;
  nextAttemptAt?: string;
}

function pendingActivities(desc: WorkflowExecutionDescription): PendingActivityView[] {
  return (desc.raw.pendingActivities ?? []).map((a) => ({
    activityType: a.activityType?.name ?? undefined,
    state: a.state != null ? String(a.state) : undefined,
    attempt: a.attempt ?? 0,
    lastError: a.lastFailure?.message ?? undefined,
    nextAttemptAt:
      a.nextAttemptScheduleTime?.seconds != null
        ? new Date(Number(a.nextAttemptScheduleTime.seconds) * 1000).toISOString()
        : undefined,
  }));
}

async function queryState(
  temporal: Client,
  workflowId: string,
  runId: string,
  timeoutMs: number,
): Promise<LifecycleState | undefined> {
  try {
    return await temporal.withDeadline(Date.now() + timeoutMs, () =>
      temporal.workflow.getHandle(workflowId, runId).query(stateQuery),
    );
  } catch {
    // No worker, a worker that does not know the query yet, or a timeout: the caller falls back.
    return undefined;
  }
}

/** Steps a process ends in: the step names the process status. */
const FINAL_STEPS = new Set(['completed', 'cancelled', 'aborted']);

/**
 * The process's status from its search attributes and Temporal's execution status: how it ended (the
 * final step), needs-attention while parked, running; a run that ended some other way (terminated,
 * timed out, failed) has the execution status.
 */
function processStatus(sa: SearchAttributeView, execution: string): string {
  if (sa.step && FINAL_STEPS.has(sa.step)) return sa.step;
  if (execution !== 'running') return execution;
  return sa.needsAttention ? 'needs-attention' : 'running';
}

const humanEvents = new Set<string>(HUMAN_EVENTS);
const INACTIVATION_REQUESTS = new Set(['inactivation-requested', 'forced-inactivation-requested']);

/** A report as the view lists it; the reporter's idempotency key is known only to the workflow's state. */
export type ReportView = Omit<ReportRecord, 'idempotencyKey'> & { idempotencyKey?: string };

/** What the audit trail of one run says about the process. */
interface AuditReading {
  steps: StepRecord[];
  reports: ReportView[];
  inactivationAttempts?: number;
  failedStep?: string;
  lastError?: string;
}

/**
 * Steps from the audit trail: consecutive events of one step are one step occurrence. A step finished
 * when its last event was written and started when the step before finished (or the run started); the
 * current step (the search attribute) is open. `attempts` counts the occurrences of the step so far (a
 * step retried after needs-attention is attempt 2). Steps that write no event (e.g. a verification that
 * only reads the MDM) do not appear.
 */
export function readAuditTrail(
  events: AssetEvent[],
  run: { process?: string; startedAt: string; closedAt?: string; step?: string; running: boolean },
): AuditReading {
  const steps: StepRecord[] = [];
  const seen = new Map<string, number>();
  for (const e of events) {
    if (!e.step) continue;
    const last = steps.at(-1);
    if (last?.step === e.step) {
      last.finishedAt = e.occurredAt;
      continue;
    }
    const attempts = (seen.get(e.step) ?? 0) + 1;
    seen.set(e.step, attempts);
    steps.push({
      step: e.step as StepRecord['step'],
      startedAt: last?.finishedAt ?? run.startedAt,
      finishedAt: e.occurredAt,
      attempts,
    });
  }
  const current = run.step as StepRecord['step'] | undefined;
  const last = steps.at(-1);
  if (current && last?.step === current && (run.running || FINAL_STEPS.has(current))) {
    // The current step has written events but is still under way (or is the final one: done when written).
    if (run.running) delete last.finishedAt;
  } else if (current && (run.running || FINAL_STEPS.has(current))) {
    const attempts = (seen.get(current) ?? 0) + 1;
    const startedAt = last?.finishedAt ?? run.startedAt;
    steps.push(
      run.running
        ? { step: current, startedAt, attempts }
        : { step: current, startedAt: run.closedAt ?? startedAt, finishedAt: run.closedAt ?? startedAt, attempts },
    );
  }

  const reports: ReportView[] = [];
  let parked: AssetEvent | undefined;
  for (const e of events) {
    const actor = { id: e.actor, role: e.actorRole ?? 'unknown' };
    if (humanEvents.has(e.eventType)) {
      reports.push({
        event: e.eventType,
        actor,
        at: e.occurredAt,
        outcome: 'accepted',
        step: e.step as StepRecord['step'],
      });
    } else if (e.eventType === 'report-rejected') {
      const d = e.details as { event?: unknown; reason?: unknown };
      reports.push({
        event: typeof d.event === 'string' ? d.event : 'unknown',
        actor,
        at: e.occurredAt,
        outcome: 'rejected',
        step: e.step as StepRecord['step'],
        ...(typeof d.reason === 'string' ? { reason: d.reason } : {}),
      });
    } else if (e.eventType === 'needs-attention') {
      parked = e;
    }
  }
  const failure = parked?.details as { failedStep?: unknown; error?: unknown } | undefined;
  return {
    steps,
    reports,
    inactivationAttempts:
      run.process === 'inactivation' ? events.filter((e) => INACTIVATION_REQUESTS.has(e.eventType)).length : undefined,
    failedStep: typeof failure?.failedStep === 'string' ? failure.failedStep : undefined,
    lastError: typeof failure?.error === 'string' ? failure.error : undefined,
  };
}

/** A task-index row as the pending task the view has always shown (the HumanTask shape, plus its extras). */
function pendingTaskOf(row: OpenTask): HumanTask & { escalateAt?: string; failedStep?: string; lastError?: string } {
  return {
    type: row.type,
    step: row.step as HumanTask['step'],
    expects: row.expects as HumanTask['expects'],
    assetNumber: row.assetNumber,
    ...(row.department !== null ? { department: row.department } : {}),
    ...(row.location !== null ? { location: row.location } : {}),
    ...(row.contact ? { contact: row.contact } : {}),
    dueAt: row.dueAt,
    ...(row.escalateAt ? { escalateAt: row.escalateAt } : {}),
    createdAt: row.createdAt,
    remindersSent: row.remindersSent,
    escalated: row.escalated,
    occurrence: row.occurrence,
    ...(row.failedStep ? { failedStep: row.failedStep } : {}),
    ...(row.lastError ? { lastError: row.lastError } : {}),
  };
}

/** The run's audit trail and the workflow's task-index row; undefined when the database cannot say. */
async function readRecords(
  records: WorkflowRecords | undefined,
  workflowId: string,
  runId: string,
  logger: Logger,
): Promise<{ events: AssetEvent[]; task: OpenTask | null } | undefined> {
  if (!records) return undefined;
  try {
    const [events, task] = await Promise.all([records.events(workflowId, runId), records.openTask(workflowId)]);
    return { events, task };
  } catch (err) {
    // The view still answers from Temporal, and says so (stateAvailable: false unless the workflow answered).
    logger.warn(`[api] workflow view of ${workflowId}: the database could not be read:`, err);
    return undefined;
  }
}

export interface WorkflowViewDeps {
  temporal: Client;
  /** The database's records of workflows; without them the view reads Temporal only. */
  records?: WorkflowRecords;
  logger: Logger;
  /** How long the state query (asked only for a pending task the task index lacks) may take. */
  queryTimeoutMs: number;
}

export async function workflowView(deps: WorkflowViewDeps, workflowId: string) {
  const { temporal } = deps;
  const desc = await describeOrUndefined(temporal, workflowId);
  if (!desc) throw notFound('workflow', workflowId);
  const sa = searchAttributeView(desc.typedSearchAttributes);
  const execution = executionStatus(desc.status.name);
  const running = execution === 'running';
  const type = processOf(desc.type) ?? sa.process;
  const startedAt = desc.startTime.toISOString();
  const closedAt = desc.closeTime?.toISOString();

  // A process that continued as new spans several runs: its trail starts at the chain's first run.
  const firstRunId = desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;
  const db = await readRecords(deps.records, workflowId, firstRunId, deps.logger);
  // The index row counts only if it is this run's task at the step the process is at now.
  const indexed = db?.task && db.task.runId === desc.runId && db.task.step === sa.step ? db.task : undefined;
  const waitsForPerson = running && Boolean(sa.awaitingTask || sa.needsAttention);
  const state =
    waitsForPerson && !indexed ? await queryState(temporal, workflowId, desc.runId, deps.queryTimeoutMs) : undefined;

  const audit = db
    ? readAuditTrail(db.events, { process: type, startedAt, closedAt, step: sa.step, running })
    : state && {
        steps: state.steps,
        reports: state.reports,
        inactivationAttempts: state.inactivationAttempts,
        failedStep: state.failedStep,
        lastError: state.lastError,
      };
  const activities = pendingActivities(desc);
  const sources = ['temporal-describe', ...(db ? ['audit-trail'] : []), ...(indexed ? ['task-index'] : [])];
  if (state) sources.push('workflow-state');
  const pendingTask = indexed ? pendingTaskOf(indexed) : waitsForPerson ? state?.pendingTask : undefined;
  return {
    workflowId,
    runId: desc.runId,
    workflowType: desc.type,
    type,
    assetNumber: sa.assetNumber,
    executionStatus: execution,
    // The process's own status (needs-attention, cancelled...) when it says; otherwise Temporal's.
    status: processStatus(sa, execution),
    step: sa.step,
    awaitingTask: sa.awaitingTask,
    department: sa.department,
    location: sa.location,
    needsAttention: sa.needsAttention ?? false,
    startedAt,
    closedAt,
    summary: await desc.staticSummary?.().catch(() => undefined),
    // True when the process's own records were read (audit trail, task index, or its state query).
    stateAvailable: audit !== undefined,
    sources,
    stepsDone: audit?.steps.filter((s) => s.finishedAt) ?? [],
    steps: audit?.steps,
    pendingTask,
    failedStep: indexed?.failedStep ?? audit?.failedStep,
    attempts: {
      inactivation: audit?.inactivationAttempts,
      currentStep: audit?.steps.at(-1)?.attempts,
      activities: activities.map((a) => ({ activityType: a.activityType, attempt: a.attempt })),
    },
    lastError: indexed?.lastError ?? audit?.lastError ?? activities.find((a) => a.lastError)?.lastError,
    // While the process waits out an MDM outage (mdm-weather-1): what failed, since when, the next try.
    mdmWeather: running ? (desc.memo?.mdmWeather ?? undefined) : undefined,
    pendingActivities: activities,
    reports: audit?.reports,
  };
}
