/**
 * The distribution list shows exactly the devices assigned and not yet delivered, whichever way the process
 * assigned them (DESIGN 3.3, issue 11 item 1). Real processes through the HTTP API on real parts (worker,
 * Temporal dev server, PostgreSQL, MDM emulator); no row is seeded by hand but the devices themselves:
 * - a change-user started with `newUser` is on the list from `awaiting-delivery` (not before) until the
 *   delivery is reported;
 * - one assigned by a `user-assigned` report with user details is on it until the process is cancelled.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../api/csv';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { newAssetNumber } from './support/fixtures';
import { PATIENCE_MS } from './support/patience';
import { SIGNATURE_PNG } from './support/pngFixture';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

const started: string[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
});

const NEW_USER = {
  department: '開発部',
  location: '大阪支社',
  name: '山本 陽菜',
  email: 'hina.yamamoto@example.com',
  phone: '06-3333-4444',
};

/** The distribution list CSV as rows (header left off). */
async function distributionList(): Promise<string[][]> {
  const res = await fetch(`${api.baseUrl}/api/v1/reports/distribution-list.csv`, {
    headers: { authorization: `Bearer ${TOKENS.viewer}` },
  });
  expect(res.status).toBe(200);
  return parseCsv(Buffer.from(await res.arrayBuffer()).toString('utf8'))
    .map((r) => r.fields)
    .slice(1);
}

const listed = async (assetNumber: string) => (await distributionList()).filter((r) => r[0] === assetNumber);

const report = (workflowId: string, event: string, data: unknown, token: string = TOKENS.field) =>
  api.call('POST', `/api/v1/workflows/${workflowId}/events/${event}`, { token, body: { data } });

/** Collects the device and re-enrols it, as the field staff and the device would, up to `until`. */
async function collectAndReenrol(assetNumber: string, mdmDeviceId: string, until: string) {
  const id = workflowIdFor(assetNumber);
  const handle = api.temporal.workflow.getHandle(id);
  expect((await report(id, 'device-collected', { collectedBy: 'Bob Field' })).status).toBe(200);
  await h.waitForStep(handle, 'awaiting-reenrollment');
  await h.emulator.reEnroll(mdmDeviceId);
  const reenrolled = await report(id, 'device-reenrolled', {});
  expect(reenrolled.status, JSON.stringify(reenrolled.body)).toBe(200);
  await h.waitForStep(handle, until as never);
  return handle;
}

const expectedRow = (assetNumber: string) => [
  assetNumber,
  NEW_USER.department,
  NEW_USER.location,
  NEW_USER.name,
  NEW_USER.email,
  NEW_USER.phone,
];

describe('the distribution list', () => {
  it('lists a device assigned from newUser while it waits for delivery, and no longer once delivered', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const handle = await startChangeUserThroughApi(h, api, assetNumber, { newUser: NEW_USER });
    started.push(handle.workflowId);
    // Not assigned yet: not on the list.
    expect(await listed(assetNumber)).toEqual([]);

    await collectAndReenrol(assetNumber, mdmDeviceId, 'awaiting-delivery');
    await expect.poll(() => listed(assetNumber), { timeout: PATIENCE_MS }).toEqual([expectedRow(assetNumber)]);

    const delivered = await report(handle.workflowId, 'device-delivered', {
      receivedBy: NEW_USER.name,
      signature: SIGNATURE_PNG,
    });
    expect(delivered.status, JSON.stringify(delivered.body)).toBe(200);
    await h.waitForStep(handle, 'completed');
    expect(await listed(assetNumber)).toEqual([]);
  });

  it('lists a device assigned by a user-assigned report with user details, and no longer once cancelled', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    started.push(handle.workflowId);

    await collectAndReenrol(assetNumber, mdmDeviceId, 'awaiting-assignment');
    expect(await listed(assetNumber)).toEqual([]);
    const assigned = await report(handle.workflowId, 'user-assigned', { user: NEW_USER }, TOKENS.admin);
    expect(assigned.status, JSON.stringify(assigned.body)).toBe(200);
    await h.waitForStep(handle, 'awaiting-delivery');
    await expect.poll(() => listed(assetNumber), { timeout: PATIENCE_MS }).toEqual([expectedRow(assetNumber)]);

    const cancelled = await api.call('POST', `/api/v1/workflows/${handle.workflowId}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'the new user left before delivery' },
    });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    await h.waitForState(handle, (s) => s.status === 'cancelled');
    await expect.poll(() => listed(assetNumber), { timeout: PATIENCE_MS }).toEqual([]);
  });
});
