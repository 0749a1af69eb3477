/**
 * GET /workflows: filters become a Temporal visibility query; pages come straight from the visibility
 * store's page token (the SDK's list() hides it), so the order is the store's stable one (open first,
 * newest first) and a cursor costs the server nothing to resume.
 */
import { createHash } from 'node:crypto';
import { defaultPayloadConverter, type Client } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { CHANGE_USER_WORKFLOW, DISTRIBUTION_WORKFLOW, INACTIVATION_WORKFLOW } from '../workflows/definitions';
import { ApiError } from './errors';
import type { ListWorkflowsQuery } from './schemas';
import { executionStatus, processOf } from './workflowView';

/**
 * A visibility-query string literal. The query language's tokenizer reads backslash escapes and doubled
 * quotes; escaping both (and refusing control characters at validation) keeps any value a literal.
 */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const WORKFLOW_TYPES = {
  'change-user': CHANGE_USER_WORKFLOW,
  inactivation: INACTIVATION_WORKFLOW,
  distribution: DISTRIBUTION_WORKFLOW,
} as const;

const STATUS_NAMES: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  'continued-as-new': 'ContinuedAsNew',
};

export function visibilityQuery(f: ListWorkflowsQuery): string {
  const clauses: string[] = [];
  clauses.push(
    f.type
      ? `WorkflowType = ${literal(WORKFLOW_TYPES[f.type])}`
      : `WorkflowType IN (${Object.values(WORKFLOW_TYPES).map(literal).join(', ')})`,
  );
  if (f.status) clauses.push(`ExecutionStatus = ${literal(STATUS_NAMES[f.status]!)}`);
  if (f.step) clauses.push(`LifecycleStep = ${literal(f.step)}`);
  if (f.department) clauses.push(`Department = ${literal(f.department)}`);
  if (f.location) clauses.push(`Location = ${literal(f.location)}`);
  if (f.asset) clauses.push(`AssetNumber = ${literal(f.asset)}`);
  if (f.needsAttention !== undefined) clauses.push(`NeedsAttention = ${f.needsAttention ? 'true' : 'false'}`);
  return clauses.join(' AND ');
}

// The cursor carries a fingerprint of the query it belongs to, so it cannot be replayed with other filters.
const fingerprint = (query: string) => createHash('sha256').update(query).digest().subarray(0, 8);

export function encodeCursor(query: string, token: Uint8Array): string {
  return Buffer.concat([fingerprint(query), Buffer.from(token)]).toString('base64url');
}

export function decodeCursor(query: string, cursor: string): Buffer {
  const invalid = new ApiError(400, 'invalid-input', 'cursor: not a cursor from this list with these filters', {
    problems: [{ field: 'cursor', problem: 'not a cursor from this list with these filters' }],
  });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  const raw = Buffer.from(cursor, 'base64url');
  if (raw.length <= 8 || !raw.subarray(0, 8).equals(fingerprint(query))) throw invalid;
  return raw.subarray(8);
}

type Timestamp = proto.api.workflow.v1.IWorkflowExecutionInfo['startTime'];
function isoTime(ts: Timestamp): string | undefined {
  if (!ts?.seconds) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

const STATUS_FROM_CODE: Record<number, string> = {
  1: 'running',
  2: 'completed',
  3: 'failed',
  4: 'cancelled',
  5: 'terminated',
  6: 'continued-as-new',
  7: 'timed-out',
  8: 'paused',
};

function attribute(fields: Record<string, proto.api.common.v1.IPayload> | null | undefined, name: string): unknown {
  const payload = fields?.[name];
  if (!payload) return undefined;
  try {
    const value = defaultPayloadConverter.fromPayload<unknown>(payload);
    // Keyword attributes may come back as one-element lists from some visibility stores.
    return Array.isArray(value) && value.length === 1 ? value[0] : value;
  } catch {
    return undefined;
  }
}

function summary(e: proto.api.workflow.v1.IWorkflowExecutionInfo) {
  const sa = e.searchAttributes?.indexedFields;
  const workflowType = e.type?.name ?? '';
  return {
    workflowId: e.execution?.workflowId ?? '',
    runId: e.execution?.runId ?? '',
    workflowType,
    type: processOf(workflowType),
    executionStatus: STATUS_FROM_CODE[e.status ?? 0] ?? executionStatus(String(e.status ?? 'unknown')),
    assetNumber: attribute(sa, 'AssetNumber'),
    step: attribute(sa, 'LifecycleStep'),
    awaitingTask: attribute(sa, 'AwaitingTask'),
    department: attribute(sa, 'Department'),
    location: attribute(sa, 'Location'),
    needsAttention: attribute(sa, 'NeedsAttention') === true,
    startedAt: isoTime(e.startTime),
    closedAt: isoTime(e.closeTime),
  };
}

export async function listWorkflows(temporal: Client, namespace: string, f: ListWorkflowsQuery) {
  const query = visibilityQuery(f);
  const response = await temporal.workflowService.listWorkflowExecutions({
    namespace,
    query,
    pageSize: f.limit,
    nextPageToken: f.cursor ? decodeCursor(query, f.cursor) : undefined,
  });
  const token = response.nextPageToken;
  return {
    items: response.executions.map(summary),
    nextCursor: token && token.length > 0 ? encodeCursor(query, token) : null,
  };
}
