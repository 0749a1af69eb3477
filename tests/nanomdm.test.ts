/**
 * The NanoMDM adapter against the real NanoMDM server (v0.9.0, built by `npm run tools`) and simulated
 * Apple devices that speak the MDM protocol to it: enrolment seen through the webhook, a wipe the device
 * acknowledges, a command answered Error (failed job with the device's error chain), NotNow (pending,
 * then done), the profile inventory, the inactivation by RemoveProfile commands, idempotent sends, and
 * NanoMDM unreachable or refusing.
 */
import { randomUUID } from 'node:crypto';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/env';
import { createMdmPort, MdmSettingsError } from '../mdm/createMdmPort';
import { MdmNotFoundError, MdmRejectedError, MdmUnavailableError } from '../mdm/errors';
import { createNanoMdm } from '../mdm/nanomdm/adapter';
import { createNanoMdmApi } from '../mdm/nanomdm/api';
import { ENROLMENT_PROFILE, type DeviceProfile, type SimulatedAppleDevice } from './support/appleDevice/agent';
import { startNanoMdmFixture, type NanoMdmFixture } from './support/nanomdmFixture';

const WIFI: DeviceProfile = {
  identifier: 'com.example.wifi',
  displayName: 'Office Wi-Fi',
  payloadTypes: ['com.apple.wifi.managed'],
};
const VPN: DeviceProfile = {
  identifier: 'com.example.vpn',
  displayName: 'Office VPN',
  payloadTypes: ['com.apple.vpn.managed'],
};

let f: NanoMdmFixture;
let serial = 0;

beforeAll(async () => {
  f = await startNanoMdmFixture();
});
afterAll(async () => {
  await f?.close();
});

/** An enrolled device whose enrolment inventory (DeviceInformation, ProfileList) has arrived. */
async function enrolled(options: Partial<Parameters<NanoMdmFixture['device']>[0]> = {}): Promise<SimulatedAppleDevice> {
  serial += 1;
  const device = await f.device({ serialNumber: `NANO${serial}`, profiles: [WIFI], ...options });
  await expect.poll(() => f.mdm.listProfiles(device.udid).catch(() => null)).not.toBeNull();
  return device;
}

const statusOf = (deviceId: string, idempotencyKey: string) =>
  f.mdm.getCommandStatus({ deviceId, idempotencyKey }).then((s) => s?.status);

