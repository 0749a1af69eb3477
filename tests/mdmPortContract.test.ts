/**
 * The MDM port's contract (mdm/port.ts), one suite of scenarios run against every adapter on real parts:
 * `emulator` (the MDM emulator over HTTP), `intune` (the Intune adapter through the Graph double, which
 * copies Microsoft's documented answers; no real tenant) and `nanomdm` (the real NanoMDM v0.9.0 server,
 * PostgreSQL and simulated Apple devices; tests/support/nanomdmContract.ts). Adding an adapter is one
 * entry in ADAPTERS: a factory returning the port and a device side that can enrol a device, make a
 * command finish or fail, throttle the MDM and take it down.
 *
 * A scenario is skipped only where the adapter's declared capabilities, or a stated fact of the MDM itself
 * (outOfReach: NanoMDM has no throttling), say it does not apply; the reason is in the test's name.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmulatorControl } from '../mdm/emulatorControl';
import { MdmError, MdmRateLimitedError, MdmUnavailableError } from '../mdm/errors';
import { createHttpMdm } from '../mdm/httpAdapter';
import { ACTION_OF } from '../mdm/intune/graphShapes';
import { createIntuneMdm } from '../mdm/intune/intuneAdapter';
import { createTokenSource } from '../mdm/intune/tokenSource';
import {
  EMULATOR_CAPABILITIES,
  isTerminal,
  type MdmCapabilities,
  type MdmCommandType,
  type MdmPort,
} from '../mdm/port';
import { createMdmEmulator } from '../mdmEmulator/server';
import { startGraphDouble } from './support/graphDouble';
import { startNanoMdmUnderContract } from './support/nanomdmContract';

/** What a test does on the device's (and the MDM operator's) side of an adapter. */
export interface DeviceSide {
  /** A device enrols; returns the MDM's device id. */
  enrol(serialNumber: string): Promise<string>;
  /** The device carries out the command of this type it was sent: the MDM reports it succeeded. */
  finish(deviceId: string, type: MdmCommandType): Promise<void>;
  /** The device answers the command with an error: the MDM reports it failed. */
  fail(deviceId: string, type: MdmCommandType): Promise<void>;
  /** The MDM answers the next request with 429 and `Retry-After: retryAfterSeconds`. */
  throttle(retryAfterSeconds: number): Promise<void>;
  /** The MDM is down (5xx) until endOutage. */
  startOutage(): Promise<void>;
  endOutage(): Promise<void>;
}

export interface PortUnderTest {
  /**
   * The port, built so that a Retry-After above one second is thrown at once (maxRetryAfterMs about
   * 1 s) and retries are few and quick.
   */
  port: MdmPort;
  device: DeviceSide;
  close(): Promise<void>;
}

export interface AdapterEntry {
  name: string;
  /** What the adapter declares it can do, known before anything runs so the suite knows what applies. */
  capabilities: MdmCapabilities;
  /** Null until the adapter's factory is plugged in: the suite says so in a skipped test. */
  start: (() => Promise<PortUnderTest>) | null;
  /**
   * Scenarios the MDM itself rules out (not port capabilities: facts of the MDM known before anything
   * runs), each with why; the suite skips them with that reason in the test's name.
   */
  outOfReach?: { throttling?: string; outageOnReads?: string };
}

const emulatorStepMs = 60_000;

