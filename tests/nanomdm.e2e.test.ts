/**
 * Both processes end to end through the HTTP API with the NanoMDM adapter (MDM_KIND=nanomdm's port) on
 * real parts: the real NanoMDM server, simulated Apple devices speaking the MDM protocol to it, the worker
 * with the real activities, the Temporal dev server, PostgreSQL and the SMTP sink. The devices answer
 * NotNow before Acknowledged, or Error, as devices do.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiFor, TOKENS, type ApiHarness } from './support/apiHarness';
import type { DeviceProfile } from './support/appleDevice/agent';
import { dateInDays, newAssetNumber } from './support/fixtures';
import { startHarness, type Harness } from './support/lifecycleHarness';
import { startNanoMdmFixture, type NanoMdmFixture } from './support/nanomdmFixture';
import { SIGNATURE_PNG } from './support/pngFixture';

const WIFI: DeviceProfile = {
  identifier: 'com.example.wifi',
  displayName: 'Office Wi-Fi',
  payloadTypes: ['com.apple.wifi.managed'],
};

let f: NanoMdmFixture;
let h: Harness;
let api: ApiHarness;

beforeAll(async () => {
  f = await startNanoMdmFixture();
  h = await startHarness({ mdm: f.mdm });
  api = await startApiFor(h, { ADMIN_EMAILS: 'it-admins@example.com' });
});
afterAll(async () => {
  await api?.close();
  await h?.stop();
  await f?.close();
});

/** An enrolled, inventoried device and its asset, created through the API with the NanoMDM device id. */
async function enrolledAsset(options: Partial<Parameters<NanoMdmFixture['device']>[0]> = {}) {
  const assetNumber = newAssetNumber();
  const serialNumber = `C${randomInt(1e9, 9e9)}`;
  const device = await f.device({ serialNumber, profiles: [WIFI], ...options });
  await expect.poll(() => f.mdm.listProfiles(device.udid).catch(() => null)).not.toBeNull();
  const res = await api.call('POST', '/api/v1/assets', {
    token: TOKENS.admin,
    body: {
      assetNumber,
      serialNumber,
      model: 'iPhone 15',
      mdmDeviceId: device.udid,
      status: 'in_use',
      department: 'Sales',
      location: 'Tokyo HQ',
      userName: 'Xavier Old',
      userEmail: 'x.old@example.com',
      userPhone: '+81 3 1111 2222',
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { assetNumber, device };
}

async function workflow(id: string) {
  const res = await api.call('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function waitForStep(id: string, step: string) {
  await expect.poll(async () => (await workflow(id)).step).toBe(step);
}

async function report(id: string, event: string, data: Record<string, unknown> = {}) {
  const res = await api.call('POST', `/api/v1/workflows/${id}/events/${event}`, {
    token: TOKENS.field,
    body: { data },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Whether the adapter stored the device's CheckOut (the webhook event is posted once, never again). */
async function checkedOutSeen(udid: string): Promise<boolean> {
  const { rows } = await f.db.pool.query('SELECT checked_out_at FROM nanomdm_devices WHERE enrollment_id = $1', [udid]);
  return rows[0]?.checked_out_at != null;
}

async function events(assetNumber: string): Promise<string[]> {
  const res = await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer });
  return (res.body as { events: { type: string }[] }).events.map((e) => e.type);
}

describe('change device user with NanoMDM', () => {
  it('wipes by EraseDevice (the device first answers NotNow), forgets the enrolment, sees the device enrol again', async () => {
    const { assetNumber, device } = await enrolledAsset({ answers: { EraseDevice: ['NotNow', 'Acknowledged'] } });
    const start = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
      token: TOKENS.admin,
      body: {
        reason: 'Leaving the Sales team',
        plannedCollectionDate: dateInDays(7),
        storageLocation: 'Tokyo HQ IT store',
        newUser: { department: 'Engineering', location: 'Osaka', name: 'Yuki New', email: 'y.new@example.com' },
      },
    });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const id: string = start.body.workflowId;
    await waitForStep(id, 'awaiting-collection');
    await report(id, 'device-collected', { collectedBy: 'Bob Field', storageLocation: 'Shelf 3' });

    await waitForStep(id, 'awaiting-reenrollment');
    expect(device.handled.filter((c) => c.requestType === 'EraseDevice').map((c) => c.answer)).toEqual([
      'NotNow',
      'Acknowledged',
    ]);
    expect(device.erased).toBe(true);
    expect(await f.mdm.getDevice(device.udid)).toBeNull();

    // The erased iPhone is set up again and enrols (same UDID, a new identity certificate).
    const again = await f.device({ serialNumber: device.serialNumber, udid: device.udid, profiles: [WIFI] });
    await expect.poll(() => f.mdm.getDevice(again.udid).then((d) => d?.status)).toBe('active');
    await report(id, 'device-reenrolled', {});
    await waitForStep(id, 'awaiting-delivery');
    await report(id, 'device-delivered', { receivedBy: 'Yuki New', signature: SIGNATURE_PNG });
    await expect.poll(async () => (await workflow(id)).status).toBe('completed');

    const trail = await events(assetNumber);
    expect(trail).toEqual(
      expect.arrayContaining(['wipe-requested', 'wipe-finished', 'mdm-record-deleted', 'reenrollment-verified']),
    );
    const asset = (await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer })).body.asset;
    expect(asset).toMatchObject({ status: 'in_use', userName: 'Yuki New', mdmDeviceId: device.udid });
  });
});

describe('inactivate device with NanoMDM', () => {
  it('removes the profiles by command (no device-side tasks), verifies, and retires the asset', async () => {
    const { assetNumber, device } = await enrolledAsset({ answers: { RemoveProfile: ['NotNow', 'Acknowledged'] } });
    const start = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Contract ended' },
    });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const id: string = start.body.workflowId;
    await expect.poll(async () => (await workflow(id)).status).toBe('completed');

    expect(device.handled.slice(2).map((c) => `${c.requestType}:${c.answer}`)).toEqual([
      'ProfileList:Acknowledged',
      'RemoveProfile:NotNow',
      'RemoveProfile:Acknowledged',
      'ProfileList:Acknowledged',
      'RemoveProfile:Acknowledged',
    ]);
    expect(device.checkedOut).toBe(true);
    await expect.poll(() => checkedOutSeen(device.udid)).toBe(true);
    const asset = (await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer })).body.asset;
    expect(asset).toMatchObject({ status: 'retired', mdmDeviceId: null });
    const trail = await events(assetNumber);
    expect(trail).toContain('inactivation-requested');
    expect(trail).toContain('inactivation-completed');
    // No device-side task was opened: nobody was asked to remove profiles by hand.
    const tasks = await api.call('GET', '/api/v1/tasks?type=remove-profiles', { token: TOKENS.field });
    expect(tasks.body.items.map((t: { workflowId: string }) => t.workflowId)).not.toContain(id);
  });

  it('a device that answers RemoveProfile with Error: the failed job is recorded with the device error, and the retry completes', async () => {
    const { assetNumber, device } = await enrolledAsset({ answers: { RemoveProfile: ['Error', 'Acknowledged'] } });
    const start = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Contract ended' },
    });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const id: string = start.body.workflowId;
    // The workflow's failure path: the job failed, the device is still enrolled; it asks for the device to be
    // (re-)enrolled and then requests the inactivation again.
    await waitForStep(id, 'awaiting-reenrollment');
    const failed = await h.db.pool.query<{ details: { detail: string; deviceStatus: string } }>(
      "SELECT details FROM asset_events WHERE asset_number = $1 AND event_type = 'inactivation-job-failed'",
      [assetNumber],
    );
    expect(failed.rows).toHaveLength(1);
    expect(failed.rows[0]!.details.detail).toMatch(
      /^the MDM reports the inactivation job failed \(device_error: RemoveProfile answered Error: MCMDMErrorDomain 4001: /,
    );
    expect(failed.rows[0]!.details.deviceStatus).toBe('active');
    expect(device.checkedOut).toBe(false);

    await report(id, 'device-reenrolled', {});
    await expect.poll(async () => (await workflow(id)).status).toBe('completed');
    expect(device.handled.slice(2).map((c) => `${c.requestType}:${c.answer}`)).toEqual([
      'ProfileList:Acknowledged',
      'RemoveProfile:Error',
      'ProfileList:Acknowledged',
      'RemoveProfile:Acknowledged',
      'ProfileList:Acknowledged',
      'RemoveProfile:Acknowledged',
    ]);
    expect(device.checkedOut).toBe(true);
    await expect.poll(() => checkedOutSeen(device.udid)).toBe(true);
    const asset = (await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer })).body.asset;
    expect(asset).toMatchObject({ status: 'retired', mdmDeviceId: null });
  });
});