describe('NanoMDM adapter on the real NanoMDM server', () => {
  it('sees an enrolment through the webhook: the device by id and serial, its profiles from ProfileList', async () => {
    const device = await enrolled({ profiles: [WIFI, VPN] });
    const seen = await f.mdm.getDevice(device.udid);
    expect(seen).toMatchObject({
      id: device.udid,
      serialNumber: device.serialNumber,
      status: 'active',
      inactivationForced: false,
    });
    expect(await f.mdm.findDevices({ serialNumber: device.serialNumber })).toEqual([seen]);
    expect(await f.mdm.findDevices({ serialNumber: 'NO-SUCH-SERIAL' })).toEqual([]);
    expect(await f.mdm.listProfiles(device.udid)).toEqual([
      { identifier: ENROLMENT_PROFILE.identifier, kind: 'mdm', name: ENROLMENT_PROFILE.displayName },
      { identifier: WIFI.identifier, kind: 'configuration', name: WIFI.displayName },
      { identifier: VPN.identifier, kind: 'configuration', name: VPN.displayName },
    ]);
    expect(device.handled.map((h) => h.requestType).sort()).toEqual(['DeviceInformation', 'ProfileList']);
    const bound = await f.mdm.registerDevice({
      serialNumber: device.serialNumber,
      assetNumber: 'A-NANO-1',
      model: 'x',
      idempotencyKey: 'k',
    });
    expect(bound).toMatchObject({ id: device.udid, assetNumber: 'A-NANO-1' });
    expect(f.mdm.capabilities).toEqual({ profileRemoval: 'command', cancelCommands: false });
  });

  it('wipe: EraseDevice acknowledged by the device -> succeeded, device wiped; sent once per key', async () => {
    const device = await enrolled();
    const sent = await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'wipe-1',
      type: 'wipe',
      options: { keepEnrollmentData: true },
    });
    expect(sent).toMatchObject({ deviceId: device.udid, type: 'wipe', idempotencyKey: 'wipe-1' });
    expect(['queued', 'acknowledged', 'succeeded']).toContain(sent.status);
    const again = await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'wipe-1',
      type: 'wipe',
      options: { keepEnrollmentData: true },
    });
    expect(again.jobId).toBe(sent.jobId);
    await expect.poll(() => statusOf(device.udid, 'wipe-1')).toBe('succeeded');
    expect(
      await f.mdm.getCommandStatus({ deviceId: device.udid, jobId: sent.jobId, idempotencyKey: 'x' }),
    ).toMatchObject({ status: 'succeeded' });
    expect(device.erased).toBe(true);
    expect(device.handled.filter((h) => h.requestType === 'EraseDevice')).toHaveLength(1);
    expect((await f.mdm.getDevice(device.udid))?.status).toBe('wiped');
    expect(await f.mdm.listCommands(device.udid)).toHaveLength(1);
    // Erased: it takes no more commands.
    await expect(
      f.mdm.sendCommand({
        deviceId: device.udid,
        idempotencyKey: 'wipe-2',
        type: 'wipe',
        options: { keepEnrollmentData: true },
      }),
    ).rejects.toBeInstanceOf(MdmRejectedError);
  });

  it('a wipe without keepEnrollmentData forgets the enrolment once the device acknowledged', async () => {
    const device = await enrolled();
    await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'wipe-forget',
      type: 'wipe',
      options: { keepEnrollmentData: false },
    });
    await expect.poll(() => f.mdm.getDevice(device.udid)).toBeNull();
    expect(await f.mdm.findDevices({ serialNumber: device.serialNumber })).toEqual([]);
  });

  it('a device answering Error -> failed job carrying the error chain; the device is unchanged', async () => {
    const device = await enrolled({ answers: { EraseDevice: ['Error'] } });
    await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'wipe-err',
      type: 'wipe',
      options: { keepEnrollmentData: true },
    });
    await expect.poll(() => statusOf(device.udid, 'wipe-err')).toBe('failed');
    const status = await f.mdm.getCommandStatus({ deviceId: device.udid, idempotencyKey: 'wipe-err' });
    expect(status?.error).toEqual({
      code: 'device_error',
      message: 'EraseDevice answered Error: MCMDMErrorDomain 4001: The device refused EraseDevice.',
    });
    expect(device.erased).toBe(false);
    expect((await f.mdm.getDevice(device.udid))?.status).toBe('active');
  });

  it('NotNow -> still pending; the device is asked again and its Acknowledged finishes the job', async () => {
    const device = await enrolled({ answers: { EraseDevice: ['NotNow', 'NotNow', 'Acknowledged'] } });
    await device.stop(); // step by hand to see the pending state between answers
    await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'wipe-notnow',
      type: 'wipe',
      options: { keepEnrollmentData: true },
    });
    expect((await device.poll()).map((h) => h.answer)).toEqual(['NotNow']);
    await expect
      .poll(() => f.db.pool.query("SELECT 1 FROM nanomdm_results WHERE status = 'NotNow'").then((r) => r.rowCount))
      .toBe(1);
    expect(await statusOf(device.udid, 'wipe-notnow')).toBe('queued');
    expect((await device.poll()).map((h) => h.answer)).toEqual(['NotNow']);
    expect((await device.poll()).map((h) => h.answer)).toEqual(['Acknowledged']);
    await expect.poll(() => statusOf(device.udid, 'wipe-notnow')).toBe('succeeded');
  });

  it('a second command of a type while one is open is refused as command_pending', async () => {
    const device = await enrolled({ answers: { EraseDevice: ['NotNow'] } });
    await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'open-1',
      type: 'wipe',
      options: { keepEnrollmentData: true },
    });
    await expect(
      f.mdm.sendCommand({
        deviceId: device.udid,
        idempotencyKey: 'open-2',
        type: 'wipe',
        options: { keepEnrollmentData: true },
      }),
    ).rejects.toMatchObject({ mdmCode: 'command_pending' });
  });

  it('inactivation: RemoveProfile of each configuration profile, verified by ProfileList, then of the enrolment profile; the device checks out', async () => {
    const device = await enrolled({ profiles: [WIFI, VPN] });
    const sent = await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'inact-1',
      type: 'inactivate',
      options: { forced: false },
    });
    await expect.poll(() => statusOf(device.udid, 'inact-1')).toBe('succeeded');
    expect(sent.jobId).toBeDefined();
    const sequence = device.handled.map((h) => h.requestType).slice(2); // after the enrolment inventory
    expect(sequence).toEqual(['ProfileList', 'RemoveProfile', 'RemoveProfile', 'ProfileList', 'RemoveProfile']);
    expect(device.profiles).toEqual([]);
    await expect.poll(() => f.mdm.getDevice(device.udid).then((d) => d?.status)).toBe('inactive');
    expect(await f.mdm.listProfiles(device.udid)).toEqual([]);
    await expect
      .poll(() =>
        f.db.pool
          .query('SELECT checked_out_at FROM nanomdm_devices WHERE enrollment_id = $1', [device.udid])
          .then((r) => r.rows[0]?.checked_out_at),
      )
      .not.toBeNull();
    expect(device.checkedOut).toBe(true);
  });

  it('inactivation fails with the chain when the device refuses to remove a profile', async () => {
    const device = await enrolled({ answers: { RemoveProfile: ['Error'] } });
    await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'inact-err',
      type: 'inactivate',
      options: { forced: false },
    });
    await expect.poll(() => statusOf(device.udid, 'inact-err')).toBe('failed');
    const status = await f.mdm.getCommandStatus({ deviceId: device.udid, idempotencyKey: 'inact-err' });
    expect(status?.error?.message).toMatch(/^RemoveProfile answered Error: MCMDMErrorDomain 4001/);
    expect((await f.mdm.getDevice(device.udid))?.status).toBe('active');
    expect(device.profiles.map((p) => p.identifier)).toContain(WIFI.identifier);
  });

  it('forced inactivation sends nothing to the device; deleteDevice forgets the enrolment once', async () => {
    const device = await enrolled();
    const before = device.handled.length;
    const sent = await f.mdm.sendCommand({
      deviceId: device.udid,
      idempotencyKey: 'forced',
      type: 'inactivate',
      options: { forced: true },
    });
    expect(sent.status).toBe('succeeded');
    expect(await f.mdm.getDevice(device.udid)).toMatchObject({ status: 'inactive', inactivationForced: true });
    expect(device.handled.length).toBe(before);
    expect(await f.mdm.deleteDevice(device.udid, 'del')).toEqual({ deviceId: device.udid, alreadyGone: false });
    expect(await f.mdm.deleteDevice(device.udid, 'del')).toEqual({ deviceId: device.udid, alreadyGone: true });
    expect(await f.mdm.getDevice(device.udid)).toBeNull();
    expect(await f.mdm.listProfiles(device.udid)).toBeNull();
    await expect(f.mdm.listCommands(device.udid)).rejects.toBeInstanceOf(MdmNotFoundError);
  });

  it('NanoMDM unreachable -> MdmUnavailableError; a wrong API key -> MdmRejectedError; the job is sent once it answers', async () => {
    const device = await enrolled();
    const down = createNanoMdm({
      db: f.db.pool,
      api: createNanoMdmApi({ url: 'http://127.0.0.1:9', apiKey: 'x', timeoutMs: 2_000 }),
      log: () => {},
    });
    const err = await down
      .sendCommand({
        deviceId: device.udid,
        idempotencyKey: 'late',
        type: 'wipe',
        options: { keepEnrollmentData: true },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MdmUnavailableError);
    expect((err as MdmUnavailableError).retryable).toBe(true);
    // A wrong API key is refused by NanoMDM itself. Asked of NanoMDM's API directly: through an adapter the
    // call could find the job already handed over by the fixture's adapter (a webhook of this device
    // arriving meanwhile flushes it), and then never reach NanoMDM (seen once in CI).
    const wrongKey = createNanoMdmApi({ url: f.server.url, apiKey: 'wrong', timeoutMs: 10_000 });
    const probe = {
      commandUuid: randomUUID(),
      requestType: 'DeviceInformation',
      command: { RequestType: 'DeviceInformation' },
    };
    await expect(wrongKey.enqueue(device.udid, probe as never)).rejects.toBeInstanceOf(MdmRejectedError);
    // The job was recorded before the failed enqueue: the real adapter's next call hands it to NanoMDM.
    expect(await statusOf(device.udid, 'late')).toBe('queued');
    await expect.poll(() => statusOf(device.udid, 'late')).toBe('succeeded');
    expect(device.handled.filter((h) => h.requestType === 'EraseDevice')).toHaveLength(1);
  });
});

