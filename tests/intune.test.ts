/**
 * The Intune adapter (mdm/intune) against the Graph double (tests/support/graphDouble.ts), a real HTTP
 * server on loopback whose answers copy Microsoft's documented examples. No real tenant has been used.
 * Requests are observed on the server side: what was sent, how often, with which token.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/env';
import { MdmSettingsError, createMdmPort } from '../mdm/createMdmPort';
import { MdmError, MdmNotFoundError, MdmRateLimitedError, MdmRejectedError, MdmUnavailableError } from '../mdm/errors';
import { createIntuneMdm, type IntuneMdmOptions } from '../mdm/intune/intuneAdapter';
import { createTokenSource, type TokenSource } from '../mdm/intune/tokenSource';
import type { MdmPort } from '../mdm/port';
import { startGraphDouble, type RunningGraphDouble } from './support/graphDouble';

let graph: RunningGraphDouble;
let clock = Date.now();

function tokens(overrides: { clientSecret?: string } = {}): TokenSource {
  return createTokenSource({
    tokenUrl: graph.tokenUrl,
    clientId: graph.clientId,
    clientSecret: overrides.clientSecret ?? graph.clientSecret,
    timeoutMs: 2_000,
    now: () => clock,
  });
}

function intune(overrides: Partial<IntuneMdmOptions> = {}): MdmPort {
  return createIntuneMdm({
    graphBaseUrl: graph.graphBaseUrl,
    tokens: tokens(),
    timeoutMs: 2_000,
    maxAttempts: 3,
    baseBackoffMs: 10,
    maxBackoffMs: 50,
    ...overrides,
  });
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
  clock = Date.now();
  graph = await startGraphDouble();
});

afterEach(async () => {
  await graph.close();
});

describe('OAuth client credentials', () => {
  it('asks for a token once, reuses it, and asks again shortly before it expires', async () => {
    const mdm = intune();
    const { id } = graph.enrol({ serialNumber: 'TOK-1' });
    await mdm.getDevice(id);
    await mdm.getDevice(id);
    expect(graph.tokenRequests()).toBe(1);
    const [form] = graph.requests({ method: 'POST', pathIncludes: '/oauth2/v2.0/token' });
    expect(form?.body).toEqual({
      client_id: graph.clientId,
      scope: 'https://graph.microsoft.com/.default',
      client_secret: graph.clientSecret,
      grant_type: 'client_credentials',
    });
    const reads = graph.requests({ method: 'GET', pathIncludes: id });
    expect(new Set(reads.map((r) => r.authorization)).size).toBe(1);

    clock += 3599_000 - 4 * 60_000; // inside the five minutes before expiry
    await mdm.getDevice(id);
    expect(graph.tokenRequests()).toBe(2);
  });

  it('fetches a new token when Graph refuses the cached one (401), once', async () => {
    const mdm = intune();
    const { id } = graph.enrol({ serialNumber: 'TOK-2' });
    await mdm.getDevice(id);
    graph.revokeTokens();
    expect((await mdm.getDevice(id))?.id).toBe(id);
    expect(graph.tokenRequests()).toBe(2);
    expect(graph.requests({ method: 'GET', pathIncludes: id }).map((r) => r.status)).toEqual([200, 401, 200]);
  });

  it('refuses a wrong client secret for good, naming the token endpoint error', async () => {
    const mdm = intune({ tokens: tokens({ clientSecret: 'wrong' }) });
    const error = await failure(mdm.getDevice('any'));
    expect(error).toBeInstanceOf(MdmRejectedError);
    expect(error).toMatchObject({ retryable: false, status: 401, mdmCode: 'invalid_client' });
    expect(error.message).toContain('AADSTS7000215');
  });
});

describe('commands', () => {
  it('wipes with keepEnrollmentData and follows the action result from pending to done', async () => {
    const mdm = intune();
    const { id } = graph.enrol({ serialNumber: 'W-1' });
    const input = {
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: true },
      idempotencyKey: 'wipe-1',
    } as const;
    const sent = await mdm.sendCommand(input);
    expect(sent).toMatchObject({ deviceId: id, type: 'wipe', status: 'queued', idempotencyKey: 'wipe-1' });
    expect(sent.jobId).toBeUndefined();
    const posts = graph.requests({ method: 'POST', pathIncludes: '/wipe' });
    expect(posts.map((p) => [p.path, p.body, p.status])).toEqual([
      [`/v1.0/deviceManagement/managedDevices/${id}/wipe`, { keepEnrollmentData: true, keepUserData: false }, 204],
    ]);

    const ref = { deviceId: id, idempotencyKey: 'wipe-1' };
    expect(await mdm.getCommandStatus(ref)).toMatchObject({ status: 'queued' });
    graph.advanceAction(id, 'wipe', 'active');
    expect(await mdm.getCommandStatus(ref)).toMatchObject({ status: 'acknowledged' });
    graph.advanceAction(id, 'wipe', 'done');
    expect(await mdm.getCommandStatus(ref)).toMatchObject({ status: 'succeeded', requestedAt: sent.requestedAt });
    expect(await mdm.getDevice(id)).toMatchObject({ id, serialNumber: 'W-1', status: 'wiped' });

    // A repeat with the key returns the first command and sends nothing.
    expect(await mdm.sendCommand(input)).toMatchObject({ status: 'succeeded', requestedAt: sent.requestedAt });
    expect(graph.requests({ method: 'POST', pathIncludes: '/wipe' })).toHaveLength(1);
    expect(await mdm.listCommands(id)).toMatchObject([{ type: 'wipe', idempotencyKey: 'wipe-1', status: 'succeeded' }]);
    expect(await mdm.getCommandStatus({ deviceId: id, idempotencyKey: 'never-sent' })).toBeNull();
  });

  it('retires (no body): profiles are removed by command, the device ends inactive', async () => {
    const mdm = intune();
    expect(mdm.capabilities).toEqual({ profileRemoval: 'command', cancelCommands: false });
    expect(mdm.cancelCommand).toBeUndefined();
    const { id } = graph.enrol({ serialNumber: 'R-1', configurationProfiles: ['Wi-Fi (office)', 'VPN'] });
    expect((await mdm.listProfiles(id))?.map((p) => [p.kind, p.name])).toEqual([
      ['mdm', 'Intune management (managementState managed)'],
      ['configuration', 'Wi-Fi (office)'],
      ['configuration', 'VPN'],
    ]);
    await mdm.sendCommand({ deviceId: id, type: 'inactivate', options: { forced: false }, idempotencyKey: 'retire-1' });
    const [post] = graph.requests({ method: 'POST', pathIncludes: '/retire' });
    expect(post).toMatchObject({ path: `/v1.0/deviceManagement/managedDevices/${id}/retire`, status: 204 });
    expect(post?.body).toBeUndefined(); // "Do not supply a request body for this method."
    graph.advanceAction(id, 'retire', 'done');
    expect(await mdm.getCommandStatus({ deviceId: id, idempotencyKey: 'retire-1' })).toMatchObject({
      type: 'inactivate',
      status: 'succeeded',
    });
    expect(await mdm.getDevice(id)).toMatchObject({ status: 'inactive', inactivationForced: false });
    expect(await mdm.listProfiles(id)).toEqual([]);
  });

  it('reports a failed action as a failed command', async () => {
    const mdm = intune();
    const { id } = graph.enrol({ serialNumber: 'F-1' });
    await mdm.sendCommand({ deviceId: id, type: 'inactivate', options: { forced: true }, idempotencyKey: 'retire-f' });
    graph.advanceAction(id, 'retire', 'failed');
    expect(await mdm.getCommandStatus({ deviceId: id, idempotencyKey: 'retire-f' })).toMatchObject({
      status: 'failed',
      error: { code: 'intune_action_failed' },
    });
    expect((await mdm.getDevice(id))?.status).toBe('active');
  });

  it('after a restart (a new adapter, nothing remembered) a send with the same key adopts the action instead of sending', async () => {
    const { id } = graph.enrol({ serialNumber: 'A-1' });
    const input = {
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: false },
      idempotencyKey: 'wipe-a',
    } as const;
    await intune().sendCommand(input);
    graph.advanceAction(id, 'wipe', 'done');
    const restarted = intune();
    expect(await restarted.sendCommand(input)).toMatchObject({ status: 'succeeded', idempotencyKey: 'wipe-a' });
    expect(graph.requests({ method: 'POST', pathIncludes: '/wipe' })).toHaveLength(1);
  });

  it('deletes the record (204); a second delete finds it already gone', async () => {
    const mdm = intune();
    const { id } = graph.enrol({ serialNumber: 'D-1' });
    expect(await mdm.deleteDevice(id, 'del-1')).toEqual({ deviceId: id, alreadyGone: false });
    expect(await mdm.deleteDevice(id, 'del-1')).toEqual({ deviceId: id, alreadyGone: true });
    expect(graph.requests({ method: 'DELETE' }).map((r) => [r.path, r.status])).toEqual([
      [`/v1.0/deviceManagement/managedDevices/${id}`, 204],
      [`/v1.0/deviceManagement/managedDevices/${id}`, 404],
    ]);
    expect(await mdm.getDevice(id)).toBeNull();
    expect(await mdm.listProfiles(id)).toBeNull();
    expect(await failure(mdm.listCommands(id))).toBeInstanceOf(MdmNotFoundError);
  });

  it('cannot register a device: Intune devices enrol themselves', async () => {
    const error = await failure(intune().registerDevice({ serialNumber: 'X', model: 'X', idempotencyKey: 'r' }));
    expect(error).toMatchObject({ retryable: false, mdmCode: 'not_supported' });
  });
});

describe('listing', () => {
  it('filters by serial number and follows @odata.nextLink over every page', async () => {
    const mdm = intune();
    const mine = [graph.enrol({ serialNumber: "O'BRIEN-1" }), graph.enrol({ serialNumber: "O'BRIEN-1" })];
    mine.push(graph.enrol({ serialNumber: "O'BRIEN-1" }));
    graph.enrol({ serialNumber: 'OTHER-1' });
    graph.enrol({ serialNumber: 'OTHER-2' });

    const found = await mdm.findDevices({ serialNumber: "O'BRIEN-1" });
    expect(found.map((d) => d.id).sort()).toEqual(mine.map((d) => d.id).sort());
    const pages = graph.requests({ method: 'GET', pathIncludes: '/managedDevices' });
    expect(pages).toHaveLength(2); // 2 + 1 with a page size of 2
    expect(pages[0]?.query.$filter).toBe("serialNumber eq 'O''BRIEN-1'");
    expect(pages[1]?.query).toMatchObject({ $filter: "serialNumber eq 'O''BRIEN-1'", $skiptoken: '2' });

    graph.clearRequests();
    expect(await mdm.findDevices({})).toHaveLength(5);
    expect(graph.requests({ method: 'GET', pathIncludes: '/managedDevices' })).toHaveLength(3);
    expect(await mdm.findDevices({ assetNumber: 'A-1' })).toEqual([]);
  });
});

describe('throttling and outages', () => {
  it('waits out a 429 with a (fractional) Retry-After, then succeeds', async () => {
    const mdm = intune();
    const { id } = graph.enrol({ serialNumber: 'T-1' });
    graph.throttle({ count: 1, retryAfter: '0.2' });
    const started = Date.now();
    expect((await mdm.getDevice(id))?.id).toBe(id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(graph.requests({ pathIncludes: id }).map((r) => r.status)).toEqual([429, 200]);
  });

  it('throws a Retry-After beyond its cap at once, as a retryable rate-limit error with the hint', async () => {
    const mdm = intune({ maxRetryAfterMs: 1_000 });
    const { id } = graph.enrol({ serialNumber: 'T-2' });
    graph.throttle({ count: 1, retryAfter: '120' });
    const error = await failure(
      mdm.sendCommand({ deviceId: id, type: 'wipe', options: { keepEnrollmentData: false }, idempotencyKey: 'w' }),
    );
    expect(error).toBeInstanceOf(MdmRateLimitedError);
    expect(error).toMatchObject({ retryable: true, code: 'rate_limited', retryAfterMs: 120_000 });
    expect(graph.requests({ pathIncludes: '/managedDevices' })).toHaveLength(1);
    // Nothing was sent, so the same key sends once the throttling is over.
    await mdm.sendCommand({ deviceId: id, type: 'wipe', options: { keepEnrollmentData: false }, idempotencyKey: 'w' });
    expect(graph.requests({ method: 'POST', pathIncludes: '/wipe' }).map((r) => r.status)).toEqual([204]);
  });

  it('backs off on a 429 without Retry-After; past maxAttempts a rate-limit error without a hint', async () => {
    const mdm = intune({ maxAttempts: 3 });
    const { id } = graph.enrol({ serialNumber: 'T-3' });
    graph.throttle({ count: 1 });
    expect((await mdm.getDevice(id))?.id).toBe(id);
    graph.clearRequests();
    graph.throttle({ count: 10 });
    const error = await failure(mdm.getDevice(id));
    expect(error).toBeInstanceOf(MdmRateLimitedError);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: undefined });
    expect(graph.requests({ pathIncludes: id }).map((r) => r.status)).toEqual([429, 429, 429]);
  });

  it('an outage (503) is a retryable MdmUnavailableError carrying Retry-After; the adapter works again after it', async () => {
    const mdm = intune({ maxAttempts: 2, maxRetryAfterMs: 1_000 });
    const { id } = graph.enrol({ serialNumber: 'O-1' });
    await mdm.getDevice(id);
    graph.startOutage({ mode: 'unavailable', retryAfter: '300' });
    const error = await failure(mdm.getDevice(id));
    expect(error).toBeInstanceOf(MdmUnavailableError);
    expect(error).toMatchObject({ retryable: true, code: 'unavailable', status: 503, retryAfterMs: 300_000 });
    graph.endOutage();
    expect((await mdm.getDevice(id))?.id).toBe(id);
  });

  it('a dropped wipe is not repeated blindly: the retry looks at the device first, then sends once', async () => {
    const mdm = intune({ maxAttempts: 3 });
    const { id } = graph.enrol({ serialNumber: 'O-2' });
    const input = {
      deviceId: id,
      type: 'wipe',
      options: { keepEnrollmentData: false },
      idempotencyKey: 'w-o',
    } as const;
    const device = graph.device(id)!;
    // The device read passes; the POST's connection is dropped: its fate is unknown to the adapter.
    graph.startOutage({ mode: 'refuse', method: 'POST' });
    const error = await failure(mdm.sendCommand(input));
    expect(error).toMatchObject({ retryable: true, code: 'network' });
    expect(graph.requests({ method: 'POST', pathIncludes: '/wipe' })).toHaveLength(1); // not repeated inside the call
    graph.endOutage();
    expect(device.deviceActionResults).toEqual([]);
    await mdm.sendCommand(input);
    expect(graph.requests({ method: 'POST', pathIncludes: '/wipe' }).filter((r) => r.status === 204)).toHaveLength(1);
    expect(await mdm.listCommands(id)).toMatchObject([{ idempotencyKey: 'w-o', status: 'queued' }]);
  });
});

describe('MDM_KIND=intune at start-up', () => {
  it('names every missing setting', async () => {
    const config = loadConfig({ MDM_KIND: 'intune' });
    const error = await createMdmPort(config, { INTUNE_GRAPH_BASE_URL: 'not a url' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(MdmSettingsError);
    const problems = (error as MdmSettingsError).problems.join('\n');
    for (const name of ['INTUNE_TENANT_ID', 'INTUNE_CLIENT_ID', 'INTUNE_CLIENT_SECRET', 'INTUNE_GRAPH_BASE_URL'])
      expect(problems).toContain(name);
  });

  it('refuses pacing above the documented Intune limits', async () => {
    const env = { INTUNE_TENANT_ID: 't', INTUNE_CLIENT_ID: 'c', INTUNE_CLIENT_SECRET: 's' };
    const config = loadConfig({ MDM_KIND: 'intune', MDM_WRITE_RATE_LIMIT: '300/20s', MDM_RATE_LIMIT: 'off' });
    const error = (await createMdmPort(config, env).catch((err: unknown) => err)) as MdmSettingsError;
    expect(error).toBeInstanceOf(MdmSettingsError);
    expect(error.problems).toEqual([
      expect.stringContaining('MDM_RATE_LIMIT=off'),
      expect.stringContaining('MDM_WRITE_RATE_LIMIT allows 300 per 20 s'),
    ]);
    expect(error.message).not.toContain("'s'");
  });

  it('builds the adapter from its settings and talks to Graph with them', async () => {
    const env = {
      INTUNE_TENANT_ID: graph.tenantId,
      INTUNE_CLIENT_ID: graph.clientId,
      INTUNE_CLIENT_SECRET: graph.clientSecret,
      INTUNE_GRAPH_BASE_URL: graph.graphBaseUrl,
      INTUNE_TOKEN_URL: graph.tokenUrl,
    };
    const setup = await createMdmPort(loadConfig({ MDM_KIND: 'intune' }), env);
    expect(setup.describe).toContain(graph.graphBaseUrl);
    const { id } = graph.enrol({ serialNumber: 'S-1' });
    expect((await setup.port.getDevice(id))?.serialNumber).toBe('S-1');
  });
});
