/**
 * A process whose MDM call finds no slot within the limiter's wait limit (another replica used the window
 * up) gets the limiter's MdmRateLimitedError as weather: the workflow says so in its state, waits at least
 * until the slot frees, tries again and completes. The MDM, limited like the service, answers no 429.
 */
import { expect, it } from 'vitest';
import { createMdmCallLimiter, type MdmPacingOptions } from '../mdm/pacing';
import type { LifecycleState } from '../workflows/definitions';
import { inactivationInput, newAssetNumber } from './support/fixtures';
import { useHarness } from './support/suite';

const RATE = { calls: 3, windowMs: 5_000 };
const PACING: MdmPacingOptions = { all: RATE, writes: null, maxWaitMs: 1_000 };

const h = useHarness({ mdmPacing: PACING });

it('waits out a pacing wait past the limit as MDM weather, and completes without a 429', async () => {
  await h.emulator.setRateLimit({ calls: RATE.calls, windowSeconds: RATE.windowMs / 1000 });
  const asset = newAssetNumber();
  await h.seedDevice({ assetNumber: asset }); // one slot
  // Another replica takes the rest of the window.
  const otherReplica = createMdmCallLimiter(h.db.pool, PACING);
  for (let i = 1; i < RATE.calls; i++) await (await otherReplica.acquire('read')).release();

  const handle = await h.startInactivation(inactivationInput(asset, { forced: true, acknowledgeProfileStays: true }));
  const waiting = await h.waitForState(handle, (s) => s.mdmWeather !== undefined);
  expect(waiting.mdmWeather?.error).toMatch(/MDM pacing: no free slot/);
  const { since, nextTryAt } = waiting.mdmWeather!;
  // At least until the slot frees (the window after the other replica's calls), not a quick retry.
  expect(Date.parse(nextTryAt) - Date.parse(since)).toBeGreaterThanOrEqual(RATE.windowMs - PACING.maxWaitMs!);

  const final: LifecycleState = await handle.result();
  expect(final.status).toBe('completed');
  expect(final.mdmWeather).toBeUndefined();
  expect(await h.emulator.rateLimit()).toMatchObject({ rejected: 0 });
  expect((await h.emulator.requests()).filter((r) => r.status === 429)).toEqual([]);
});
