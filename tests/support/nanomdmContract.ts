/**
 * The `nanomdm` entry of the MDM port contract suite (tests/mdmPortContract.test.ts), on real parts: the
 * real NanoMDM server, PostgreSQL and simulated Apple devices (startNanoMdmFixture). The port under test is
 * the NanoMDM adapter on the fixture's store, whose way to NanoMDM can be cut (a closed loopback port) to
 * make an outage; the fixture's own adapter keeps receiving the webhook, as the service's listener would.
 * Devices do not poll on their own here: the device side answers when the suite says so, so a job is
 * seen unfinished first.
 */
import type { MdmCommandType } from '../../mdm/port';
import { isTerminal } from '../../mdm/port';
import { createNanoMdm } from '../../mdm/nanomdm/adapter';
import { createNanoMdmApi, type NanoMdmApi } from '../../mdm/nanomdm/api';
import { freePort } from '../../scripts/freePort';
import type { PortUnderTest } from '../mdmPortContract.test';
import type { DeviceProfile, SimulatedAppleDevice } from './appleDevice/agent';
import { startNanoMdmFixture } from './nanomdmFixture';
import { PATIENCE_MS } from './patience';

const WIFI: DeviceProfile = {
  identifier: 'com.example.contract.wifi',
  displayName: 'Contract Wi-Fi',
  payloadTypes: ['com.apple.wifi.managed'],
};

/** The Apple command whose Error answer fails a job of each type (the first step for a wipe, a removal for an inactivation). */
const FAILING_REQUEST: Partial<Record<MdmCommandType, string>> = {
  wipe: 'EraseDevice',
  inactivate: 'RemoveProfile',
};

export async function startNanoMdmUnderContract(): Promise<PortUnderTest> {
  const f = await startNanoMdmFixture();
  const reachable = createNanoMdmApi({ url: f.server.url, apiKey: f.server.apiKey, timeoutMs: 2_000 });
  // Nothing listens there: an outage is NanoMDM refusing connections, not a made-up answer.
  const closed = createNanoMdmApi({ url: `http://127.0.0.1:${await freePort()}`, apiKey: 'x', timeoutMs: 2_000 });
  let down = false;
  const api: NanoMdmApi = { enqueue: (id, command) => (down ? closed : reachable).enqueue(id, command) };
  const port = createNanoMdm({ db: f.db.pool, api, log: () => {} });
  const devices = new Map<string, SimulatedAppleDevice>();

  const deviceOf = (deviceId: string) => {
    const device = devices.get(deviceId);
    if (!device) throw new Error(`no simulated device enrolled as ${deviceId}`);
    return device;
  };

  /** The device answers what NanoMDM hands it, again and again, until every job of the type has ended. */
  const answerUntilEnded = async (deviceId: string, type: MdmCommandType) => {
    const device = deviceOf(deviceId);
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      await device.poll();
      const jobs = (await port.listCommands(deviceId)).filter((j) => j.type === type);
      if (jobs.length > 0 && jobs.every((j) => isTerminal(j.status))) return jobs;
      if (Date.now() > deadline)
        throw new Error(`${type} jobs of ${deviceId} still unfinished: ${JSON.stringify(jobs)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const endAs = async (deviceId: string, type: MdmCommandType, want: 'succeeded' | 'failed') => {
    const jobs = await answerUntilEnded(deviceId, type);
    const last = jobs[jobs.length - 1]!;
    if (last.status !== want)
      throw new Error(`the ${type} job ended ${last.status}, not ${want}: ${JSON.stringify(last)}`);
  };

  return {
    port,
    close: () => f.close(),
    device: {
      enrol: async (serialNumber) => {
        const device = await f.device({ serialNumber, profiles: [WIFI] });
        await device.stop();
        devices.set(device.udid, device);
        // Enrolment asks for DeviceInformation and ProfileList; the device answers them now.
        const deadline = Date.now() + PATIENCE_MS;
        while ((await port.listProfiles(device.udid).catch(() => null)) === null) {
          if (Date.now() > deadline) throw new Error(`enrolment inventory of ${serialNumber} never arrived`);
          await device.poll();
          await new Promise((r) => setTimeout(r, 50));
        }
        return device.udid;
      },
      finish: (deviceId, type) => endAs(deviceId, type, 'succeeded'),
      fail: async (deviceId, type) => {
        const request = FAILING_REQUEST[type];
        if (!request) throw new Error(`no Apple command of a ${type} job to answer with Error`);
        deviceOf(deviceId).answer(request, 'Error');
        await endAs(deviceId, type, 'failed');
      },
      throttle: () => Promise.reject(new Error('NanoMDM has no rate limiting to trigger')),
      startOutage: async () => {
        down = true;
      },
      endOutage: async () => {
        down = false;
      },
    },
  };
}
