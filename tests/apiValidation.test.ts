/**
 * Everything the API must decide before asking Temporal: credentials, roles, input validation, body
 * limits, error shape. The Temporal client here is lazy and points nowhere, so a test that reached
 * Temporal by mistake would fail (503/timeout) instead of passing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asset, memoryDb, startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { StaticTokenAuthenticator } from '../api/auth';
import { MAX_BULK_ASSETS } from '../api/schemas';
import { literal, visibilityQuery, decodeCursor, encodeCursor } from '../api/workflowList';
import { loadConfig } from '../config/env';

const NOW = new Date('2025-06-02T09:00:00Z');
const changeUser = { reason: 'Leaver', plannedCollectionDate: '2025-06-10', storageLocation: 'Locker 3' };

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({
    db: memoryDb([asset('A-000001')]),
    clock: () => NOW,
    env: { API_RATE_LIMIT_PER_MINUTE: '100000' },
  });
});
afterAll(async () => {
  await api?.close();
});

function expectError(
  res: { status: number; body: { error?: { code?: string; message?: string } } },
  status: number,
  code?: string,
) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(typeof res.body.error?.message).toBe('string');
  if (code) expect(res.body.error?.code).toBe(code);
}

const fields = (res: { body: { error: { details: { problems: { field: string }[] } } } }) =>
  res.body.error.details.problems.map((p) => p.field);

describe('health', () => {
  it('answers /healthz without credentials, at the root and under /api/v1', async () => {
    for (const path of ['/healthz', '/api/v1/healthz']) {
      const res = await api.call('GET', path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    }
  });

  it('reports not ready (503, naming the check) when Temporal does not answer', async () => {
    const res = await api.call('GET', '/readyz');
    expectError(res, 503, 'not-ready');
    const checks = res.body.error.details.checks as { name: string; ok: boolean }[];
    expect(checks.find((c) => c.name === 'temporal')?.ok).toBe(false);
    expect(checks.find((c) => c.name === 'database')?.ok).toBe(true);
  });
});

describe('authentication', () => {
  it('refuses a request without credentials (401, WWW-Authenticate)', async () => {
    const res = await api.call('GET', '/api/v1/workflows');
    expectError(res, 401, 'unauthorized');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('refuses an unknown token and a malformed header', async () => {
    expectError(await api.call('GET', '/api/v1/workflows', { token: 'dev-admin-tokeX' }), 401);
    expectError(await api.call('GET', '/api/v1/workflows', { headers: { authorization: 'Basic YWJjOmRlZg==' } }), 401);
    expectError(await api.call('GET', '/api/v1/workflows', { headers: { authorization: 'Bearer' } }), 401);
  });

  it('does not reveal routes to anonymous callers', async () => {
    expectError(await api.call('GET', '/api/v1/no-such-route'), 401);
    expectError(await api.call('GET', '/api/v1/no-such-route', { token: TOKENS.viewer }), 404, 'not-found');
  });

  it('maps configured tokens to actors', async () => {
    const auth = new StaticTokenAuthenticator(loadConfig({}).API_TOKENS);
    // The credential names the static token by its actor, for the audit trail (never the token itself).
    expect(await auth.authenticate('dev-admin-token')).toEqual({
      id: 'admin@local',
      role: 'admin',
      credential: 'static:admin@local',
    });
    expect(await auth.authenticate('dev-field-token')).toEqual({
      id: 'field@local',
      role: 'field-staff',
      credential: 'static:field@local',
    });
    expect(await auth.authenticate('dev-viewer-token')).toEqual({
      id: 'viewer@local',
      role: 'viewer',
      credential: 'static:viewer@local',
    });
    expect(await auth.authenticate('')).toBeUndefined();
    expect(await auth.authenticate('dev-admin-token ')).toBeUndefined();
  });
});

describe('configuration of tokens', () => {
  it('parses token=actorId:role entries, ids may contain colons', () => {
    const c = loadConfig({ API_TOKENS: 'aaaaaaaaaaaa=urn:x:alice:admin, bbbbbbbbbbbb=bob:viewer' });
    expect(c.API_TOKENS).toEqual([
      { token: 'aaaaaaaaaaaa', actorId: 'urn:x:alice', role: 'admin' },
      { token: 'bbbbbbbbbbbb', actorId: 'bob', role: 'viewer' },
    ]);
  });

  it('refuses bad entries without echoing the secret, and the dev tokens in production', () => {
    expect(() => loadConfig({ API_TOKENS: 'short=alice:admin' })).toThrow(/API_TOKENS=\(redacted\)/);
    expect(() => loadConfig({ API_TOKENS: 'aaaaaaaaaaaa=alice:root' })).toThrow(/role one of/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/API_TOKENS: must be set in production/);
    const keys = { PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };
    // Production wants 32+ random characters (config/credentialRules.ts; tests/apiCredentials.test.ts).
    expect(() => loadConfig({ NODE_ENV: 'production', API_TOKENS: 'aaaaaaaaaaaaaaaa=alice:admin', ...keys })).toThrow(
      /API_TOKENS: entry #1 \(actor alice\) is too weak for production/,
    );
    const strong = 'Zq3vN8xLr2Tb6WcY1mKp9HdF4sJg7Ae0';
    expect(
      loadConfig({ NODE_ENV: 'production', API_TOKENS: `${strong}=alice:admin`, ...keys }).API_TOKENS,
    ).toHaveLength(1);
  });
});

describe('roles', () => {
  const adminOnly: [string, string, unknown][] = [
    ['POST', '/api/v1/devices/A-000001/change-user', changeUser],
    ['POST', '/api/v1/devices/A-000001/inactivation', { reason: 'Broken' }],
    ['POST', '/api/v1/collections', { ...changeUser, assetNumbers: ['A-000001'] }],
    ['POST', '/api/v1/inactivations', { reason: 'Broken', assetNumbers: ['A-000001'] }],
    ['POST', '/api/v1/workflows/device-A-000001/cancel', {}],
    ['POST', '/api/v1/workflows/device-A-000001/retry', {}],
    ['POST', '/api/v1/workflows/device-A-000001/abort', {}],
  ];

  it.each(adminOnly)('%s %s is admin only (403 for field staff and viewers)', async (method, path, body) => {
    for (const token of [TOKENS.field, TOKENS.viewer]) {
      const res = await api.call(method, path, { token, body });
      expectError(res, 403, 'forbidden');
      expect(res.body.error.details.allowed).toEqual(['admin']);
    }
  });

  it('lets field staff and admins report events, not viewers', async () => {
    const path = '/api/v1/workflows/device-A-000001/events/device-collected';
    expectError(await api.call('POST', path, { token: TOKENS.viewer, body: { data: { collectedBy: 'x' } } }), 403);
    // Field staff and admins get past the role check: a bad payload then gets a 400, not a 403.
    for (const token of [TOKENS.field, TOKENS.admin]) {
      expectError(await api.call('POST', path, { token, body: { data: {} } }), 400, 'invalid-input');
    }
  });

  it('checks the role before the body (no validation detail leaks to the wrong role)', async () => {
    const res = await api.call('POST', '/api/v1/devices/A-000001/change-user', {
      token: TOKENS.viewer,
      body: { nonsense: true },
    });
    expectError(res, 403);
  });
});

describe('path identifiers', () => {
  it.each(['A-00001', 'a-000001', 'A-0000012', 'A-000001%20', '%27%20OR%201%3D1'])(
    'refuses asset number %s',
    async (bad) => {
      const res = await api.call('POST', `/api/v1/devices/${bad}/change-user`, {
        token: TOKENS.admin,
        body: changeUser,
      });
      expectError(res, 400, 'invalid-input');
      expect(fields(res)).toEqual(['assetNumber']);
    },
  );

  it.each(['A-000001', 'device-A-1', 'device-A-000001x', 'other-A-000001'])('refuses workflow id %s', async (bad) => {
    const res = await api.call('GET', `/api/v1/workflows/${bad}`, { token: TOKENS.viewer });
    expectError(res, 400);
    expect(fields(res)).toEqual(['workflowId']);
  });

  it('refuses an event name that is not a human event', async () => {
    for (const bad of ['cancel', 'state', 'device_collected', 'x']) {
      const res = await api.call('POST', `/api/v1/workflows/device-A-000001/events/${bad}`, {
        token: TOKENS.field,
        body: { data: {} },
      });
      expectError(res, 400);
      expect(fields(res)).toEqual(['event']);
      expect(res.body.error.message).toContain('device-collected');
    }
  });

  it('answers 404 for an asset that is not in the database, before starting anything', async () => {
    const res = await api.call('POST', '/api/v1/devices/A-999999/change-user', {
      token: TOKENS.admin,
      body: changeUser,
    });
    expectError(res, 404, 'not-found');
    expect(res.body.error.message).toContain('A-999999');
  });
});

describe('change-user body', () => {
  const post = (body: unknown) =>
    api.call('POST', '/api/v1/devices/A-000001/change-user', { token: TOKENS.admin, body });

  it('names every missing field', async () => {
    const res = await post({});
    expectError(res, 400, 'invalid-input');
    expect(fields(res).sort()).toEqual(['plannedCollectionDate', 'reason', 'storageLocation']);
  });

  it('refuses unknown fields by name, top level and nested', async () => {
    const res = await post({
      ...changeUser,
      forcd: true,
      newUser: { department: 'D', location: 'L', name: 'N', email: 'n@example.com', mobile: '1' },
    });
    expectError(res, 400);
    expect(fields(res).sort()).toEqual(['forcd', 'newUser.mobile']);
  });

  it.each(['2025-13-01', '2025-06-31', '10/06/2025', '2025-06-10T09:00', 'tomorrow', ''])(
    'refuses the date %j',
    async (d) => {
      const res = await post({ ...changeUser, plannedCollectionDate: d });
      expectError(res, 400);
      expect(fields(res)).toEqual(['plannedCollectionDate']);
    },
  );

  it('refuses a planned date in the past or years ahead', async () => {
    for (const d of ['2025-05-01', '2028-01-01T00:00:00Z']) {
      const res = await post({ ...changeUser, plannedCollectionDate: d });
      expectError(res, 400);
      expect(fields(res)).toEqual(['plannedCollectionDate']);
    }
  });

  it('refuses wrong types and bad new-user details', async () => {
    const res = await post({
      ...changeUser,
      keepRecordAfterWipe: 'yes',
      reason: '   ',
      newUser: { department: 'D', location: 'L', name: 'N', email: 'not-an-email' },
    });
    expectError(res, 400);
    expect(fields(res).sort()).toEqual(['keepRecordAfterWipe', 'newUser.email', 'reason']);
  });

  it('refuses a body that is not an object', async () => {
    for (const body of ['[]', '"text"', '42', 'null']) {
      const res = await post(body);
      expectError(res, 400);
    }
  });
});

describe('inactivation body', () => {
  const post = (body: unknown) =>
    api.call('POST', '/api/v1/devices/A-000001/inactivation', { token: TOKENS.admin, body });

  it('refuses forced without acknowledgeProfileStays: true, naming that field', async () => {
    for (const body of [
      { reason: 'Lost', forced: true },
      { reason: 'Lost', forced: true, acknowledgeProfileStays: false },
    ]) {
      const res = await post(body);
      expectError(res, 400, 'invalid-input');
      expect(fields(res)).toEqual(['acknowledgeProfileStays']);
      expect(res.body.error.message).toMatch(/profile/);
    }
  });

  it('refuses an unknown final status and unknown fields', async () => {
    const res = await post({ reason: 'Lost', finalStatus: 'scrapped', force: true });
    expectError(res, 400);
    expect(fields(res).sort()).toEqual(['finalStatus', 'force']);
  });
});

describe('bulk bodies', () => {
  it(`requires 1..${MAX_BULK_ASSETS} asset numbers`, async () => {
    for (const assetNumbers of [
      [],
      Array.from({ length: MAX_BULK_ASSETS + 1 }, (_, i) => `A-${String(i).padStart(6, '0')}`),
      'A-000001',
    ]) {
      const res = await api.call('POST', '/api/v1/collections', {
        token: TOKENS.admin,
        body: { ...changeUser, assetNumbers },
      });
      expectError(res, 400);
      expect(fields(res)).toEqual(['assetNumbers']);
    }
  });

  it('reports malformed, duplicate and unknown assets per row, in input order, without Temporal', async () => {
    const res = await api.call('POST', '/api/v1/inactivations', {
      token: TOKENS.admin,
      body: { reason: 'Old', assetNumbers: ['bad', 'A-999998', 'A-999998'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { assetNumber: string; result: string }) => [r.assetNumber, r.result])).toEqual([
      ['bad', 'invalid'],
      ['A-999998', 'unknown-asset'],
      ['A-999998', 'invalid'],
    ]);
    expect(res.body.results[2].error.code).toBe('duplicate');
    expect(res.body.counts).toEqual({ invalid: 2, 'unknown-asset': 1 });
  });

  it('applies the forced acknowledgement rule to bulk inactivations', async () => {
    const res = await api.call('POST', '/api/v1/inactivations', {
      token: TOKENS.admin,
      body: { reason: 'Old', forced: true, assetNumbers: ['A-000001'] },
    });
    expectError(res, 400);
    expect(fields(res)).toEqual(['acknowledgeProfileStays']);
  });
});

describe('event and command bodies', () => {
  const path = '/api/v1/workflows/device-A-000001/events/device-collected';

  it('names payload fields under data, including unknown ones', async () => {
    const res = await api.call('POST', path, { token: TOKENS.field, body: { data: { who: 'x' } } });
    expectError(res, 400);
    expect(fields(res).sort()).toEqual(['data.collectedBy', 'data.who']);
  });

  it('refuses payload fields outside data and an actor in the body', async () => {
    const res = await api.call('POST', path, {
      token: TOKENS.field,
      body: { collectedBy: 'x', actor: { id: 'boss', role: 'admin' } },
    });
    expectError(res, 400);
    expect(fields(res)).toEqual(['collectedBy, actor']);
  });

  it('validates the idempotency key from the body and the header, and refuses two different keys', async () => {
    const data = { collectedBy: 'Field Tech' };
    expect(
      fields(await api.call('POST', path, { token: TOKENS.field, body: { idempotencyKey: 'short', data } })),
    ).toEqual(['idempotencyKey']);
    expect(
      fields(
        await api.call('POST', path, {
          token: TOKENS.field,
          body: { data },
          headers: { 'idempotency-key': 'bad key with spaces' },
        }),
      ),
    ).toEqual(['Idempotency-Key']);
    const both = await api.call('POST', path, {
      token: TOKENS.field,
      body: { idempotencyKey: 'key-aaaaaaaa', data },
      headers: { 'idempotency-key': 'key-bbbbbbbb' },
    });
    expectError(both, 400);
    expect(fields(both)).toEqual(['idempotencyKey']);
  });

  it('refuses unknown fields in admin commands', async () => {
    const res = await api.call('POST', '/api/v1/workflows/device-A-000001/cancel', {
      token: TOKENS.admin,
      body: { reason: 'x', force: 1 },
    });
    expectError(res, 400);
    expect(fields(res)).toEqual(['force']);
  });
});

describe('list filters', () => {
  const list = (qs: string) => api.call('GET', `/api/v1/workflows?${qs}`, { token: TOKENS.viewer });

  it.each([
    ['type=move', 'type'],
    ['step=flying', 'step'],
    ['status=sleeping', 'status'],
    ['asset=A-1', 'asset'],
    ['needsAttention=yes', 'needsAttention'],
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=abc', 'limit'],
    ['colour=red', 'colour'],
    ['type=change-user&type=inactivation', 'type'],
    ['department=%01x', 'department'],
    ['cursor=not*base64', 'cursor'],
  ])('refuses %s', async (qs, field) => {
    const res = await list(qs);
    expectError(res, 400);
    expect(fields(res)).toEqual([field]);
  });

  it('builds an escaped visibility query', () => {
    expect(literal("O'Brien \\ Co")).toBe("'O\\'Brien \\\\ Co'");
    const q = visibilityQuery({ type: 'change-user', department: "R&D' OR 1=1", needsAttention: true, limit: 50 });
    expect(q).toBe("WorkflowType = 'changeDeviceUser' AND Department = 'R&D\\' OR 1=1' AND NeedsAttention = true");
  });

  it('binds a cursor to its filters', () => {
    const cursor = encodeCursor('q1', Buffer.from('token'));
    expect(decodeCursor('q1', cursor).toString()).toBe('token');
    expect(() => decodeCursor('q2', cursor)).toThrow(/cursor/);
  });
});

describe('body transport', () => {
  const path = '/api/v1/devices/A-000001/inactivation';

  it('answers malformed JSON with 400', async () => {
    const res = await api.call('POST', path, { token: TOKENS.admin, body: '{"reason": ' });
    expectError(res, 400, 'malformed-json');
  });

  it('answers a body over the limit with 413', async () => {
    const res = await api.call('POST', path, { token: TOKENS.admin, body: { reason: 'x'.repeat(300 * 1024) } });
    expectError(res, 413, 'body-too-large');
  });

  it('answers a non-JSON body with 415', async () => {
    const res = await api.call('POST', path, {
      token: TOKENS.admin,
      body: 'reason=x',
      contentType: 'application/x-www-form-urlencoded',
    });
    expectError(res, 415, 'unsupported-media-type');
  });

  it('gives every answer a request id, and keeps a well-formed one from the caller', async () => {
    const res = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'trace-12345678' } });
    expect(res.headers.get('x-request-id')).toBe('trace-12345678');
    const other = await api.call('GET', '/healthz', { headers: { 'x-request-id': 'bad id\u00e9' } });
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once an actor has used its burst, per actor', async () => {
    const limited = await startApi({ env: { API_RATE_LIMIT_PER_MINUTE: '60' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push((await limited.call('GET', '/api/v1/workflows?limit=0', { token: TOKENS.viewer })).status);
      expect(statuses.slice(0, 10).every((s) => s === 400)).toBe(true);
      const res = await limited.call('GET', '/api/v1/workflows?limit=0', { token: TOKENS.viewer });
      expectError(res, 429, 'rate-limited');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another actor has its own bucket.
      expect((await limited.call('GET', '/api/v1/workflows?limit=0', { token: TOKENS.field })).status).toBe(400);
    } finally {
      await limited.close();
    }
  });
});
