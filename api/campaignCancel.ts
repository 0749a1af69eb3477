/**
 * POST /campaigns/{id}/cancel: cancels every process of the campaign that is still running, through the
 * path a single cancel takes (the workflow's `cancel` Update, attributed to the admin), so each workflow
 * undoes what it had only planned itself (records-1: planned status and date put back, with audit events)
 * and records what was already done to the device. One row per listed device.
 *
 * Only the campaign's own process is ever addressed: the Update names the run chain the campaign started
 * (first execution run id), and a device whose workflow id now runs a later process is left alone. The
 * Update id is derived from the campaign and the process, so sending the cancel again never acts twice:
 * a process already stopped answers `already-closed` (or Temporal hands back the first answer).
 */
import type pg from 'pg';
import * as campaignsRepo from '../db/campaignsRepo';
import { LifecycleStatusKey } from '../temporal/searchAttributes';
import { adminUpdates } from '../workflows/definitions';
import type { Actor } from './auth';
import { workflowActor } from './auth/workflowActor';
import { mapBounded } from './concurrency';
import type { ApiContext } from './context';
import { dbCall } from './dbErrors';
import { ApiError } from './errors';
import { temporalOutage } from './temporalErrors';
import { describeOrUndefined, executionStatus } from './workflowView';
import { executeUpdate } from './workflowUpdates';

export type CancelOutcome = 'cancelled' | 'already-closed' | 'not-started' | 'failed';

export interface CancelRow {
  assetNumber: string;
  workflowId?: string;
  outcome: CancelOutcome;
  /** For already-closed: how the process ended (or that a later process now owns the device). */
  detail?: string;
  error?: { code: string; message: string };
}

/** The workflow's answers that mean "this process is not running any more": nothing to cancel. */
const CLOSED = new Set(['command-not-allowed', 'workflow-closed', 'not-found']);

async function cancelOne(
  ctx: ApiContext,
  campaignId: string,
  device: campaignsRepo.CampaignDevice,
  actor: Actor,
  reason: string | undefined,
): Promise<CancelRow> {
  const { assetNumber, workflowId, runId } = device;
  if (device.result === 'pending') {
    const detail = 'its start is still under way: send the cancel again once GET /bulk/{bulkId} says done';
    return { assetNumber, outcome: 'not-started', detail };
  }
  if (device.result !== 'started' || !workflowId || !runId) {
    return { assetNumber, outcome: 'not-started', detail: `the campaign did not start a process (${device.result})` };
  }
  const row = { assetNumber, workflowId };
  try {
    const desc = await describeOrUndefined(ctx.temporal, workflowId);
    const firstRunId = desc?.raw.workflowExecutionInfo?.firstRunId;
    if (!desc) return { ...row, outcome: 'already-closed', detail: 'Temporal no longer knows the process' };
    if (firstRunId && firstRunId !== runId) {
      return {
        ...row,
        outcome: 'already-closed',
        detail: 'the campaign process has ended; a later process owns the device',
      };
    }
    if (desc.status.name !== 'RUNNING') {
      // The process's own outcome (cancelled, aborted...) where it says: a stopped process completes in Temporal.
      const outcome = desc.typedSearchAttributes.get(LifecycleStatusKey) ?? executionStatus(desc.status.name);
      return { ...row, outcome: 'already-closed', detail: outcome };
    }
    const idempotencyKey = `campaign-cancel:${campaignId}:${runId}`;
    await executeUpdate(ctx.temporal, {
      workflowId,
      name: 'cancel',
      definition: adminUpdates.cancel,
      arg: { actor: workflowActor(actor), idempotencyKey, ...(reason !== undefined ? { reason } : {}) },
      idempotencyKey,
      timeoutMs: ctx.updateTimeoutMs,
      firstExecutionRunId: runId,
    });
    return { ...row, outcome: 'cancelled' };
  } catch (err) {
    if (err instanceof ApiError) {
      if (CLOSED.has(err.code)) return { ...row, outcome: 'already-closed', detail: err.message };
      return { ...row, outcome: 'failed', error: { code: err.code, message: err.message } };
    }
    const outage = temporalOutage(err);
    if (outage) {
      const message = `${outage.what}; send the campaign cancel again (it never cancels a process twice)`;
      return { ...row, outcome: 'failed', error: { code: outage.code, message } };
    }
    ctx.logger.error(`[api] campaign ${campaignId}: cancel of ${workflowId} failed:`, err);
    return {
      ...row,
      outcome: 'failed',
      error: { code: 'internal', message: 'the cancel failed unexpectedly; see the API log' },
    };
  }
}

export async function cancelCampaign(
  ctx: ApiContext,
  pool: pg.Pool,
  campaignId: string,
  actor: Actor,
  reason: string | undefined,
) {
  const devices = await dbCall(campaignsRepo.devices(pool, campaignId, ctx.clock()));
  await dbCall(campaignsRepo.markCancelled(pool, campaignId, actor.id));
  const results = await mapBounded(devices, ctx.config.BULK_START_CONCURRENCY, (d) =>
    cancelOne(ctx, campaignId, d, actor, reason),
  );
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return { campaignId, total: results.length, counts, results };
}
