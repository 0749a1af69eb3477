/**
 * The activity stubs every lifecycle workflow uses, with one retry policy: a few quick retries for
 * transient trouble (the MDM adapter already waits out 429s), then the step goes to needs-attention.
 */
import { proxyActivities, type ActivityFunctionWithOptions, type ActivityOptions } from '@temporalio/workflow';
import type { LifecycleActivities } from '../activities/contracts';

export const activityOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
};

export const acts = proxyActivities<LifecycleActivities>(activityOptions);

/**
 * For the workflow's own bookkeeping (audit records of reports, rejections, admin decisions): these must
 * not give up during a database outage, since there is no step to park; they retry until it is back.
 */
export const bookkeeping = proxyActivities<Pick<LifecycleActivities, 'recordEvent'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

type Fn = keyof LifecycleActivities;

/** Calls an activity with a one-line summary, shown next to it in the Temporal Web UI. */
export function call<K extends Fn>(
  name: K,
  summary: string,
  ...args: Parameters<LifecycleActivities[K]>
): Promise<Awaited<ReturnType<LifecycleActivities[K]>>> {
  const stub = acts[name] as unknown as ActivityFunctionWithOptions<LifecycleActivities[K]>;
  return stub.executeWithOptions({ ...activityOptions, summary }, args);
}
