/**
 * The retention run started by the Temporal Schedule (temporal/retentionSchedule.ts): one activity that
 * erases the personal data of processes closed longer ago than RETENTION_DAYS (activities/retention.ts).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ErasureResult, RetentionActivities } from '../activities/retention';

const { erasePersonalData } = proxyActivities<RetentionActivities>({
  // A first run over years of history may take a while; it heartbeats after every batch.
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '5 minutes',
  retry: { initialInterval: '1 minute', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 20 },
});

export async function retentionErasure(): Promise<ErasureResult> {
  return erasePersonalData({});
}
