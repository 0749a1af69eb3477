/**
 * Days pass in seconds: the official Java time-skipping test server runs the real workflow code while
 * reminders, escalations and the wipe-acknowledgement fallback come due.
 */
import { describe, expect, it } from 'vitest';
import * as eventsRepo from '../db/assetEventsRepo';
import { DEFAULT_TIMINGS, reportUpdates, stateQuery, type ChangeUserInput } from '../workflows/definitions';
import { admin, changeUserInput, DAY_MS as DAY, newAssetNumber, report } from './support/fixtures';
import { ADMIN_EMAILS } from './support/lifecycleHarness';
import { useHarness } from './support/suite';

const h = useHarness({ timeSkipping: true });

async function serverNow(): Promise<number> {
  return h.timeSkipping!.env.currentTimeMs();
}

/** Reminders a day before the planned date and on it, escalation two days after, the wipe fallback after a day. */
function input(assetNumber: string, planned: number): ChangeUserInput {
  return changeUserInput(assetNumber, {
    plannedCollectionDate: new Date(planned).toISOString(),
    timings: {
      ...DEFAULT_TIMINGS,
      reminderBeforeMs: DAY,
      escalateAfterMs: 2 * DAY,
      taskReminderEveryMs: 3 * DAY,
      wipeAckTimeoutMs: DAY,
    },
  });
}

async function noticeKinds(assetNumber: string): Promise<string[]> {
  return (await eventsRepo.listForAsset(h.db.pool, assetNumber))
    .filter((e) => e.eventType === 'notice-sent')
    .map((e) => String(e.details.kind));
}

describe('timers on a time-skipping Temporal server', () => {
  it('reminds the user before and at the planned date, then escalates to the admins when overdue', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber, userEmail: 'holder@example.com', userName: 'Current Holder' });
    const planned = (await serverNow()) + 7 * DAY;
    const handle = await h.startChangeUser(input(assetNumber, planned));
    await h.waitForStep(handle, 'awaiting-collection');
    expect(await noticeKinds(assetNumber)).toEqual(['collection-notice']);

    await h.timeSkipping!.env.sleep(6 * DAY + 3_600_000); // one day before the planned date, plus an hour
    await expect.poll(() => noticeKinds(assetNumber)).toEqual(['collection-notice', 'reminder']);
    const early = await h.mail.waitFor((m) => m.subject.startsWith('Reminder:') && m.to.includes('holder@example.com'));
    expect(early.subject).toContain(assetNumber);

    await h.timeSkipping!.env.sleep(DAY); // the planned date
    await expect.poll(() => noticeKinds(assetNumber)).toEqual(['collection-notice', 'reminder', 'reminder']);

    await h.timeSkipping!.env.sleep(2 * DAY); // two days overdue: the admins hear about it
    await expect
      .poll(() => noticeKinds(assetNumber))
      .toEqual(['collection-notice', 'reminder', 'reminder', 'escalation']);
    const escalation = await h.mail.waitFor((m) => m.subject.startsWith('Overdue:'));
    expect(escalation.to).toEqual(ADMIN_EMAILS);
    const state = await handle.query(stateQuery);
    expect(state.pendingTask).toMatchObject({ type: 'collect-device', remindersSent: 2, escalated: true });
    await handle.terminate('test done');
  });

  it('falls back to a human wipe-confirmed report when the MDM never acknowledges the erase', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    await h.emulator.addFault({ kind: 'stall-jobs', deviceId: mdmDeviceId });
    const handle = await h.startChangeUser(input(assetNumber, (await serverNow()) + DAY));
    await h.waitForStep(handle, 'awaiting-collection');
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] });
    await h.waitForStep(handle, 'wiping');

    await h.timeSkipping!.env.sleep(DAY + 60_000);
    const waiting = await h.waitForState(handle, (s) => s.pendingTask?.type === 'confirm-wipe');
    expect(waiting.step).toBe('wiping');
    expect(waiting.pendingTask?.expects).toEqual(['wipe-confirmed']);
    const ack = await handle.executeUpdate(reportUpdates['wipe-confirmed'], {
      args: [report({ note: 'screen shows the setup assistant' }, admin)], // admin-only (who-reports-1)
    });
    expect(ack.step).toBe('removing-from-mdm');
    await h.waitForStep(handle, 'awaiting-reenrollment');
    const types = await h.eventTypes(assetNumber);
    expect(types).toContain('wipe-confirmed');
    expect(types).not.toContain('wipe-finished');
    await handle.terminate('test done');
  });
});
