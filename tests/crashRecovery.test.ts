/**
 * A crash anywhere resumes where it stopped: the worker is stopped mid-process (as a crash or a deploy
 * would), a report sent meanwhile is kept by Temporal, and a new worker carries on without repeating
 * what was done (one wipe command, one audit event per step).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as eventsRepo from '../db/assetEventsRepo';
import {
  CHANGE_USER_WORKFLOW,
  DEFAULT_TIMINGS,
  reportSignals,
  workflowIdFor,
  type ChangeUserInput,
  type HumanReport,
} from '../workflows/definitions';
import { startHarness, type Harness } from './support/lifecycleHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const field = { id: 'bob.field@example.com', role: 'field-staff' as const };
const report = (data: Record<string, unknown>) =>
  ({ actor: field, idempotencyKey: `k-${randomUUID()}`, data }) as HumanReport;

describe('worker crash and restart', () => {
  it('keeps reports sent while no worker runs, and resumes the wipe and its fallback timer without a second command', async () => {
    const assetNumber = `A-${String(Math.floor(Math.random() * 900000) + 100000)}`;
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const input: ChangeUserInput = {
      assetNumber,
      reason: 'Refresh',
      plannedCollectionDate: new Date(Date.now() + 86_400_000).toISOString(),
      storageLocation: 'Store',
      keepRecordAfterWipe: false,
      requestedBy: { id: 'admin@example.com', role: 'admin' },
      adminInCharge: { name: 'IT Admin', email: 'it@example.com', department: 'IT' },
      timings: { ...DEFAULT_TIMINGS, pollInitialMs: 100, pollMaxMs: 300, wipeAckTimeoutMs: 4_000 },
      newUser: { department: 'HR', location: 'Kyoto', name: 'New User', email: 'new.user@example.com' },
    };
    const handle = await h.client.workflow.start(CHANGE_USER_WORKFLOW, {
      taskQueue: h.taskQueue,
      workflowId: `${workflowIdFor(assetNumber)}-${randomUUID().slice(0, 6)}`,
      args: [input],
    });
    await h.waitForStep(handle, 'awaiting-collection');

    // The MDM never acknowledges this wipe; the worker goes down twice: waiting for a person, and while
    // the workflow polls the MDM (its fallback timer must survive the restart too).
    await h.emulator.addFault({ kind: 'stall-jobs', deviceId: mdmDeviceId });
    await h.restartWorker(async () => {
      await handle.signal(reportSignals['device-collected'], report({ collectedBy: 'Bob' }));
    });
    await h.waitForStep(handle, 'wiping', 30_000);
    await h.restartWorker();
    const waiting = await h.waitForState(handle, (s) => s.pendingTask?.type === 'confirm-wipe', 30_000);
    expect(waiting.step).toBe('wiping');
    await h.restartWorker(async () => {
      await handle.signal(reportSignals['wipe-confirmed'], report({ note: 'setup assistant on screen' }));
    });
    await h.waitForStep(handle, 'awaiting-reenrollment', 30_000);

    const wipes = (await h.emulator.jobs()).filter((j) => j.deviceId === mdmDeviceId && j.type === 'wipe');
    expect(wipes).toHaveLength(1);
    expect(wipes[0]).toMatchObject({ options: { keepEnrollmentData: false } });
    const types = (await eventsRepo.listForAsset(h.db.pool, assetNumber)).map((e) => e.eventType);
    expect(types).toEqual([
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
