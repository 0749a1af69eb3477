/**
 * Waits for an asynchronous MDM command by polling its status with exponential backoff until a deadline.
 * Polling from the workflow (not inside a long activity) lets timers skip in time-skipping tests and keeps
 * each poll visible in the history.
 */
import { condition } from '@temporalio/workflow';
import type { MdmJobRef } from '../activities/contracts';
import type { Step } from './definitions';
import type { Lifecycle } from './lifecycle';

export type JobOutcome = { outcome: 'succeeded' } | { outcome: 'failed'; detail: string } | { outcome: 'timed-out' };

export async function waitForMdmJob(
  lc: Lifecycle,
  ref: MdmJobRef,
  opts: { deadlineMs: number; pollInitialMs: number; pollMaxMs: number; what: string; step: Step },
): Promise<JobOutcome> {
  const deadline = Date.now() + opts.deadlineMs;
  let interval = opts.pollInitialMs;
  for (let poll = 1; ; poll++) {
    lc.throwIfStopped();
    const { state, detail } = await lc.parkOnFailure(opts.step, () =>
      lc.mdm('getMdmJobState', `${opts.what}: poll ${poll}`, ref),
    );
    if (state === 'succeeded') return { outcome: 'succeeded' };
    if (state === 'failed') return { outcome: 'failed', detail: detail ?? 'the MDM reported the job as failed' };
    const left = deadline - Date.now();
    if (left <= 0) return { outcome: 'timed-out' };
    await condition(() => lc.stopRequested(), Math.min(interval, left), {
      summary: `${opts.what}: wait before poll ${poll + 1}`,
    });
    interval = Math.min(interval * 2, opts.pollMaxMs);
  }
}