const ADAPTERS: AdapterEntry[] = [
  {
    name: 'emulator',
    capabilities: EMULATOR_CAPABILITIES,
    start: async () => {
      const apiKey = 'contract-key';
      const emulator = await createMdmEmulator({ apiKey, jobStepMs: emulatorStepMs }).listen(0);
      const control = createEmulatorControl({ baseUrl: emulator.url, apiKey });
      const port = createHttpMdm({
        baseUrl: emulator.url,
        apiKey,
        timeoutMs: 2_000,
        maxAttempts: 2,
        baseBackoffMs: 10,
        maxRetryAfterMs: 1_000,
      });
      let enrolled = 0;
      return {
        port,
        close: () => emulator.close(),
        device: {
          enrol: async (serialNumber) =>
            (await port.registerDevice({ serialNumber, model: 'iPhone 15', idempotencyKey: `enrol-${++enrolled}` })).id,
          // Jobs move one step per emulatorStepMs of the emulator's clock: queued -> acknowledged -> done.
          finish: async () => {
            await control.advanceClock(2 * emulatorStepMs);
          },
          // A non-forced inactivation waits for the device user; the removal profile failing fails it.
          fail: async (deviceId, type) => {
            if (type !== 'inactivate') throw new Error('the emulator fails only a non-forced inactivation');
            await control.advanceClock(emulatorStepMs);
            await control.failRemovalProfile(deviceId);
          },
          throttle: async (retryAfterSeconds) => {
            await control.addFault({ kind: 'error', status: 429, retryAfterSeconds, count: 1 });
          },
          startOutage: async () => {
            await control.startOutage({ mode: 'unavailable' });
          },
          endOutage: () => control.endOutage(),
        },
      };
    },
  },
  {
    name: 'intune',
    capabilities: { profileRemoval: 'command', cancelCommands: false },
    start: async () => {
      const graph = await startGraphDouble();
      const tokens = createTokenSource({
        tokenUrl: graph.tokenUrl,
        clientId: graph.clientId,
        clientSecret: graph.clientSecret,
        timeoutMs: 2_000,
      });
      const port = createIntuneMdm({
        graphBaseUrl: graph.graphBaseUrl,
        tokens,
        timeoutMs: 2_000,
        maxAttempts: 2,
        baseBackoffMs: 10,
        maxRetryAfterMs: 1_000,
      });
      return {
        port,
        close: () => graph.close(),
        device: {
          enrol: async (serialNumber) => graph.enrol({ serialNumber }).id,
          finish: async (deviceId, type) => graph.advanceAction(deviceId, ACTION_OF[type], 'done'),
          fail: async (deviceId, type) => graph.advanceAction(deviceId, ACTION_OF[type], 'failed'),
          throttle: async (retryAfterSeconds) => graph.throttle({ count: 1, retryAfter: String(retryAfterSeconds) }),
          startOutage: async () => graph.startOutage({ mode: 'unavailable' }),
          endOutage: async () => graph.endOutage(),
        },
      };
    },
  },
  {
    name: 'nanomdm',
    capabilities: { profileRemoval: 'command', cancelCommands: false },
    // Real NanoMDM v0.9.0 on loopback, PostgreSQL, simulated Apple devices (tests/support/nanomdmContract.ts).
    start: startNanoMdmUnderContract,
    outOfReach: {
      throttling: 'NanoMDM v0.9.0 has no rate limiting (it never answers 429), so there is no throttling to drive',
      outageOnReads:
        "the adapter answers reads from its own store (NanoMDM's webhook fills it), so NanoMDM being down cannot fail getDevice; the send outage scenario covers it",
    },
  },
];

async function failure(promise: Promise<unknown>): Promise<MdmError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(MdmError);
  return error as MdmError;
}

/** `it`, or a skipped test whose name says which declared capability rules the scenario out. */
function itIf(applies: boolean, name: string, reason: string, fn: () => Promise<void>) {
  if (applies) it(name, fn);
  else it.skip(`${name} — skipped: ${reason}`, fn);
}

