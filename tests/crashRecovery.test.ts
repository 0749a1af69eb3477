/**
 * A crash anywhere resumes where it stopped: the worker is stopped mid-process (as a crash or a deploy
 * would), a report sent meanwhile is kept by Temporal, and a new worker carries on without repeating
 * what was done (one wipe command, one audit event per step).
 */
import { describe, expect, it } from 'vitest';
import { reportSignals, reportUpdates } from '../workflows/definitions';
import { admin, changeUserInput, FAST_TIMINGS, newAssetNumber, report } from './support/fixtures';
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
    // wipe-confirmed is admin-only and never taken from a Signal (who-reports-1): an admin's Update sent
    // while no worker runs is answered once one is back.
    let confirmed: Promise<unknown> | undefined;
    await h.restartWorker(async () => {
      confirmed = handle.executeUpdate(reportUpdates['wipe-confirmed'], {
        args: [report({ note: 'setup assistant on screen' }, admin)],
      });
    });
    await confirmed;
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
