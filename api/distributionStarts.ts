/**
 * Starting a distribution from stock (DESIGN §3.3). The workflow id names the device, so the asset is
 * chosen before the process starts: reserved here, in one transaction with the application it goes to
 * (db/reservationsRepo.ts), then the process starts and confirms the reservation in its `reserving` step.
 * A start that does not happen (the device is busy with another process, Temporal refuses or fails) puts
 * the reservation and the application back at once; when the product picked the asset, a busy one is
 * passed over and the next best asset is tried.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import * as assetsRepo from '../db/assetsRepo';
import * as reservations from '../db/reservationsRepo';
import type { Config } from '../config/env';
import { DISTRIBUTION_WORKFLOW, workflowIdFor, type DistributionInput } from '../workflows/definitions';
import type { Actor } from './auth';
import { workflowActor } from './auth/workflowActor';
import type { DistributionBody } from './distributionBody';
import { isNotFound } from './temporalErrors';
import {
  limitsFrom,
  markdownTable,
  oneLine,
  startForAsset,
  timingsFrom,
  type StartDeps,
  type StartOutcome,
  type StartPlan,
} from './lifecycleStarts';

/** Busy devices a pick passes over before it gives up (each costs one reservation and one start call). */
const MAX_PICKS = 5;
/**
 * A reservation no process has confirmed after this long may be an orphan: the API stopped between the
 * reservation and the start. Far longer than a start takes; a process that did start confirms it in its
 * first step, and while one runs for the device its reservation is left alone.
 */
export const UNCONFIRMED_GRACE_MS = 10 * 60_000;
/** Orphans looked at per request: a few, so a distribution never waits on a long clean-up. */
const ORPHANS_PER_REQUEST = 10;

export type DistributionOutcome =
  | (Extract<StartOutcome, { result: 'started' }> & { assetNumber: string })
  | Exclude<StartOutcome, { result: 'started' }>
  | Exclude<reservations.ReserveOutcome, { result: 'reserved' }>;

export interface DistributionDeps extends Pick<StartDeps, 'temporal' | 'taskQueue' | 'config'> {
  pool: pg.Pool;
}

/** Reserves the chosen asset (`assetNumber`) or picks one, then starts the process on it. */
export async function startDistribution(
  deps: DistributionDeps,
  body: DistributionBody,
  actor: Actor,
  assetNumber?: string,
): Promise<DistributionOutcome> {
  await releaseOrphans(deps);
  const passedOver: string[] = [];
  for (let pick = 0; pick < MAX_PICKS; pick++) {
    const reservationId = randomUUID();
    const reserved = await reservations.reserve(deps.pool, {
      reservationId,
      reservedBy: actor.id,
      assetNumber,
      applicationId: body.applicationId,
      prefer: body.newUser && { department: body.newUser.department, location: body.newUser.location },
      exclude: passedOver,
      workflowIdOf: workflowIdFor,
    });
    if (reserved.result !== 'reserved') return reserved;
    const chosen = reserved.reservation.assetNumber;
    const outcome = await startReserved(
      deps,
      chosen,
      distributionPlan(chosen, reservationId, body, actor, deps.config),
    );
    if (outcome.result === 'started') return { ...outcome, assetNumber: chosen };
    if (assetNumber || outcome.result !== 'busy') return outcome;
    passedOver.push(chosen);
  }
  return { result: 'no-stock' };
}

/**
 * Puts back reservations (and their applications) that stayed unconfirmed past the grace period while no
 * distribution runs for their device: their start never happened. Temporal trouble skips the clean-up
 * (the request goes on; a later one tries again).
 */
async function releaseOrphans(deps: DistributionDeps): Promise<void> {
  const stale = await reservations.listUnconfirmed(deps.pool, UNCONFIRMED_GRACE_MS, ORPHANS_PER_REQUEST);
  for (const r of stale) {
    const workflowId = workflowIdFor(r.assetNumber);
    try {
      const d = await deps.temporal.workflow.getHandle(workflowId).describe();
      if (d.status.name === 'RUNNING' && d.type === DISTRIBUTION_WORKFLOW) continue;
    } catch (err) {
      if (!isNotFound(err)) return;
    }
    await reservations.releaseUnstarted(deps.pool, r.reservationId, workflowId);
  }
}

/** Starts the process on the reserved asset; whatever keeps it from starting puts the reservation back. */
async function startReserved(deps: DistributionDeps, assetNumber: string, plan: StartPlan): Promise<StartOutcome> {
  const { reservationId } = plan.input as DistributionInput;
  const release = async () => {
    await reservations.releaseUnstarted(deps.pool, reservationId, workflowIdFor(assetNumber));
  };
  let outcome: StartOutcome;
  try {
    const asset = await assetsRepo.get(deps.pool, assetNumber);
    if (!asset) throw new Error(`reserved asset ${assetNumber} vanished`);
    outcome = await startForAsset(deps, asset, plan);
  } catch (err) {
    // The process may still have started (an answer lost on the way back): its `reserving` step then
    // takes the asset again if it is still free, or waits for an admin.
    await release();
    throw err;
  }
  if (outcome.result !== 'started') await release();
  return outcome;
}

export function distributionPlan(
  assetNumber: string,
  reservationId: string,
  body: DistributionBody,
  actor: Actor,
  config: Config,
): StartPlan {
  const input: DistributionInput = {
    assetNumber,
    reservationId,
    ...(body.applicationId ? { applicationId: body.applicationId } : {}),
    ...(body.newUser ? { newUser: body.newUser } : {}),
    reason: body.reason,
    requestedBy: workflowActor(actor),
    timings: timingsFrom(config),
    limits: limitsFrom(config),
  };
  // What the UI shows in clear carries no personal data (DESIGN §6): the application id, not the user.
  const forWhom = body.applicationId ? `application ${body.applicationId}` : 'a user named by an admin';
  return {
    process: 'distribution',
    input,
    summary: oneLine(`Distribute ${assetNumber} from stock: ${body.reason}`),
    details: `### Distribute device — ${assetNumber}\n\n${markdownTable([
      ['reason', body.reason],
      ['goes to', forWhom],
      ['reservation', reservationId],
      ['requested by', `${actor.id} (${actor.role})`],
    ])}`,
  };
}