describe('MDM_KIND=nanomdm at start-up (mdm/createMdmPort.ts)', () => {
  it('refuses to start without its settings, naming each variable', async () => {
    const err = await createMdmPort(loadConfig({ MDM_KIND: 'nanomdm' }), { NANOMDM_WEBHOOK_LISTEN: 'nowhere' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MdmSettingsError);
    const problems = (err as MdmSettingsError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'NANOMDM_API_KEY',
      'NANOMDM_URL',
      'NANOMDM_WEBHOOK_LISTEN',
    ]);
  });

  it('starts the adapter and its webhook listener, which refuses bodies without the HMAC signature', async () => {
    const config = loadConfig({ MDM_KIND: 'nanomdm', DATABASE_URL: f.db.url });
    const setup = await createMdmPort(config, {
      NANOMDM_URL: f.server.url,
      NANOMDM_API_KEY: f.server.apiKey,
      NANOMDM_WEBHOOK_LISTEN: '127.0.0.1:0',
      NANOMDM_WEBHOOK_HMAC_KEY: 'webhook-secret',
    });
    try {
      expect(setup.port.capabilities).toEqual({ profileRemoval: 'command', cancelCommands: false });
      const listener = /webhook listener (http:\/\/127\.0\.0\.1:\d+\/webhook)\)$/.exec(setup.describe)?.[1];
      expect(setup.describe).toMatch(/^NanoMDM at http:\/\/127\.0\.0\.1:\d+ /);
      const body = JSON.stringify({ topic: 'mdm.CheckOut', created_at: new Date().toISOString() });
      const unsigned = await fetch(listener!, { method: 'POST', body });
      expect(unsigned.status).toBe(401);
      const signature = createHmac('sha256', 'webhook-secret').update(body).digest('base64');
      const signed = await fetch(listener!, { method: 'POST', body, headers: { 'X-Hmac-Signature': signature } });
      expect(signed.status).toBe(200);
    } finally {
      await setup.close?.();
    }
  });
});
