/**
 * What every activity writes and returns the same way: the audit event of a step's work (its actor,
 * workflow, run and step, keyed once per step occurrence and purpose) and the asset as workflows see it.
 */
import type { Asset } from '../db/types';
import type { AssetSnapshot, StepContext } from './contracts';

/** The audit event of a step's work; `suffix` keys a second event of the same step apart from the first. */
export function stepEvent(ctx: StepContext, eventType: string, details: Record<string, unknown>, suffix = '') {
  return {
    eventType,
    actor: ctx.actor.id,
    actorRole: ctx.actor.role,
    credential: ctx.actor.credential ?? null,
    workflowId: ctx.workflowId,
    runId: ctx.runId,
    step: ctx.step,
    details,
    idempotencyKey: ctx.idempotencyKey + suffix,
  };
}

/** The asset fields a workflow keeps and shows. */
export function snapshot(a: Asset): AssetSnapshot {
  return {
    assetNumber: a.assetNumber,
    serialNumber: a.serialNumber,
    model: a.model,
    mdmDeviceId: a.mdmDeviceId,
    status: a.status,
    department: a.department,
    location: a.location,
    userName: a.userName,
    userEmail: a.userEmail,
    userPhone: a.userPhone,
    platform: a.platform,
  };
}
