/**
 * Pacing on real parts (issue 10): 50 forced inactivations run against the MDM emulator limited to N calls
 * per sliding window, with the service's limiter (mdm/pacing.ts, on PostgreSQL) set to the same N per
 * window. The MDM answers no 429, every process completes with one command each, and the demand was well
 * above the limit: callers had to wait for slots, and the same MDM throttles an unpaced burst.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { expect, it } from 'vitest';
import { MdmRateLimitedError } from '../mdm/errors';
import { createHttpMdm } from '../mdm/httpAdapter';
import type { MdmCallKind } from '../mdm/pacing';
import { stateQuery, type LifecycleState } from '../workflows/definitions';
import { inactivationInput, newAssetNumber, PATIENCE_MS } from './support/fixtures';
import { MDM_KEY } from './support/lifecycleHarness';
import { useHarness } from './support/suite';

const RATE = { calls: 20, windowMs: 2_000 };
const PROCESSES = 50;

const waits: Array<{ kind: MdmCallKind; waitMs: number }> = [];
const h = useHarness({ mdmPacing: { all: RATE, writes: null, onWait: (e) => waits.push(e) } });

/** The results of every process; past the deadline, an error saying where the unfinished ones are. */
async function results(handles: WorkflowHandle[], timeoutMs: number): Promise<LifecycleState[]> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  try {
    const all = Promise.all(handles.map((handle) => handle.result() as Promise<LifecycleState>));
    const outcome = await Promise.race([all, deadline]);
    if (outcome !== 'late') return outcome;
  } finally {
    clearTimeout(timer);
  }
  const states = await Promise.all(handles.map((handle) => handle.query(stateQuery).catch(() => undefined)));
  const open = states.filter((s) => s?.status !== 'completed');
  const where = open.map((s) => (s ? `${s.step}${s.lastError ? ` (${s.lastError})` : ''}` : 'unknown'));
  throw new Error(
    `${open.length} of ${handles.length} processes unfinished after ${timeoutMs} ms: ${where.join('; ')}`,
  );
}

/** The most requests in any window of `windowMs` ending at one of them (a sliding window). */
function mostPerWindow(times: number[], windowMs: number): number {
  return Math.max(0, ...times.map((t) => times.filter((o) => o <= t && o > t - windowMs).length));
}

it(`runs ${PROCESSES} forced inactivations against an MDM allowing ${RATE.calls} calls per ${RATE.windowMs} ms without a 429`, async () => {
  await h.emulator.setRateLimit({ calls: RATE.calls, windowSeconds: RATE.windowMs / 1000, retryAfter: true });
  await h.emulator.clearRequests();

  const assets = Array.from({ length: PROCESSES }, () => newAssetNumber());
  await Promise.all(assets.map((assetNumber) => h.seedDevice({ assetNumber })));
  const handles = await Promise.all(
    assets.map((asset) =>
      h.startInactivation(inactivationInput(asset, { forced: true, acknowledgeProfileStays: true })),
    ),
  );
  // At least the seeding, the sending and the deletion, paced: a floor added to the usual patience.
  const pacedFloorMs = Math.ceil((3 * PROCESSES) / RATE.calls) * RATE.windowMs;
  const finals = await results(handles, PATIENCE_MS + pacedFloorMs);
  expect(finals.map((s) => s.status)).toEqual(assets.map(() => 'completed'));

  const requests = await h.emulator.requests();
  const throttle = await h.emulator.rateLimit();
  expect(requests.filter((r) => r.status === 429)).toEqual([]);
  expect(throttle).toMatchObject({ rejected: 0, accepted: requests.length });
  expect(
    mostPerWindow(
      requests.map((r) => Date.parse(r.at)),
      RATE.windowMs,
    ),
  ).toBeLessThanOrEqual(RATE.calls);
  const inactivations = (await h.emulator.jobs()).filter((j) => j.type === 'inactivate');
  expect(inactivations).toHaveLength(PROCESSES);

  // The limit mattered: many windows' worth of calls, callers held back, and the run took at least as long
  // as the MDM allows that many calls.
  expect(requests.length).toBeGreaterThan(5 * RATE.calls);
  expect(waits.length).toBeGreaterThan(0);
  const times = requests.map((r) => Date.parse(r.at));
  expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(
    (Math.ceil(requests.length / RATE.calls) - 1) * RATE.windowMs,
  );

  // And the MDM's limit was on: the same number of calls unpaced would have been throttled.
  const unpaced = createHttpMdm({ baseUrl: h.emulatorUrl, apiKey: MDM_KEY, timeoutMs: 5_000, maxAttempts: 1 });
  const burst = await Promise.allSettled(
    Array.from({ length: RATE.calls + 5 }, () => unpaced.findDevices({ serialNumber: 'SN-none' })),
  );
  const throttled = burst.filter((r) => r.status === 'rejected' && r.reason instanceof MdmRateLimitedError);
  expect(throttled.length).toBeGreaterThan(0);
  expect((await h.emulator.rateLimit()).rejected).toBe(throttled.length);
});
