/**
 * The MDM emulator over real HTTP (port 0), as the workflows and field tests will meet it.
 * Jobs step every 60 s of emulator time, so tests move them with the admin clock instead of sleeping.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMdmEmulator, type RunningEmulator } from '../mdmEmulator/server';
import { writeDelayMs } from '../mdmEmulator/store';
import { createEmulatorControl, type EmulatorControl } from '../mdm/emulatorControl';

const apiKey = 'test-key';
const step = 60_000;

interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON under test
  headers: Headers;
}

let dataDir: string;
let mdm: RunningEmulator;
let control: EmulatorControl;

async function start(options: { jobStepMs?: number; now?: () => number } = {}) {
  mdm = await createMdmEmulator({ apiKey, dataDir, jobStepMs: options.jobStepMs ?? step, now: options.now }).listen(0);
  control = createEmulatorControl({ baseUrl: mdm.url, apiKey });
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(`${mdm.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

let serial = 0;
async function enrol(extra: Record<string, unknown> = {}) {
  serial += 1;
  const reply = await api('POST', '/devices', {
    serialNumber: `SN-${serial}`,
    assetNumber: `A-${String(serial).padStart(6, '0')}`,
    model: 'iPhone 15',
    ...extra,
  });
  expect(reply.status).toBe(201);
  return reply.body as { id: string; serialNumber: string };
}

const command = (deviceId: string, body: unknown, key: string) =>
  api('POST', `/devices/${deviceId}/commands`, body, { 'Idempotency-Key': key });
const job = async (jobId: string) => (await api('GET', `/jobs/${jobId}`)).body;
const device = async (id: string) => (await api('GET', `/devices/${id}`)).body;
const advance = (steps = 1) => control.advanceClock(steps * step);

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mdm-emulator-'));
  await start();
});

afterEach(async () => {
  await mdm.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('devices', () => {
  it('enrols a device with profiles and the client app, and finds it by serial and asset number', async () => {
    const d = await enrol();
    expect(d).toMatchObject({
      status: 'active',
      profiles: ['mdm', 'configuration'],
      clientAppInstalled: true,
      removalProfileInstalled: false,
    });
    expect(d.id).toMatch(/^mdm-[0-9a-f-]{36}$/);
    expect(
      (await api('GET', `/devices?serialNumber=${d.serialNumber}`)).body.devices.map((x: { id: string }) => x.id),
    ).toEqual([d.id]);
    expect((await api('GET', '/devices?assetNumber=A-999999')).body.devices).toEqual([]);
    const again = await api('POST', '/devices', { serialNumber: d.serialNumber, model: 'iPhone 15' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'device_already_enrolled',
      details: { field: 'serialNumber', deviceId: d.id },
    });
  });

  it('deletes a record: 404 afterwards, listed only under status=deleted', async () => {
    const d = await enrol();
    expect((await api('DELETE', `/devices/${d.id}`)).status).toBe(200);
    const gone = await api('GET', `/devices/${d.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('device_not_found');
    expect((await api('GET', '/devices')).body.devices).toEqual([]);
    expect((await api('GET', '/devices?status=deleted')).body.devices[0].id).toBe(d.id);
    expect((await api('DELETE', `/devices/${d.id}`)).status).toBe(404);
  });

  it('serves its OpenAPI 3.1 document without auth', async () => {
    const spec = (await (await fetch(`${mdm.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/devices',
        '/devices/{id}',
        '/devices/{id}/commands',
        '/jobs/{jobId}',
        '/devices/{id}/actions/{action}',
        '/devices/{id}/profiles',
        '/jobs/{jobId}/cancel',
        '/devices/{id}/commands/cancel',
        '/admin/faults',
        '/admin/rate-limit',
        '/admin/outage',
      ]),
    );
  });
});

describe('wipe', () => {
  it('runs queued -> acknowledged -> succeeded and keeps the record when asked', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'wipe', options: { keepEnrollmentData: true } }, 'wipe-1');
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ deviceId: d.id, type: 'wipe', status: 'queued' });
    expect((await job(sent.body.jobId)).status).toBe('queued');
    await advance();
    expect((await job(sent.body.jobId)).status).toBe('acknowledged');
    expect((await device(d.id)).status).toBe('active');
    await advance();
    expect(await job(sent.body.jobId)).toMatchObject({ status: 'succeeded', finishedAt: expect.any(String) });
    // The wipe removes everything on the device, the MDM agent included.
    expect(await device(d.id)).toMatchObject({ status: 'wiped', profiles: [], clientAppInstalled: false });
  });

  it('deletes the record after the wipe without keepEnrollmentData; the history stays readable', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'wipe', options: { keepEnrollmentData: false } }, 'wipe-2');
    await advance(2);
    expect((await api('GET', `/devices/${d.id}`)).status).toBe(404);
    const history = await api('GET', `/devices/${d.id}/commands`);
    expect(history.body.commands).toMatchObject([{ jobId: sent.body.jobId, status: 'succeeded' }]);
  });

  it('advances on the real clock with a short jobStepMs', async () => {
    await mdm.close();
    await start({ jobStepMs: 20 });
    const d = await enrol();
    const sent = await command(d.id, { type: 'wipe' }, 'wipe-fast');
    await expect.poll(async () => (await job(sent.body.jobId)).status).toBe('succeeded');
    expect(sent.body.options).toEqual({ keepEnrollmentData: true }); // the seed's console default: keep
  });
});

describe('non-forced inactivation', () => {
  it('waits for the device user: removal profile, then profiles, then the app', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'inactivate', options: { forced: false } }, 'inact-1');
    // Not delivered to the device yet: no install screen.
    expect((await api('POST', `/devices/${d.id}/actions/install-removal-profile`)).body.error.code).toBe(
      'no_pending_inactivation',
    );
    await advance();
    expect((await job(sent.body.jobId)).status).toBe('acknowledged');
    const tooEarly = await api('POST', `/devices/${d.id}/actions/remove-profiles`);
    expect(tooEarly.status).toBe(409);
    expect(tooEarly.body.error.code).toBe('removal_profile_missing');

    const installed = await control.installRemovalProfile(d.id);
    expect(installed.device).toMatchObject({
      removalProfileInstalled: true,
      profiles: ['mdm', 'configuration', 'removal'],
    });
    await advance(10);
    expect((await job(sent.body.jobId)).status).toBe('acknowledged'); // still waiting on the device

    const removed = await control.removeProfiles(d.id);
    expect(removed.device).toMatchObject({ status: 'inactive', profiles: [] });
    expect((await job(sent.body.jobId)).status).toBe('succeeded');

    const appRemoved = await control.removeApp(d.id);
    expect(appRemoved.consequence).toBeUndefined();
    expect(appRemoved.device).toMatchObject({
      status: 'inactive',
      clientAppInstalled: false,
      factoryResetForced: false,
    });
  });

  it('fails the job when the removal profile cannot be installed; re-enrolment gives a new active record', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'inactivate' }, 'inact-2');
    await advance();
    await control.failRemovalProfile(d.id);
    expect(await job(sent.body.jobId)).toMatchObject({ status: 'failed', error: { code: 'removal_profile_failed' } });
    expect((await device(d.id)).status).toBe('active');

    const reply = await api('POST', `/devices/${d.id}/actions/re-enroll`);
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ previousDeviceId: d.id, newDeviceId: expect.stringMatching(/^mdm-/) });
    expect(reply.body.newDeviceId).not.toBe(d.id);
    expect(await device(reply.body.newDeviceId)).toMatchObject({
      status: 'active',
      profiles: ['mdm', 'configuration'],
      clientAppInstalled: true,
      previousId: d.id,
    });
    const old = await api('GET', `/devices/${d.id}`);
    expect(old.body.error.details.replacedBy).toBe(reply.body.newDeviceId);
    expect(
      (await api('GET', `/devices?serialNumber=${d.serialNumber}`)).body.devices.map((x: { id: string }) => x.id),
    ).toEqual([reply.body.newDeviceId]);
    // ... and the whole inactivation can start again on the new record.
    expect((await command(reply.body.newDeviceId, { type: 'inactivate' }, 'inact-2b')).status).toBe(201);
  });

  it('models deleting the client app before the profiles as a forced factory reset', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'inactivate' }, 'inact-3');
    await advance();
    await control.installRemovalProfile(d.id);
    const result = await control.removeApp(d.id);
    expect(result.consequence).toBe('factory_reset_forced');
    expect(result.device).toMatchObject({
      status: 'wiped',
      factoryResetForced: true,
      profiles: [],
      clientAppInstalled: false,
    });
    expect(await job(sent.body.jobId)).toMatchObject({ status: 'failed', error: { code: 'device_factory_reset' } });
  });
});

describe('forced inactivation', () => {
  it('inactivates without the device, and the MDM profile can then never be removed', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'inactivate', options: { forced: true } }, 'forced-1');
    await advance(2);
    expect((await job(sent.body.jobId)).status).toBe('succeeded');
    expect(await device(d.id)).toMatchObject({
      status: 'inactive',
      inactivationForced: true,
      profiles: ['mdm', 'configuration'],
    });
    for (const action of ['install-removal-profile', 'remove-profiles']) {
      const reply = await api('POST', `/devices/${d.id}/actions/${action}`);
      expect(reply.status).toBe(409);
      expect(reply.body.error.code).toBe('profile_not_removable');
    }
    expect((await device(d.id)).profiles).toEqual(['mdm', 'configuration']);
  });
});

describe('delete command and re-enrolment', () => {
  it('deletes the record asynchronously, and a wiped and deleted device re-enrols under a new id', async () => {
    const d = await enrol();
    await command(d.id, { type: 'wipe', options: { keepEnrollmentData: true } }, 'cu-wipe');
    await advance(2);
    const del = await command(d.id, { type: 'delete' }, 'cu-delete');
    expect(del.status).toBe(201);
    expect((await api('GET', `/devices/${d.id}`)).status).toBe(200);
    await advance(2);
    expect((await job(del.body.jobId)).status).toBe('succeeded');
    expect((await api('GET', `/devices/${d.id}`)).status).toBe(404);

    const again = await control.reEnroll(d.id);
    expect(again.device).toMatchObject({ status: 'active', serialNumber: d.serialNumber, clientAppInstalled: true });
    expect(again.message).toContain(again.newDeviceId);
    expect((await api('POST', `/devices/${d.id}/actions/re-enroll`)).body.error.code).toBe('already_reenrolled');
  });
});

describe('idempotency', () => {
  it('returns the same job for the same key and never creates a second command', async () => {
    const d = await enrol();
    const first = await command(d.id, { type: 'wipe', options: { keepEnrollmentData: true } }, 'same-key');
    const second = await command(d.id, { type: 'wipe', options: { keepEnrollmentData: true } }, 'same-key');
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.headers.get('Idempotent-Replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect((await api('GET', `/devices/${d.id}/commands`)).body.commands).toHaveLength(1);

    const different = await command(d.id, { type: 'wipe', options: { keepEnrollmentData: false } }, 'same-key');
    expect(different.status).toBe(422);
    expect(different.body.error).toMatchObject({
      code: 'idempotency_key_reused',
      details: { field: 'Idempotency-Key' },
    });
    const otherKey = await command(d.id, { type: 'wipe' }, 'other-key');
    expect(otherKey.status).toBe(409);
    expect(otherKey.body.error).toMatchObject({ code: 'command_pending', details: { jobId: first.body.jobId } });
    expect((await api('GET', `/devices/${d.id}/commands`)).body.commands).toHaveLength(1);
  });

  it('omits job ids for devices set up like an MDM without them; the history still has the status', async () => {
    const d = await enrol({ omitJobIds: true });
    const sent = await command(d.id, { type: 'wipe' }, 'no-id');
    expect(sent.status).toBe(201);
    expect(sent.body.jobId).toBeUndefined();
    expect((await api('GET', `/jobs?deviceId=${d.id}`)).body.jobs).toEqual([]);
    await advance(2);
    const history = (await api('GET', `/devices/${d.id}/commands`)).body.commands;
    expect(history).toEqual([expect.objectContaining({ idempotencyKey: 'no-id', status: 'succeeded' })]);
    expect(history[0].jobId).toBeUndefined();
  });
});

describe('persistence', () => {
  it('waits longer between writes as the state grows: 50 times the last write, at least 200 ms', () => {
    expect(writeDelayMs(0)).toBe(200);
    expect(writeDelayMs(3)).toBe(200);
    expect(writeDelayMs(10)).toBe(500);
    expect(writeDelayMs(100.2)).toBe(5010);
  });

  it('writes a change to state.json shortly after it, without waiting for a stop', async () => {
    const d = await enrol();
    const file = join(dataDir, 'state.json');
    const written = () => existsSync(file) && readFileSync(file, 'utf8').includes(d.id);
    for (const deadline = Date.now() + 30_000; !written() && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(written()).toBe(true);
  });

  it('keeps devices, jobs and idempotency keys across a restart on the same data dir', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'wipe' }, 'persist-1');
    await advance();
    await mdm.close();
    expect(readdirSync(dataDir)).toEqual(['state.json']); // no temp files left behind

    await start();
    expect(await device(d.id)).toMatchObject({ id: d.id, status: 'active', serialNumber: d.serialNumber });
    expect((await job(sent.body.jobId)).status).toBe('acknowledged');
    const replay = await command(d.id, { type: 'wipe' }, 'persist-1');
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(sent.body);
    await advance();
    expect((await job(sent.body.jobId)).status).toBe('succeeded');
    expect((await device(d.id)).status).toBe('wiped');
  });
});

describe('malformed requests change nothing', () => {
  const cases: Array<{
    name: string;
    send: (id: string) => Promise<Reply>;
    status: number;
    code: string;
    field?: string;
  }> = [
    { name: 'bad JSON', send: (id) => command(id, '{"type": "wipe",', 'k1'), status: 400, code: 'invalid_json' },
    {
      name: 'unknown command type',
      send: (id) => command(id, { type: 'explode' }, 'k2'),
      status: 400,
      code: 'invalid_request',
      field: 'type',
    },
    {
      name: 'missing type',
      send: (id) => command(id, { options: {} }, 'k3'),
      status: 400,
      code: 'invalid_request',
      field: 'type',
    },
    {
      name: 'wrong option type',
      send: (id) => command(id, { type: 'wipe', options: { keepEnrollmentData: 'yes' } }, 'k4'),
      status: 400,
      code: 'invalid_request',
      field: 'options.keepEnrollmentData',
    },
    {
      name: 'unknown option',
      send: (id) => command(id, { type: 'inactivate', options: { force: true } }, 'k5'),
      status: 400,
      code: 'invalid_request',
      field: 'options.force',
    },
    {
      name: 'missing Idempotency-Key',
      send: (id) => api('POST', `/devices/${id}/commands`, { type: 'wipe' }),
      status: 400,
      code: 'invalid_request',
      field: 'Idempotency-Key',
    },
    {
      name: 'unknown device',
      send: () => command('mdm-nope', { type: 'wipe' }, 'k6'),
      status: 404,
      code: 'device_not_found',
    },
    {
      name: 'unknown action',
      send: (id) => api('POST', `/devices/${id}/actions/self-destruct`),
      status: 400,
      code: 'invalid_request',
      field: 'action',
    },
    {
      name: 'missing auth',
      send: (id) => unauthenticated(id, undefined),
      status: 401,
      code: 'unauthorized',
      field: 'Authorization',
    },
    {
      name: 'bad auth',
      send: (id) => unauthenticated(id, 'Bearer wrong'),
      status: 401,
      code: 'unauthorized',
      field: 'Authorization',
    },
  ];

  async function unauthenticated(id: string, authorization: string | undefined): Promise<Reply> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Idempotency-Key': 'k8' };
    if (authorization) headers.Authorization = authorization;
    const response = await fetch(`${mdm.url}/devices/${id}/commands`, {
      method: 'POST',
      headers,
      body: '{"type":"wipe"}',
    });
    return { status: response.status, body: await response.json(), headers: response.headers };
  }

  it.each(cases)('$name -> $status $code', async ({ send, status, code, field }) => {
    const d = await enrol();
    const before = await device(d.id);
    const reply = await send(d.id);
    expect(reply.status).toBe(status);
    expect(reply.body.error).toMatchObject({ code, message: expect.any(String), details: expect.any(Object) });
    if (field) {
      expect(reply.body.error.message).toContain(field);
      expect(JSON.stringify(reply.body.error.details)).toContain(field);
    }
    await advance(2);
    expect(await device(d.id)).toEqual(before);
    expect((await api('GET', `/devices/${d.id}/commands`)).body.commands).toEqual([]);
  });

  it('an invalid registration names the fields and enrols nothing', async () => {
    const reply = await api('POST', '/devices', { model: 'x', colour: 'red' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.issues.map((i: { field: string }) => i.field).sort()).toEqual([
      'colour',
      'serialNumber',
    ]);
    expect((await api('GET', '/devices')).body.devices).toEqual([]);
  });
});

describe('fault injection', () => {
  it('stalls the next command forever', async () => {
    const d = await enrol();
    await control.addFault({ kind: 'stall-jobs', deviceId: d.id, count: 1 });
    const sent = await command(d.id, { type: 'wipe' }, 'stall-1');
    await advance(100);
    expect((await job(sent.body.jobId)).status).toBe('queued');
    expect((await device(d.id)).status).toBe('active');
    // count: 1 -> only that command stalls.
    const next = await command(d.id, { type: 'delete' }, 'stall-2');
    await advance(2);
    expect((await job(next.body.jobId)).status).toBe('succeeded');
  });

  it('answers the next matching requests with an injected 5xx, then recovers; /admin is never affected', async () => {
    await control.addFault({ kind: 'error', status: 503, count: 2, pathPrefix: '/devices' });
    expect((await api('GET', '/devices')).status).toBe(503);
    expect((await api('GET', '/jobs')).status).toBe(200); // path prefix does not match
    expect((await control.requests()).length).toBe(2);
    expect((await api('GET', '/devices')).status).toBe(503);
    expect((await api('GET', '/devices')).status).toBe(200);
    expect((await control.requests()).map((r) => r.status)).toEqual([503, 200, 503, 200]);
  });
});

describe('rate limit', () => {
  it('accepts N calls per window, then answers 429 with Retry-After like Graph; counts both; /admin is exempt', async () => {
    const d = await enrol();
    expect(await control.setRateLimit({ calls: 3, windowSeconds: 60 })).toEqual({
      limit: { calls: 3, windowSeconds: 60, retryAfter: true, methods: 'all' },
      accepted: 0,
      rejected: 0,
    });
    await control.clearRequests();
    for (let i = 0; i < 3; i++) expect((await api('GET', `/devices/${d.id}`)).status).toBe(200);
    const refused = await api('POST', `/devices/${d.id}/commands`, { type: 'wipe' }, { 'Idempotency-Key': 'rl-1' });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body.error).toMatchObject({
      code: 'TooManyRequests',
      message: expect.any(String),
      innerError: { code: '429', status: '429', 'request-id': expect.any(String) },
      details: { calls: 3, windowSeconds: 60, retryAfterSeconds: retryAfter },
    });
    // Refused means refused: no command was created.
    expect((await control.jobs()).filter((j) => j.deviceId === d.id)).toEqual([]);
    expect((await control.device(d.id)).status).toBe('active'); // /admin is never limited
    expect(await control.rateLimit()).toMatchObject({ accepted: 3, rejected: 1 });
    expect((await control.requests()).map((r) => r.status)).toEqual([200, 200, 200, 429]);

    await control.clearRateLimit();
    expect(await control.rateLimit()).toEqual({ limit: null, accepted: 0, rejected: 0 });
    expect((await api('GET', `/devices/${d.id}`)).status).toBe(200);
  });

  it('leaves Retry-After out when asked to, as Intune sometimes does', async () => {
    await control.setRateLimit({ calls: 1, windowSeconds: 30, retryAfter: false });
    expect((await api('GET', '/devices')).status).toBe(200);
    const refused = await api('GET', '/devices');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBeNull();
    expect(refused.body.error.code).toBe('TooManyRequests');
    expect(refused.body.error.details.retryAfterSeconds).toBeUndefined();
  });

  it('limits only writes when methods is writes', async () => {
    await control.setRateLimit({ calls: 1, windowSeconds: 30, methods: 'writes' });
    const d = await enrol(); // the one write
    for (let i = 0; i < 5; i++) expect((await api('GET', `/devices/${d.id}`)).status).toBe(200);
    expect((await command(d.id, { type: 'wipe' }, 'rl-w')).status).toBe(429);
    expect(await control.rateLimit()).toMatchObject({ accepted: 1, rejected: 1 });
  });

  it('refuses a bad setting naming the field', async () => {
    const reply = await api('PUT', '/admin/rate-limit', { calls: 0, windowSeconds: 20 });
    expect(reply.status).toBe(400);
    expect(reply.body.error.message).toContain('calls');
    expect(
      (await api('PUT', '/admin/rate-limit', { calls: 5, windowSeconds: 20, burst: 2 })).body.error.message,
    ).toContain('burst');
    expect(await control.rateLimit()).toMatchObject({ limit: null });
  });

  it('slides: any span of windowSeconds holds at most `calls` accepted requests, and no fewer are let through', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    await mdm.close();
    await start({ now: () => now });
    const calls = 3;
    const windowMs = 10_000;
    await control.setRateLimit({ calls, windowSeconds: windowMs / 1000 });
    const at = async (ms: number) => {
      now = Date.parse('2030-01-01T00:00:00Z') + ms;
      const reply = await api('GET', '/devices');
      return { status: reply.status, retryAfter: reply.headers.get('Retry-After') };
    };
    // A fixed window [0, 10 s) [10 s, 20 s) would let 10 s, 11 s and 12 s all through.
    expect(await at(0)).toEqual({ status: 200, retryAfter: null });
    expect(await at(4_000)).toMatchObject({ status: 200 });
    expect(await at(8_000)).toMatchObject({ status: 200 });
    expect(await at(9_000)).toEqual({ status: 429, retryAfter: '1' }); // the slot taken at 0 frees at 10 s
    expect(await at(10_000)).toMatchObject({ status: 200 });
    expect(await at(11_000)).toEqual({ status: 429, retryAfter: '3' }); // 4 s + 10 s - 11 s
    expect(await at(13_500)).toEqual({ status: 429, retryAfter: '1' }); // 0.5 s, rounded up
    expect(await at(14_000)).toMatchObject({ status: 200 });

    // A pseudo-random burst pattern: check the exact sliding-window property on what was accepted.
    await control.setRateLimit({ calls, windowSeconds: windowMs / 1000 });
    let seed = 7;
    let t = 100_000;
    const accepted: number[] = [];
    for (let i = 0; i < 80; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      t += seed % 4_000;
      const inWindow = accepted.filter((a) => a > t - windowMs).length;
      const { status } = await at(t);
      expect(status, `request at ${t} with ${inWindow} accepted in the window before it`).toBe(
        inWindow < calls ? 200 : 429,
      );
      if (status === 200) accepted.push(t);
    }
    for (const a of accepted)
      expect(accepted.filter((b) => b > a - windowMs && b <= a).length).toBeLessThanOrEqual(calls);
    expect(accepted.length).toBeGreaterThan(calls); // the pattern actually crossed several windows
    expect(await control.rateLimit()).toMatchObject({ accepted: accepted.length, rejected: 80 - accepted.length });
    expect(80 - accepted.length).toBeGreaterThan(0); // ... and hit the limit
  });

  it('is in memory only: a restart is a clean slate', async () => {
    await control.setRateLimit({ calls: 1, windowSeconds: 60 });
    await mdm.close();
    await start();
    expect(await control.rateLimit()).toEqual({ limit: null, accepted: 0, rejected: 0 });
  });
});

describe('profile inventory', () => {
  const mdmProfile = { identifier: 'com.example.mdm', kind: 'mdm', name: 'MDM Profile' };
  const configurationProfile = {
    identifier: 'com.example.configuration',
    kind: 'configuration',
    name: 'Configuration Profile',
  };
  const removalProfile = { identifier: 'com.example.mdm.removal', kind: 'removal', name: 'Removal Profile' };
  const profiles = async (id: string) => (await api('GET', `/devices/${id}/profiles`)).body.profiles;

  it('lists what the device carries as the device user goes through the seed, and a profile left behind', async () => {
    const d = await enrol();
    expect(await api('GET', `/devices/${d.id}/profiles`)).toMatchObject({
      status: 200,
      body: { deviceId: d.id, profiles: [mdmProfile, configurationProfile] },
    });
    const sent = await command(d.id, { type: 'inactivate' }, 'inv-1');
    await advance();
    await control.installRemovalProfile(d.id);
    expect(await profiles(d.id)).toEqual([mdmProfile, configurationProfile, removalProfile]);

    // The user removes only the configuration profile: the MDM still sees the others; nothing completes.
    const partly = await control.removeConfigurationProfile(d.id);
    expect(partly.device).toMatchObject({ status: 'active', profiles: ['mdm', 'removal'] });
    expect(await profiles(d.id)).toEqual([mdmProfile, removalProfile]);
    await advance(10);
    expect((await job(sent.body.jobId)).status).toBe('acknowledged');
    const again = await api('POST', `/devices/${d.id}/actions/remove-configuration-profile`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'profile_not_installed',
      details: { profiles: ['mdm', 'removal'] },
    });

    await control.removeProfiles(d.id);
    expect(await profiles(d.id)).toEqual([]);
    expect((await job(sent.body.jobId)).status).toBe('succeeded');
  });

  it('shows none after a wipe or a forced factory reset, and the MDM profile for good after a forced inactivation', async () => {
    const wiped = await enrol();
    await command(wiped.id, { type: 'wipe' }, 'inv-wipe');
    await advance(2);
    expect(await profiles(wiped.id)).toEqual([]);

    const reset = await enrol();
    await control.removeApp(reset.id);
    expect(await profiles(reset.id)).toEqual([]);

    const forced = await enrol();
    await command(forced.id, { type: 'inactivate', options: { forced: true } }, 'inv-forced');
    await advance(2);
    expect(await profiles(forced.id)).toEqual([mdmProfile, configurationProfile]);
  });

  it('answers 404 device_not_found for an unknown or deleted record', async () => {
    expect((await api('GET', '/devices/mdm-nope/profiles')).body.error.code).toBe('device_not_found');
    const d = await enrol();
    await api('DELETE', `/devices/${d.id}`);
    const gone = await api('GET', `/devices/${d.id}/profiles`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 'device_not_found', details: { deletedAt: expect.any(String) } });
  });
});

describe('cancelling a command', () => {
  it('fails an unfinished job with cancelled, by job id; it never runs, and a new command of the kind is accepted', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'inactivate' }, 'cancel-1');
    await advance();
    expect((await job(sent.body.jobId)).status).toBe('acknowledged');
    const cancelled = await api('POST', `/jobs/${sent.body.jobId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      jobId: sent.body.jobId,
      status: 'failed',
      error: { code: 'cancelled', message: expect.any(String) },
      finishedAt: expect.any(String),
    });
    expect(await job(sent.body.jobId)).toEqual(cancelled.body);
    // Cancelling again changes nothing.
    expect((await api('POST', `/jobs/${sent.body.jobId}/cancel`)).body).toEqual(cancelled.body);
    // No longer blocks: a new inactivation is accepted instead of 409 command_pending.
    expect((await command(d.id, { type: 'inactivate' }, 'cancel-1b')).status).toBe(201);

    const wipe = await command(d.id, { type: 'wipe' }, 'cancel-wipe');
    expect((await api('POST', `/jobs/${wipe.body.jobId}/cancel`)).body.status).toBe('failed');
    await advance(5);
    expect((await job(wipe.body.jobId)).error.code).toBe('cancelled');
    expect((await device(d.id)).status).toBe('active'); // the cancelled wipe never ran
  });

  it('returns a finished job unchanged', async () => {
    const d = await enrol();
    const sent = await command(d.id, { type: 'wipe' }, 'cancel-done');
    await advance(2);
    const done = await job(sent.body.jobId);
    expect(done.status).toBe('succeeded');
    const reply = await api('POST', `/jobs/${sent.body.jobId}/cancel`);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(done);
  });

  it('cancels a command without a public job id by its idempotency key', async () => {
    const d = await enrol({ omitJobIds: true });
    await command(d.id, { type: 'wipe' }, 'cancel-no-id');
    const reply = await api('POST', `/devices/${d.id}/commands/cancel`, { idempotencyKey: 'cancel-no-id' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      idempotencyKey: 'cancel-no-id',
      status: 'failed',
      error: { code: 'cancelled' },
    });
    expect(reply.body.jobId).toBeUndefined();
    await advance(5);
    expect((await api('GET', `/devices/${d.id}/commands`)).body.commands).toEqual([reply.body]);
    expect((await device(d.id)).status).toBe('active');
  });

  it('answers 404 for an unknown job, key or device, and 400 naming the field for a bad body', async () => {
    const d = await enrol({ omitJobIds: true });
    const hidden = await command(d.id, { type: 'wipe' }, 'cancel-hidden');
    const hiddenId = (await control.jobs()).find((j) => j.idempotencyKey === 'cancel-hidden')!.jobId;
    expect(hidden.body.jobId).toBeUndefined();
    for (const path of ['/jobs/job-nope/cancel', `/jobs/${hiddenId}/cancel`]) {
      const reply = await api('POST', path);
      expect(reply.status).toBe(404);
      expect(reply.body.error.code).toBe('job_not_found');
    }
    const unknownKey = await api('POST', `/devices/${d.id}/commands/cancel`, { idempotencyKey: 'never-sent' });
    expect(unknownKey.status).toBe(404);
    expect(unknownKey.body.error).toMatchObject({
      code: 'command_not_found',
      details: { idempotencyKey: 'never-sent' },
    });
    const unknownDevice = await api('POST', '/devices/mdm-nope/commands/cancel', { idempotencyKey: 'cancel-hidden' });
    expect(unknownDevice.body.error.code).toBe('device_not_found');
    const bad = await api('POST', `/devices/${d.id}/commands/cancel`, { key: 'cancel-hidden' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('idempotencyKey');
    expect((await control.jobs()).find((j) => j.idempotencyKey === 'cancel-hidden')!.status).toBe('queued');
  });
});

describe('outage', () => {
  it('answers every API request 503 (with Retry-After) for its duration; /admin stays reachable; then recovers', async () => {
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    let now = t0;
    await mdm.close();
    await start({ now: () => now });
    const d = await enrol();
    await control.setRateLimit({ calls: 2, windowSeconds: 3600 });
    expect(await control.startOutage({ mode: 'unavailable', seconds: 120, retryAfterSeconds: 30 })).toEqual({
      mode: 'unavailable',
      retryAfterSeconds: 30,
      startedAt: new Date(t0).toISOString(),
      endsAt: new Date(t0 + 120_000).toISOString(),
      requests: 0,
    });
    await control.clearRequests();
    const down = await api('GET', `/devices/${d.id}`);
    expect(down.status).toBe(503);
    expect(down.headers.get('Retry-After')).toBe('30');
    expect(down.body.error).toMatchObject({ code: 'service_unavailable', details: { endsAt: expect.any(String) } });
    now = t0 + 119_999;
    const write = await command(d.id, { type: 'wipe' }, 'outage-wipe');
    expect(write.status).toBe(503);
    expect((await control.jobs()).filter((j) => j.deviceId === d.id)).toEqual([]); // nothing reached the MDM
    expect((await control.device(d.id)).status).toBe('active'); // /admin is never affected
    expect(await control.outage()).toMatchObject({ mode: 'unavailable', requests: 2 });

    now = t0 + 120_000;
    expect((await api('GET', `/devices/${d.id}`)).status).toBe(200);
    expect(await control.outage()).toBeNull();
    expect((await control.requests()).map((r) => r.status)).toEqual([503, 503, 200]);
    // Turned-away requests took no rate-limit slot: one more is still accepted.
    expect((await api('GET', `/devices/${d.id}`)).status).toBe(200);
    expect(await control.rateLimit()).toMatchObject({ accepted: 2, rejected: 0 });
  });

  it('lasts until DELETE when no duration is given, and sends no Retry-After unless asked', async () => {
    await control.startOutage({ mode: 'unavailable' });
    const down = await api('GET', '/devices');
    expect(down.status).toBe(503);
    expect(down.headers.get('Retry-After')).toBeNull();
    await control.advanceClock(365 * 24 * 3600 * 1000); // the emulator clock does not end it
    expect((await api('GET', '/devices')).status).toBe(503);
    expect((await control.outage())?.endsAt).toBeUndefined();
    await control.endOutage();
    expect((await api('GET', '/devices')).status).toBe(200);
  });

  it('refuse drops the connection without an answer (a network error); recorded as such; ends on DELETE', async () => {
    await control.startOutage({ mode: 'refuse' });
    await control.clearRequests();
    const refused = await fetch(`${mdm.url}/devices`, { headers: { Authorization: `Bearer ${apiKey}` } }).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    expect(refused).toBe('TypeError'); // fetch failed: the socket was closed
    expect(await control.outage()).toMatchObject({ mode: 'refuse' });
    const recorded = await control.requests();
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    expect(recorded.every((r) => r.status === 0 && r.noAnswer === true)).toBe(true);
    await control.endOutage();
    expect((await api('GET', '/devices')).status).toBe(200);
  });

  it('refuses a bad setting naming the field, and a restart is a clean slate', async () => {
    const refuseWithHeader = await api('PUT', '/admin/outage', { mode: 'refuse', retryAfterSeconds: 5 });
    expect(refuseWithHeader.status).toBe(400);
    expect(refuseWithHeader.body.error.message).toContain('retryAfterSeconds');
    const badMode = await api('PUT', '/admin/outage', { mode: 'flood', seconds: 0 });
    expect(badMode.status).toBe(400);
    expect(badMode.body.error.details.issues.map((i: { field: string }) => i.field).sort()).toEqual([
      'mode',
      'seconds',
    ]);
    expect(await control.outage()).toBeNull();

    await control.startOutage({ mode: 'unavailable' });
    await mdm.close();
    await start();
    expect(await control.outage()).toBeNull();
    expect((await api('GET', '/devices')).status).toBe(200);
  });
});
