/** How assets and their audit events look in API answers. */
import type { AssetEvent } from '../db/types';

/** One entry of an asset's history: what happened, who did it, in which workflow step, when. */
export function eventView(e: AssetEvent) {
  return {
    id: e.id,
    type: e.eventType,
    actor: e.actor,
    role: e.actorRole,
    workflowId: e.workflowId,
    runId: e.runId,
    step: e.step,
    at: e.occurredAt,
    details: e.details,
    changes: e.changes,
  };
}
