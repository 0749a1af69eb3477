/**
 * Days pass in seconds: the official Java time-skipping test server runs the real workflow code while
 * reminders, escalations and the wipe-acknowledgement fallback come due.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as eventsRepo from '../db/assetEventsRepo';
import {
  CHANGE_USER_WORKFLOW,
  DEFAULT_TIMINGS,
  reportUpdates,
  stateQuery,
  workflowIdFor,
  type ChangeUserInput,
  type HumanReport,
} from '../workflows/definitions';
import { ADMIN_EMAILS, startHarness, type Harness } from './support/lifecycleHarness';

const DAY = 86_400_000;
const admin = { id: 'alice.admin@example.com', role: 'admin' as const };
const field = { id: 'bob.field@example.com', role: 'field-staff' as const };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ timeSkipping: true });
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

async function serverNow(): Promise<number> {
  return h.timeSkipping!.env.currentTimeMs();
}

function input(assetNumber: string, planned: number): ChangeUserInput {
  return {
    assetNumber,
    reason: 'Leaving the company',
    plannedCollectionDate: new Date(planned).toISOString(),
    storageLocation: 'IT store',
    keepRecordAfterWipe: true,
    requestedBy: admin,
    adminInCharge: { name: 'IT Admin', email: 'it-admin@example.com', department: 'IT' },
    timings: {
      ...DEFAULT_TIMINGS,
      reminderBeforeMs: DAY,
      escalateAfterMs: 2 * DAY,
      taskReminderEveryMs: 3 * DAY,
      wipeAckTimeoutMs: DAY,
    },
    newUser: { department: 'Sales', location: 'Nagoya', name: 'New Person', email: 'new.person@example.com' },
  };
}

async function noticeKinds(assetNumber: string): Promise<string[]> {
  return (await eventsRepo.listForAsset(h.db.pool, assetNumber))
    .filter((e) => e.eventType === 'notice-sent')
    .map((e) => String(e.details.kind));
}

describe('timers on a time-skipping Temporal server', () => {
  it('reminds the user before and at the planned date, then escalates to the admins when overdue', async () => {
    const assetNumber = `A-${String(Math.floor(Math.random() * 900000) + 100000)}`;
    await h.seedDevice({ assetNumber, userEmail: 'holder@example.com', userName: 'Current Holder' });
    const planned = (await serverNow()) + 7 * DAY;
    const handle = await h.client.workflow.start(CHANGE_USER_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: `${workflowIdFor(assetNumber)}-${randomUUID().slice(0, 6)}`,
      args: [input(assetNumber, planned)],
    });
    await h.waitForStep(handle, 'awaiting-collection');
    expect(await noticeKinds(assetNumber)).toEqual(['collection-notice']);

    await h.timeSkipping!.env.sleep(6 * DAY + 3_600_000); // one day before the planned date, plus an hour
    await expect.poll(() => noticeKinds(assetNumber), { timeout: 15_000 }).toEqual(['collection-notice', 'reminder']);
    const early = await h.mail.waitFor((m) => m.subject.startsWith('Reminder:') && m.to.includes('holder@example.com'));
    expect(early.subject).toContain(assetNumber);

    await h.timeSkipping!.env.sleep(DAY); // the planned date
    await expect
      .poll(() => noticeKinds(assetNumber), { timeout: 15_000 })
      .toEqual(['collection-notice', 'reminder', 'reminder']);

    await h.timeSkipping!.env.sleep(2 * DAY); // two days overdue: the admins hear about it
    await expect
      .poll(() => noticeKinds(assetNumber), { timeout: 15_000 })
      .toEqual(['collection-notice', 'reminder', 'reminder', 'escalation']);
    const escalation = await h.mail.waitFor((m) => m.subject.startsWith('Overdue:'));
    expect(escalation.to).toEqual(ADMIN_EMAILS);
    const state = await handle.query(stateQuery);
    expect(state.pendingTask).toMatchObject({ type: 'collect-device', remindersSent: 2, escalated: true });
    await handle.terminate('test done');
  });

  it('falls back to a human wipe-confirmed report when the MDM never acknowledges the erase', async () => {
    const assetNumber = `A-${String(Math.floor(Math.random() * 900000) + 100000)}`;
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    await h.emulator.addFault({ kind: 'stall-jobs', deviceId: mdmDeviceId });
    const handle = await h.client.workflow.start(CHANGE_USER_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: `${workflowIdFor(assetNumber)}-${randomUUID().slice(0, 6)}`,
      args: [input(assetNumber, (await serverNow()) + DAY)],
    });
    await h.waitForStep(handle, 'awaiting-collection');
    const collected: HumanReport = {
      actor: field,
      idempotencyKey: `k-${randomUUID()}`,
      data: { collectedBy: 'Bob' },
    } as HumanReport;
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [collected] });
    await h.waitForStep(handle, 'wiping');

    await h.timeSkipping!.env.sleep(DAY + 60_000);
    const waiting = await h.waitForState(handle, (s) => s.pendingTask?.type === 'confirm-wipe', 30_000);
    expect(waiting.step).toBe('wiping');
    expect(waiting.pendingTask?.expects).toEqual(['wipe-confirmed']);
    const confirmed: HumanReport = {
      actor: field,
      idempotencyKey: `k-${randomUUID()}`,
      data: { note: 'screen shows the setup assistant' },
    } as HumanReport;
    const ack = await handle.executeUpdate(reportUpdates['wipe-confirmed'], { args: [confirmed] });
    expect(ack.step).toBe('removing-from-mdm');
    await h.waitForStep(handle, 'awaiting-reenrollment');
    const types = (await eventsRepo.listForAsset(h.db.pool, assetNumber)).map((e) => e.eventType);
    expect(types).toContain('wipe-confirmed');
    expect(types).not.toContain('wipe-finished');
    await handle.terminate('test done');
  });
});
