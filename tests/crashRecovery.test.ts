/**
 * A crash anywhere resumes where it stopped: the worker is stopped mid-process (as a crash or a deploy
 * would), a report sent meanwhile is kept by Temporal, and a new worker carries on without repeating
 * what was done (one wipe command, one audit event per step).
 */
import { describe, expect, it } from 'vitest';
import { reportSignals } from '../workflows/definitions';
import { changeUserInput, FAST_TIMINGS, newAssetNumber, report } from './support/fixtures';
import { useHarness } from './support/suite';

const h = useHarness();

describe('worker crash and restart', () => {
  it('keeps reports sent while no worker runs, and resumes the wipe and its fallback timer without a second command', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const handle = await h.startChangeUser(
      changeUserInput(assetNumber, {
        keepRecordAfterWipe: false,
        timings: { ...FAST_TIMINGS, wipeAckTimeoutMs: 4_000 },
      }),
    );
    await h.waitForStep(handle, 'awaiting-collection');

    // The MDM never acknowledges this wipe; the worker goes down twice: waiting for a person, and while
    // the workflow polls the MDM (its fallback timer must survive the restart too).
    await h.emulator.addFault({ kind: 'stall-jobs', deviceId: mdmDeviceId });
    await h.restartWorker(async () => {
      await handle.signal(reportSignals['device-collected'], report({ collectedBy: 'Bob' }));
    });
    await h.waitForStep(handle, 'wiping');
    await h.restartWorker();
    const waiting = await h.waitForState(handle, (s) => s.pendingTask?.type === 'confirm-wipe');
    expect(waiting.step).toBe('wiping');
    await h.restartWorker(async () => {
      await handle.signal(reportSignals['wipe-confirmed'], report({ note: 'setup assistant on screen' }));
    });
    await h.waitForStep(handle, 'awaiting-reenrollment');

    const wipes = (await h.emulator.jobs()).filter((j) => j.deviceId === mdmDeviceId && j.type === 'wipe');
    expect(wipes).toHaveLength(1);
    expect(wipes[0]).toMatchObject({ options: { keepEnrollmentData: false } });
    expect(await h.eventTypes(assetNumber)).toEqual([
      'collection-scheduled',
      'notice-sent',
      'device-collected',
      'returned-to-stock',
      'wipe-requested',
      'wipe-confirmed',
      'mdm-record-deleted',
    ]);
    await handle.terminate('test done');
  });
});