for (const adapter of ADAPTERS) {
  const start = adapter.start;
  if (!start) {
    describe.skip(`MDM port contract: ${adapter.name} — skipped: its factory is not plugged in yet`, () => {
      it('runs every scenario', () => undefined);
    });
    continue;
  }
  const declared = adapter.capabilities;

  describe(`MDM port contract: ${adapter.name}`, () => {
    let mdm: PortUnderTest;
    let serial = 0;
    const nextSerial = () => `${adapter.name.toUpperCase()}-C-${++serial}`;

    beforeEach(async () => {
      mdm = await start();
    });
    afterEach(async () => {
      await mdm.close();
    });

    it('declares the capabilities the suite expects of it', () => {
      expect(mdm.port.capabilities ?? EMULATOR_CAPABILITIES).toEqual(declared);
      expect(mdm.port.cancelCommand !== undefined).toBe(declared.cancelCommands);
    });

    it('sends a command once per idempotency key: a repeat returns the first', async () => {
      const deviceId = await mdm.device.enrol(nextSerial());
      const input = {
        deviceId,
        type: 'wipe',
        options: { keepEnrollmentData: true },
        idempotencyKey: `${adapter.name}-once`,
      } as const;
      const first = await mdm.port.sendCommand(input);
      const second = await mdm.port.sendCommand(input);
      expect(second).toMatchObject({
        deviceId,
        type: 'wipe',
        idempotencyKey: input.idempotencyKey,
        requestedAt: first.requestedAt,
      });
      expect(second.jobId).toBe(first.jobId);
      const mine = (await mdm.port.listCommands(deviceId)).filter((c) => c.idempotencyKey === input.idempotencyKey);
      expect(mine).toHaveLength(1);
    });

    it('reports a job through its life: unfinished, then succeeded; and a failed one with its error', async () => {
      const deviceId = await mdm.device.enrol(nextSerial());
      const sent = await mdm.port.sendCommand({
        deviceId,
        type: 'wipe',
        options: { keepEnrollmentData: true },
        idempotencyKey: `${adapter.name}-life`,
      });
      expect(isTerminal(sent.status)).toBe(false);
      const ref = { deviceId, jobId: sent.jobId, idempotencyKey: `${adapter.name}-life` };
      expect(isTerminal((await mdm.port.getCommandStatus(ref))!.status)).toBe(false);
      await mdm.device.finish(deviceId, 'wipe');
      expect(await mdm.port.getCommandStatus(ref)).toMatchObject({ type: 'wipe', status: 'succeeded' });
      expect((await mdm.port.getDevice(deviceId))?.status).toBe('wiped');

      const other = await mdm.device.enrol(nextSerial());
      const inactivation = await mdm.port.sendCommand({
        deviceId: other,
        type: 'inactivate',
        options: { forced: false },
        idempotencyKey: `${adapter.name}-fails`,
      });
      await mdm.device.fail(other, 'inactivate');
      const failed = await mdm.port.getCommandStatus({
        deviceId: other,
        jobId: inactivation.jobId,
        idempotencyKey: `${adapter.name}-fails`,
      });
      expect(failed).toMatchObject({ type: 'inactivate', status: 'failed' });
      expect(failed?.error?.code).toEqual(expect.any(String));
      expect((await mdm.port.getDevice(other))?.status).toBe('active');
    });

    it('shows the device, finds it by serial number, and lists its management profile', async () => {
      const serialNumber = nextSerial();
      const deviceId = await mdm.device.enrol(serialNumber);
      expect(await mdm.port.getDevice(deviceId)).toMatchObject({ id: deviceId, serialNumber, status: 'active' });
      expect((await mdm.port.findDevices({ serialNumber })).map((d) => d.id)).toEqual([deviceId]);
      expect(await mdm.port.findDevices({ serialNumber: `${serialNumber}-nobody` })).toEqual([]);
      const profiles = await mdm.port.listProfiles(deviceId);
      expect(profiles?.some((p) => p.kind === 'mdm')).toBe(true);
    });

    itIf(
      declared.profileRemoval === 'command',
      'an inactivation removes the profiles by command: once done the device is inactive and lists no MDM profile',
      `capabilities.profileRemoval is '${declared.profileRemoval}' (the device user removes them)`,
      async () => {
        const deviceId = await mdm.device.enrol(nextSerial());
        const key = `${adapter.name}-inactivate`;
        const sent = await mdm.port.sendCommand({
          deviceId,
          type: 'inactivate',
          options: { forced: false },
          idempotencyKey: key,
        });
        await mdm.device.finish(deviceId, 'inactivate');
        expect(await mdm.port.getCommandStatus({ deviceId, jobId: sent.jobId, idempotencyKey: key })).toMatchObject({
          status: 'succeeded',
        });
        const device = await mdm.port.getDevice(deviceId);
        const profiles = await mdm.port.listProfiles(deviceId);
        // Gone from the MDM altogether also satisfies "no longer managed".
        if (device) expect(device.status).toBe('inactive');
        expect((profiles ?? []).filter((p) => p.kind === 'mdm')).toEqual([]);
      },
    );

    itIf(
      declared.cancelCommands,
      'cancels an unfinished command: it fails with code cancelled',
      'capabilities.cancelCommands is false (the MDM cannot cancel a command)',
      async () => {
        const deviceId = await mdm.device.enrol(nextSerial());
        const key = `${adapter.name}-cancel`;
        const sent = await mdm.port.sendCommand({
          deviceId,
          type: 'wipe',
          options: { keepEnrollmentData: true },
          idempotencyKey: key,
        });
        const after = await mdm.port.cancelCommand!({ deviceId, jobId: sent.jobId, idempotencyKey: key });
        expect(after).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });
      },
    );

    it('knows nothing of an unknown device or key', async () => {
      expect(await mdm.port.getDevice('no-such-device')).toBeNull();
      expect(await mdm.port.listProfiles('no-such-device')).toBeNull();
      expect(await mdm.port.deleteDevice('no-such-device', `${adapter.name}-del`)).toEqual({
        deviceId: 'no-such-device',
        alreadyGone: true,
      });
      const deviceId = await mdm.device.enrol(nextSerial());
      expect(await mdm.port.getCommandStatus({ deviceId, idempotencyKey: 'never-sent' })).toBeNull();
      expect(await mdm.port.deleteDevice(deviceId, `${adapter.name}-del-2`)).toEqual({ deviceId, alreadyGone: false });
      expect(await mdm.port.getDevice(deviceId)).toBeNull();
    });

    itIf(
      !adapter.outOfReach?.throttling,
      'throttling is a retryable rate-limit error carrying the MDM’s Retry-After',
      adapter.outOfReach?.throttling ?? '',
      async () => {
        const deviceId = await mdm.device.enrol(nextSerial());
        await mdm.device.throttle(120);
        const error = await failure(mdm.port.getDevice(deviceId));
        expect(error).toBeInstanceOf(MdmRateLimitedError);
        expect(error).toMatchObject({ retryable: true, code: 'rate_limited', retryAfterMs: 120_000 });
        expect((await mdm.port.getDevice(deviceId))?.id).toBe(deviceId);
      },
    );

    itIf(
      !adapter.outOfReach?.outageOnReads,
      'an outage is a retryable MdmUnavailableError, and the port works again after it',
      adapter.outOfReach?.outageOnReads ?? '',
      async () => {
        const deviceId = await mdm.device.enrol(nextSerial());
        await mdm.device.startOutage();
        const error = await failure(mdm.port.getDevice(deviceId));
        expect(error).toBeInstanceOf(MdmUnavailableError);
        expect(error.retryable).toBe(true);
        await mdm.device.endOutage();
        expect((await mdm.port.getDevice(deviceId))?.id).toBe(deviceId);
      },
    );

    it('a send during an outage is a retryable MdmUnavailableError; repeated after it, the command goes through once', async () => {
      const deviceId = await mdm.device.enrol(nextSerial());
      const input = {
        deviceId,
        type: 'wipe',
        options: { keepEnrollmentData: true },
        idempotencyKey: `${adapter.name}-outage`,
      } as const;
      await mdm.device.startOutage();
      const error = await failure(mdm.port.sendCommand(input));
      expect(error).toBeInstanceOf(MdmUnavailableError);
      expect(error.retryable).toBe(true);
      await mdm.device.endOutage();
      const sent = await mdm.port.sendCommand(input);
      expect(sent).toMatchObject({ deviceId, type: 'wipe', idempotencyKey: input.idempotencyKey });
      await mdm.device.finish(deviceId, 'wipe');
      const mine = (await mdm.port.listCommands(deviceId)).filter((c) => c.idempotencyKey === input.idempotencyKey);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.status).toBe('succeeded');
      expect(mine[0]?.jobId).toBe(sent.jobId);
    });
  });
}
