/**
 * lean-2 on real parts (worker, Temporal dev server, PostgreSQL, MDM emulator, API): GET /workflows/{id}
 * never needs the workflow's state query for a change-user, because the search attributes never show it
 * waiting for a person without its task's row in the task index. Held open on purpose here:
 * - the re-enrolment task's row is being written (its openTask activity waits for a table lock the test
 *   holds): the step does not show yet;
 * - the re-enrolment report was taken and the MDM check runs (the emulator answers the lookup slowly): the
 *   taken task no longer shows, though the step is still `awaiting-reenrollment`.
 * The view says where its data came from (`sources`); `workflow-state` means the workflow was queried.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { NEW_USER, newAssetNumber } from './support/fixtures';
import { PATIENCE_MS } from './support/patience';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

interface View {
  step?: string;
  awaitingTask?: string | null;
  pendingTask?: { type?: string; step?: string } | null;
  pendingActivities?: { activityType?: string }[];
  sources: string[];
}

async function view(workflowId: string): Promise<View> {
  const res = await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.field });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as View;
}

/** Polls the view until `ok` holds; every view seen on the way must not have queried the workflow. */
async function viewUntil(workflowId: string, ok: (v: View) => boolean, what: string): Promise<View> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const v = await view(workflowId);
    expect(v.sources, `while waiting for ${what}: ${JSON.stringify(v)}`).not.toContain('workflow-state');
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${PATIENCE_MS} ms: ${JSON.stringify(v)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const pending = (v: View, activity: string) => (v.pendingActivities ?? []).some((a) => a.activityType === activity);

async function report(workflowId: string, event: string, data: Record<string, unknown>) {
  const res = await api.call('POST', `/api/v1/workflows/${workflowId}/events/${event}`, {
    token: TOKENS.field,
    body: { data },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

describe('the workflow view answers without querying the workflow (lean-2)', () => {
  it('while a task row is being written and while a taken task is followed by the MDM check', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const workflowId = workflowIdFor(assetNumber);
    await startChangeUserThroughApi(h, api, assetNumber, { newUser: NEW_USER });
    const atCollection = await view(workflowId);
    expect(atCollection).toMatchObject({ step: 'awaiting-collection', awaitingTask: 'collect-device' });
    expect(atCollection.sources).toContain('task-index');

    // Hold the task index (reads still pass) once the wipe is under way, so the re-enrolment task's row
    // cannot be written.
    await report(workflowId, 'device-collected', { collectedBy: 'Bob Field', storageLocation: 'Shelf 3' });
    await viewUntil(workflowId, (v) => v.step === 'wiping' || v.step === 'removing-from-mdm', 'the wipe');
    const locker: pg.PoolClient = await h.db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE open_tasks IN EXCLUSIVE MODE');
      const opening = await viewUntil(workflowId, (v) => pending(v, 'openTask'), 'the openTask activity');
      expect(opening.step).not.toBe('awaiting-reenrollment');
      expect(opening.awaitingTask ?? null).toBeNull();
      expect(opening.pendingTask ?? null).toBeNull();
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    const open = await viewUntil(workflowId, (v) => v.awaitingTask === 'reenroll-device', 'the re-enrolment task');
    expect(open).toMatchObject({ step: 'awaiting-reenrollment', pendingTask: { type: 'reenroll-device' } });
    expect(open.sources).toContain('task-index');

    // The MDM check of the re-enrolment takes a while: the taken task does not show meanwhile.
    const { newDeviceId } = await h.emulator.reEnroll(mdmDeviceId);
    await h.emulator.addFault({ kind: 'latency', ms: 4_000, count: 1, method: 'GET', pathPrefix: '/devices' });
    try {
      await report(workflowId, 'device-reenrolled', { mdmDeviceId: newDeviceId });
      const checking = await viewUntil(workflowId, (v) => pending(v, 'verifyEnrollment'), 'the MDM check');
      expect(checking.step).toBe('awaiting-reenrollment');
      expect(checking.awaitingTask ?? null).toBeNull();
      expect(checking.pendingTask ?? null).toBeNull();
    } finally {
      await h.emulator.clearFaults();
    }
    await viewUntil(workflowId, (v) => v.awaitingTask === 'deliver-device', 'the delivery task');
  });
});
