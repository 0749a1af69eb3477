/**
 * The HTTP MDM adapter against the real emulator (port 0) and its fault injection: what a flaky MDM
 * does to an activity's calls. The emulator counts the requests it received, so retries are observed
 * from the server side, not from a mock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMdmEmulator, type RunningEmulator } from '../mdmEmulator/server';
import { createEmulatorControl, type EmulatorControl } from '../mdm/emulatorControl';
import { createHttpMdm, type HttpMdmOptions } from '../mdm/httpAdapter';
import { MdmError, MdmNotFoundError, MdmRateLimitedError, MdmRejectedError, MdmUnavailableError } from '../mdm/errors';
import { isTerminal, type MdmPort } from '../mdm/port';

const apiKey = 'adapter-test-key';
const step = 60_000;

let emulator: RunningEmulator;
let control: EmulatorControl;

function adapter(overrides: Partial<HttpMdmOptions> = {}): MdmPort {
  return createHttpMdm({
    baseUrl: emulator.url,
    apiKey,
    timeoutMs: 300,
    maxAttempts: 3,
    baseBackoffMs: 10,
    ...overrides,
  });
}

let serial = 0;
async function enrolled(mdm: MdmPort, extra: { omitJobIds?: boolean } = {}) {
  serial += 1;
  if (extra.omitJobIds) {
    // Only the emulator knows per-device "no job id" behaviour; register through its API directly.
    const response = await fetch(`${emulator.url}/devices`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ serialNumber: `AD-${serial}`, model: 'Pixel 8', omitJobIds: true }),
    });
    return ((await response.json()) as { id: string }).id;
  }
  return (
    await mdm.registerDevice({
      serialNumber: `AD-${serial}`,
      assetNumber: `A-${serial}`,
      model: 'Pixel 8',
      idempotencyKey: `reg-${serial}`,
    })
  ).id;
}

async function failure(promise: Promise<unknown>): Promise<MdmError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(MdmError);
  return error as MdmError;
}

beforeEach(async () => {
  emulator = await createMdmEmulator({ apiKey, jobStepMs: step }).listen(0);
  control = createEmulatorControl({ baseUrl: emulator.url, apiKey });
});

afterEach(async () => {
  await emulator.close();
});

describe('the port over HTTP', () => {
  it('registers, finds, commands and deletes a device', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    expect(await mdm.getDevice(id)).toMatchObject({
      id,
      status: 'active',
      model: 'Pixel 8',
      inactivationForced: false,
    });
    expect((await mdm.findDevices({ serialNumber: `AD-${serial}` })).map((d) => d.id)).toEqual([id]);

    const sent = await mdm.sendCommand({
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: true },
      idempotencyKey: 'w1',
    });
    expect(sent).toMatchObject({ jobId: expect.any(String), status: 'queued', type: 'wipe' });
    await control.advanceClock(2 * step);
    const status = await mdm.getCommandStatus({ deviceId: id, jobId: sent.jobId, idempotencyKey: 'w1' });
    expect(status?.status).toBe('succeeded');
    expect((await mdm.getDevice(id))?.status).toBe('wiped');

    expect(await mdm.deleteDevice(id, 'del-1')).toEqual({ deviceId: id, alreadyGone: false });
    expect(await mdm.deleteDevice(id, 'del-1')).toEqual({ deviceId: id, alreadyGone: false }); // replayed
    expect(await mdm.deleteDevice(id, 'del-2')).toEqual({ deviceId: id, alreadyGone: true });
    expect(await mdm.getDevice(id)).toBeNull();
  });

  it('reads the status of a command without a job id by its idempotency key', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm, { omitJobIds: true });
    const sent = await mdm.sendCommand({
      deviceId: id,
      type: 'inactivate',
      options: { forced: true },
      idempotencyKey: 'inact-no-id',
    });
    expect(sent.jobId).toBeUndefined();
    await control.advanceClock(2 * step);
    expect(await mdm.getCommandStatus({ deviceId: id, idempotencyKey: 'inact-no-id' })).toMatchObject({
      status: 'succeeded',
      type: 'inactivate',
    });
    expect(await mdm.getCommandStatus({ deviceId: id, idempotencyKey: 'never-sent' })).toBeNull();
    expect(await mdm.getDevice(id)).toMatchObject({ status: 'inactive', inactivationForced: true });
  });

  it('stops a second command with the same idempotency key', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    const input = {
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: false },
      idempotencyKey: 'once',
    } as const;
    const first = await mdm.sendCommand(input);
    const second = await mdm.sendCommand(input);
    expect(second.jobId).toBe(first.jobId);
    expect(await mdm.listCommands(id)).toHaveLength(1);
    expect(await control.requests({ method: 'POST', pathPrefix: `/devices/${id}/commands` })).toHaveLength(2);
  });
});

describe('profile inventory', () => {
  it('lists the profiles the MDM sees, follows device-side changes, and is null for unknown or deleted records', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    expect(await mdm.listProfiles(id)).toEqual([
      { identifier: 'com.example.mdm', kind: 'mdm', name: 'MDM Profile' },
      { identifier: 'com.example.configuration', kind: 'configuration', name: 'Configuration Profile' },
    ]);
    await control.removeConfigurationProfile(id);
    expect((await mdm.listProfiles(id))?.map((p) => p.kind)).toEqual(['mdm']);
    expect(await mdm.listProfiles('mdm-unknown')).toBeNull();
    await mdm.deleteDevice(id, 'inv-del');
    expect(await mdm.listProfiles(id)).toBeNull();
  });
});

describe('cancelling a command', () => {
  it('cancels by job id and, without one, by idempotency key; a finished command comes back unchanged', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    const sent = await mdm.sendCommand({
      deviceId: id,
      type: 'inactivate',
      options: { forced: false },
      idempotencyKey: 'c1',
    });
    const cancelled = await mdm.cancelCommand!({ deviceId: id, jobId: sent.jobId, idempotencyKey: 'c1' });
    expect(cancelled).toMatchObject({ jobId: sent.jobId, status: 'failed', error: { code: 'cancelled' } });
    expect(await mdm.getCommandStatus({ deviceId: id, jobId: sent.jobId, idempotencyKey: 'c1' })).toEqual(cancelled);

    const wipe = await mdm.sendCommand({
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: true },
      idempotencyKey: 'c2',
    });
    await control.advanceClock(2 * step);
    const done = await mdm.getCommandStatus({ deviceId: id, jobId: wipe.jobId, idempotencyKey: 'c2' });
    expect(done?.status).toBe('succeeded');
    expect(await mdm.cancelCommand!({ deviceId: id, jobId: wipe.jobId, idempotencyKey: 'c2' })).toEqual(done);

    const hidden = await enrolled(mdm, { omitJobIds: true });
    await mdm.sendCommand({
      deviceId: hidden,
      type: 'wipe',
      options: { keepEnrollmentData: true },
      idempotencyKey: 'c3',
    });
    expect(await mdm.cancelCommand!({ deviceId: hidden, idempotencyKey: 'c3' })).toMatchObject({
      status: 'failed',
      error: { code: 'cancelled' },
    });
    expect((await mdm.getCommandStatus({ deviceId: hidden, idempotencyKey: 'c3' }))?.status).toBe('failed');

    expect(await mdm.cancelCommand!({ deviceId: hidden, idempotencyKey: 'never-sent' })).toBeNull();
    expect(await mdm.cancelCommand!({ deviceId: id, jobId: 'job-nope', idempotencyKey: 'x' })).toBeNull();
  });
});

describe('failure handling', () => {
  it('waits out a 429 Retry-After, then succeeds', async () => {
    const mdm = adapter();
    await control.addFault({ kind: 'error', status: 429, retryAfterSeconds: 1, count: 1, pathPrefix: '/devices' });
    const started = Date.now();
    expect(await mdm.findDevices({})).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await control.requests({ pathPrefix: '/devices' })).map((r) => r.status)).toEqual([429, 200]);
  });

  it('does not sit out a Retry-After longer than its cap: a retryable rate-limit error with the delay', async () => {
    const mdm = adapter({ maxRetryAfterMs: 500 });
    await control.addFault({ kind: 'error', status: 429, retryAfterSeconds: 120, count: 1 });
    const error = await failure(mdm.findDevices({}));
    expect(error).toBeInstanceOf(MdmRateLimitedError);
    expect(error).toMatchObject({ retryable: true, code: 'rate_limited', retryAfterMs: 120_000 });
    expect(await control.requests()).toHaveLength(1);
  });

  it('retries a 5xx and succeeds', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    await control.clearRequests();
    await control.addFault({ kind: 'error', status: 503, count: 2, method: 'GET' });
    expect((await mdm.getDevice(id))?.id).toBe(id);
    expect((await control.requests()).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up after maxAttempts on a persistent 5xx with a retryable error', async () => {
    const mdm = adapter({ maxAttempts: 2 });
    await control.addFault({ kind: 'error', status: 500, count: 5 });
    const error = await failure(mdm.findDevices({}));
    expect(error).toBeInstanceOf(MdmUnavailableError);
    expect(error).toMatchObject({ retryable: true, code: 'unavailable', status: 500 });
    expect(await control.requests()).toHaveLength(2);
  });

  it('does not retry a 4xx: a non-retryable error carrying the MDM message, after exactly one request', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    await mdm.sendCommand({ deviceId: id, type: 'inactivate', options: { forced: true }, idempotencyKey: 'f1' });
    await control.advanceClock(2 * step);
    await control.clearRequests();

    // The device is inactive now: the MDM refuses a second inactivation.
    const error = await failure(
      mdm.sendCommand({ deviceId: id, type: 'inactivate', options: { forced: false }, idempotencyKey: 'f2' }),
    );
    expect(error).toBeInstanceOf(MdmRejectedError);
    expect(error).toMatchObject({ retryable: false, code: 'rejected', status: 409, mdmCode: 'invalid_device_state' });
    expect(error.message).toContain('Only an active device can be inactivated');
    expect(await control.requests()).toHaveLength(1);
  });

  it('does not retry an injected 400 either', async () => {
    const mdm = adapter();
    await control.addFault({ kind: 'error', status: 400, count: 3 });
    const error = await failure(mdm.findDevices({}));
    expect(error).toMatchObject({ retryable: false, status: 400 });
    expect(await control.requests()).toHaveLength(1);
  });

  it('reports an unknown device as not found (null), without retrying', async () => {
    const mdm = adapter();
    expect(await mdm.getDevice('mdm-unknown')).toBeNull();
    const error = await failure(mdm.sendCommand({ deviceId: 'mdm-unknown', type: 'delete', idempotencyKey: 'd1' }));
    expect(error).toBeInstanceOf(MdmNotFoundError);
    expect(error.retryable).toBe(false);
    expect(await control.requests()).toHaveLength(2);
  });

  it('turns a timeout into a retryable error after maxAttempts', async () => {
    const mdm = adapter({ timeoutMs: 200, maxAttempts: 2 });
    await control.addFault({ kind: 'latency', ms: 600, pathPrefix: '/devices' });
    const started = Date.now();
    const error = await failure(mdm.findDevices({}));
    expect(error).toBeInstanceOf(MdmUnavailableError);
    expect(error).toMatchObject({ retryable: true, code: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(await control.requests({ pathPrefix: '/devices' })).toHaveLength(2);
  });

  it('retries a command that timed out without creating a second command', async () => {
    const mdm = adapter({ timeoutMs: 200 });
    const id = await enrolled(mdm);
    await control.addFault({
      kind: 'latency',
      ms: 500,
      count: 1,
      method: 'POST',
      pathPrefix: `/devices/${id}/commands`,
    });
    const sent = await mdm.sendCommand({
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: true },
      idempotencyKey: 'slow-wipe',
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the timed-out first request reach the handler
    const commands = await mdm.listCommands(id);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ jobId: sent.jobId, idempotencyKey: 'slow-wipe' });
    expect(await control.requests({ method: 'POST', pathPrefix: `/devices/${id}/commands` })).toHaveLength(2);
  });

  it('surfaces an unreachable MDM as a retryable network error', async () => {
    const mdm = adapter({ maxAttempts: 2 });
    await emulator.close();
    const error = await failure(mdm.findDevices({}));
    expect(error).toBeInstanceOf(MdmUnavailableError);
    expect(error).toMatchObject({ retryable: true, code: 'network' });
    emulator = await createMdmEmulator({ apiKey, jobStepMs: step }).listen(0); // for afterEach
  });

  it('waits out a 503 Retry-After during an outage, then succeeds', async () => {
    const mdm = adapter({ maxAttempts: 2 });
    await control.startOutage({ mode: 'unavailable', seconds: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    expect(await mdm.findDevices({})).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await control.requests()).map((r) => r.status)).toEqual([503, 200]);
  });

  it('throws a 503 with a Retry-After longer than its cap at once, carrying the delay', async () => {
    const mdm = adapter({ maxRetryAfterMs: 500 });
    await control.startOutage({ mode: 'unavailable', retryAfterSeconds: 120 });
    const error = await failure(mdm.findDevices({}));
    expect(error).toBeInstanceOf(MdmUnavailableError);
    expect(error).toMatchObject({ retryable: true, code: 'unavailable', status: 503, retryAfterMs: 120_000 });
    expect(await control.requests()).toHaveLength(1);
  });

  it('sees a refusing MDM as a retryable network error, retried with backoff; fine again once it ends', async () => {
    const mdm = adapter({ maxAttempts: 3 });
    const id = await enrolled(mdm);
    await control.startOutage({ mode: 'refuse' });
    await control.clearRequests();
    const error = await failure(mdm.getDevice(id));
    expect(error).toBeInstanceOf(MdmUnavailableError);
    expect(error).toMatchObject({ retryable: true, code: 'network', retryAfterMs: undefined });
    const reached = await control.requests();
    expect(reached).toHaveLength(3); // each attempt reached the MDM and was dropped (fetch adds no retries)
    expect(reached.every((r) => r.noAnswer)).toBe(true);
    await control.endOutage();
    expect((await mdm.getDevice(id))?.id).toBe(id);
  });

  it('keeps a job that never finishes non-terminal', async () => {
    const mdm = adapter();
    const id = await enrolled(mdm);
    await control.addFault({ kind: 'stall-jobs', deviceId: id, stage: 'acknowledged' });
    const sent = await mdm.sendCommand({
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: true },
      idempotencyKey: 'stuck',
    });
    await control.advanceClock(1000 * step);
    const status = await mdm.getCommandStatus({ deviceId: id, jobId: sent.jobId, idempotencyKey: 'stuck' });
    expect(status?.status).toBe('acknowledged');
    expect(isTerminal(status!.status)).toBe(false);
    expect((await mdm.getDevice(id))?.status).toBe('active');
  });
});
