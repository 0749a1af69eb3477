/**
 * What the API shows about one workflow. The workflow's own `state` query is the richest source (steps
 * with times, the pending human task, last error), but it needs a worker; describe() and the search
 * attributes always work, so the view degrades to those and says `stateAvailable: false`.
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
import {
  CHANGE_USER_WORKFLOW,
  INACTIVATION_WORKFLOW,
  stateQuery,
  type LifecycleState,
  type ProcessKind,
} from '../workflows/definitions';
import { notFound } from './errors';
import { isNotFound } from './temporalErrors';

export function processOf(workflowType: string): ProcessKind | undefined {
  if (workflowType === CHANGE_USER_WORKFLOW) return 'change-user';
  if (workflowType === INACTIVATION_WORKFLOW) return 'inactivation';
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

export async function workflowView(temporal: Client, workflowId: string, queryTimeoutMs: number) {
  const desc = await describeOrUndefined(temporal, workflowId);
  if (!desc) throw notFound('workflow', workflowId);
  const sa = searchAttributeView(desc.typedSearchAttributes);
  const state = await queryState(temporal, workflowId, desc.runId, queryTimeoutMs);
  const activities = pendingActivities(desc);
  return {
    workflowId,
    runId: desc.runId,
    workflowType: desc.type,
    type: processOf(desc.type) ?? sa.process,
    assetNumber: state?.assetNumber ?? sa.assetNumber,
    executionStatus: executionStatus(desc.status.name),
    // The process's own status (needs-attention, cancelled...) when known; otherwise Temporal's.
    status: state?.status ?? (sa.needsAttention ? 'needs-attention' : executionStatus(desc.status.name)),
    step: state?.step ?? sa.step,
    awaitingTask: sa.awaitingTask,
    department: sa.department,
    location: sa.location,
    needsAttention: state ? state.status === 'needs-attention' : (sa.needsAttention ?? false),
    startedAt: desc.startTime.toISOString(),
    closedAt: desc.closeTime?.toISOString(),
    summary: await desc.staticSummary?.().catch(() => undefined),
    stateAvailable: state !== undefined,
    stepsDone: state?.steps.filter((s) => s.finishedAt) ?? [],
    steps: state?.steps,
    pendingTask: state?.pendingTask,
    failedStep: state?.failedStep,
    attempts: {
      inactivation: state?.inactivationAttempts,
      currentStep: state?.steps.at(-1)?.attempts,
      activities: activities.map((a) => ({ activityType: a.activityType, attempt: a.attempt })),
    },
    lastError: state?.lastError ?? activities.find((a) => a.lastError)?.lastError,
    pendingActivities: activities,
    reports: state?.reports,
    notes: state?.notes,
  };
}
