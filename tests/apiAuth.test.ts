/**
 * Authentication end to end: OIDC JWTs signed by real keys and checked against a JWKS served over HTTP,
 * API keys in a real database (through the repository, the admin routes and the CLI), static tokens,
 * all through one API started with the production authenticator (createAuthenticator).
 *
 * Decision tested here: a valid token that grants no role of this service (role claim missing, or only
 * unknown values) is a 403, not a 401. The caller is authenticated; signing in again will not help.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createAuthenticator, OidcAuthenticator } from '../api/auth';
import { loadConfig } from '../config/env';
import * as apiKeysRepo from '../db/apiKeysRepo';
import { startApi, TOKENS, type ApiHarness, type CallResult } from './support/apiHarness';
import {
  serveJwks,
  signHmacToken,
  signToken,
  testSigningKey,
  unsignedToken,
  type JwksServer,
  type TestSigningKey,
} from './support/jwks';
import { createTestDatabase, type TestDatabase } from './support/postgres';

const ISSUER = 'https://idp.test.example/realms/devices';
const AUDIENCE = 'device-lifecycle-api';
const ROOT = path.resolve(import.meta.dirname, '..');

let db: TestDatabase;
let jwks: JwksServer;
let api: ApiHarness;
let rsa: TestSigningKey;
let ec: TestSigningKey;
/** Same kid as `rsa` but never published: a forged signature. */
let impostor: TestSigningKey;
/** Published nowhere, under its own kid. */
let stranger: TestSigningKey;

beforeAll(async () => {
  [db, rsa, ec, impostor, stranger] = await Promise.all([
    createTestDatabase(),
    testSigningKey('RS256', 'rsa-1'),
    testSigningKey('ES256', 'ec-1'),
    testSigningKey('RS256', 'rsa-1'),
    testSigningKey('ES256', 'other'),
  ]);
  jwks = await serveJwks([rsa, ec]);
  const env = {
    OIDC_ISSUER: ISSUER,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_JWKS_URL: jwks.url,
    API_RATE_LIMIT_PER_MINUTE: '100000',
  };
  const config = loadConfig({ NODE_ENV: 'test', ...env });
  api = await startApi({
    temporalAddress: inject('temporalAddress'),
    db: db.pool,
    env,
    auth: createAuthenticator({ config, pool: db.pool, logger: { error: () => undefined, warn: () => undefined } }),
  });
});

afterAll(async () => {
  await api?.close();
  await jwks?.close();
  await db?.drop();
});

const jwt = (key: TestSigningKey, claims: Record<string, unknown>, options: Parameters<typeof signToken>[2] = {}) =>
  signToken(key, claims, { issuer: ISSUER, audience: AUDIENCE, ...options });

function expectUnauthorized(res: CallResult, message: string | RegExp, token?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(401);
  expect(res.body.error.code).toBe('unauthorized');
  expect(res.body.error.message).toMatch(message);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="device-lifecycle", error="invalid_token"/);
  // Nothing of the credential comes back: neither the token nor the issuer/audience it should have had.
  const text = JSON.stringify(res.body) + (res.headers.get('www-authenticate') ?? '');
  if (token) expect(text).not.toContain(token.slice(-16));
  expect(text).not.toContain(AUDIENCE);
  expect(text).not.toContain(ISSUER);
}

function expectForbidden(res: CallResult, message?: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(403);
  expect(res.body.error.code).toBe('forbidden');
  if (message) expect(res.body.error.message).toMatch(message);
}

/** One route per level: read (any role), report (field staff, admins), admin. */
const READ = ['GET', '/api/v1/workflows'] as const;
const REPORT = ['POST', '/api/v1/workflows/device-A-999999/events/device-collected'] as const;
const ADMIN = ['GET', '/api/v1/api-keys'] as const;
const reportBody = { data: { collectedBy: 'Field Person' } };

async function levels(token: string) {
  return {
    read: (await api.call(READ[0], READ[1], { token })).status,
    // Past the role check, a report on a workflow that does not exist is a 404.
    report: (await api.call(REPORT[0], REPORT[1], { token, body: reportBody })).status,
    admin: (await api.call(ADMIN[0], ADMIN[1], { token })).status,
  };
}

describe('OIDC tokens', () => {
  it.each([
    ['viewer', 'RS256', { read: 200, report: 403, admin: 403 }],
    ['field-staff', 'ES256', { read: 200, report: 404, admin: 403 }],
    ['admin', 'RS256', { read: 200, report: 404, admin: 200 }],
  ] as const)(
    'a %s token (%s) is allowed on its routes and refused (403) above its role',
    async (role, alg, expected) => {
      const token = await jwt(alg === 'RS256' ? rsa : ec, { sub: `${role}@example.com`, roles: [role] });
      expect(await levels(token)).toEqual(expected);
    },
  );

  it('names the 403: the role held and the roles allowed', async () => {
    const token = await jwt(rsa, { sub: 'v@example.com', roles: 'viewer' });
    const res = await api.call('POST', '/api/v1/api-keys', { token, body: { actorId: 'x', role: 'viewer' } });
    expectForbidden(res, /role viewer may not do this \(needs admin\)/);
    expect(res.body.error.details).toEqual({ role: 'viewer', allowed: ['admin'] });
  });

  it('records the token actor as the author of a change: sub by default, whatever email the token carries', async () => {
    const withEmail = await jwt(rsa, {
      sub: 'u-1',
      email: 'Alice.Admin@example.com',
      email_verified: true,
      roles: ['admin'],
    });
    const withoutEmail = await jwt(ec, { sub: 'u-2', roles: ['admin'] });
    for (const [token, author] of [
      [withEmail, 'u-1'],
      [withoutEmail, 'u-2'],
    ] as const) {
      const res = await api.call('POST', '/api/v1/api-keys', {
        token,
        body: { actorId: 'robot@example.com', role: 'viewer' },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.apiKey.createdBy).toBe(author);
    }
  });

  it('refuses expired, not-yet-valid, missing-expiry tokens with the reason', async () => {
    const claims = { sub: 'a@example.com', roles: ['admin'] };
    const cases: [string, RegExp][] = [
      [await jwt(rsa, claims, { expiresIn: -120 }), /^token expired$/],
      [await jwt(rsa, claims, { notBefore: 120 }), /^token not yet valid$/],
      [await jwt(rsa, claims, { expiresIn: null }), /^token has no valid expiry/],
    ];
    for (const [token, message] of cases) expectUnauthorized(await api.call(...READ, { token }), message, token);
  });

  it('accepts a token expired within the clock tolerance (30 s by default)', async () => {
    const token = await jwt(rsa, { sub: 'a@example.com', roles: ['viewer'] }, { expiresIn: -10 });
    expect((await api.call(...READ, { token })).status).toBe(200);
  });

  it('refuses forged and foreign signatures, HS256 and alg none', async () => {
    const claims = { sub: 'mallory@example.com', roles: ['admin'] };
    const cases: [string, RegExp][] = [
      [await jwt(impostor, claims), /^invalid token signature$/],
      [await jwt(stranger, claims), /^invalid token signature$/],
      [await jwt(ec, claims, { kid: 'rsa-1' }), /^(invalid token signature|token algorithm not allowed)$/],
      [
        await signHmacToken(claims, { kid: 'rsa-1', issuer: ISSUER, audience: AUDIENCE }),
        /^token algorithm not allowed$/,
      ],
      [unsignedToken({ ...claims, iss: ISSUER, aud: AUDIENCE }), /^(invalid token|token algorithm not allowed)$/],
      ['bm90LWpzb24.bm90LWpzb24.c2ln', /^invalid token$/],
    ];
    for (const [token, message] of cases) expectUnauthorized(await api.call(...ADMIN, { token }), message, token);
  });

  it('refuses a wrong audience or issuer without saying which were expected', async () => {
    const claims = { sub: 'a@example.com', roles: ['admin'] };
    expectUnauthorized(
      await api.call(...READ, { token: await jwt(rsa, claims, { audience: 'some-other-api' }) }),
      /^token audience not accepted$/,
    );
    expectUnauthorized(
      await api.call(...READ, { token: await jwt(rsa, claims, { issuer: 'https://evil.example' }) }),
      /^token issuer not accepted$/,
    );
  });

  it('answers 403 (authenticated, but no role here) for a missing role claim or unknown roles', async () => {
    for (const claims of [
      { sub: 'nobody@example.com' },
      { sub: 'nobody@example.com', roles: ['superuser', 'Admin'] },
      { sub: 'nobody@example.com', roles: 42 },
    ]) {
      const res = await api.call(...READ, { token: await jwt(rsa, claims) });
      expectForbidden(res, /^nobody@example\.com has no role in this service \(token claim "roles"\)$/);
    }
  });

  it('refuses (401) a token that names nobody', async () => {
    expectUnauthorized(
      await api.call(...READ, { token: await jwt(rsa, { roles: ['admin'] }) }),
      /^token names no subject$/,
    );
  });

  it('fetches the key set once and caches it', () => {
    expect(jwks.fetches()).toBeGreaterThanOrEqual(1);
    // Unknown kids may trigger one refetch (rotation), bounded by jose's cooldown; never one per request.
    expect(jwks.fetches()).toBeLessThanOrEqual(3);
  });
});

describe('OIDC claim rules', () => {
  const verifier = (overrides: Partial<ConstructorParameters<typeof OidcAuthenticator>[0]> = {}) =>
    new OidcAuthenticator({
      issuer: ISSUER,
      audience: [AUDIENCE, 'second-audience'],
      jwksUrl: jwks.url,
      algorithms: ['RS256', 'ES256'],
      clockToleranceSeconds: 30,
      actorClaim: 'sub',
      roleClaim: 'roles',
      logger: { error: () => undefined },
      ...overrides,
    });

  /** What the verifier answers: the actor, and the credential as `oidc:<iss>|<sub>` for the audit trail. */
  const oidcActor = (id: string, role: string, sub = id) => ({ id, role, credential: `oidc:${ISSUER}|${sub}` });

  it('maps provider groups to roles, only those listed, the widest role winning', async () => {
    const auth = verifier({
      roleClaim: 'groups',
      roleMap: { 'it-admins': 'admin', field: 'field-staff', staff: 'viewer' },
    });
    const as = async (groups: unknown) => auth.authenticate(await jwt(rsa, { sub: 'p@example.com', groups }));
    expect(await as(['staff', 'field'])).toEqual(oidcActor('p@example.com', 'field-staff'));
    expect(await as(['staff', 'it-admins', 'field'])).toEqual(oidcActor('p@example.com', 'admin'));
    expect(await as('staff')).toEqual(oidcActor('p@example.com', 'viewer'));
    // With a map, our own role names are not trusted to mean the same at the provider.
    await expect(as(['admin'])).rejects.toMatchObject({ status: 403 });
    await expect(as(['__proto__', 'constructor'])).rejects.toMatchObject({ status: 403 });
  });

  it('reads a nested role claim, a space-separated string, a custom actor claim, any listed audience', async () => {
    const auth = verifier({ roleClaim: 'realm_access.roles', actorClaim: 'preferred_username' });
    const token = await jwt(
      ec,
      { preferred_username: 'fieldy', realm_access: { roles: ['offline_access', 'field-staff'] } },
      { audience: 'second-audience' },
    );
    // No sub in this token: the credential names the actor claim's value instead.
    expect(await auth.authenticate(token)).toEqual(oidcActor('fieldy', 'field-staff'));
    const scopeStyle = verifier({ roleClaim: 'scope' });
    expect(await scopeStyle.authenticate(await jwt(rsa, { sub: 's@example.com', scope: 'openid viewer' }))).toEqual(
      oidcActor('s@example.com', 'viewer'),
    );
  });

  it('honours the allowed algorithms', async () => {
    const rsOnly = verifier({ algorithms: ['RS256'] });
    await expect(rsOnly.authenticate(await jwt(ec, { sub: 'e@example.com', roles: ['viewer'] }))).rejects.toThrow(
      /^token algorithm not allowed$/,
    );
  });

  it("is a 503 (not the caller's fault) when the key set cannot be fetched, and a 401 is not faked", async () => {
    const down = await serveJwks([]);
    const url = down.url;
    await down.close();
    const auth = verifier({ jwksUrl: url });
    await expect(auth.authenticate(await jwt(rsa, { sub: 'a@example.com', roles: ['admin'] }))).rejects.toMatchObject({
      status: 503,
      code: 'auth-unavailable',
    });
  });

  it('picks up a rotated key (unknown kid triggers a refetch)', async () => {
    const server = await serveJwks([rsa]);
    try {
      const auth = verifier({ jwksUrl: server.url, jwksCooldownMs: 0 });
      expect(await auth.authenticate(await jwt(rsa, { sub: 'a@example.com', roles: ['viewer'] }))).toBeDefined();
      const next = await testSigningKey('ES256', 'rotated');
      server.publish([rsa, next]);
      expect(await auth.authenticate(await jwt(next, { sub: 'a@example.com', roles: ['viewer'] }))).toEqual(
        oidcActor('a@example.com', 'viewer'),
      );
    } finally {
      await server.close();
    }
  });
});

describe('API keys', () => {
  const create = (role: 'admin' | 'field-staff' | 'viewer', extra: Partial<apiKeysRepo.ApiKeyInput> = {}) =>
    apiKeysRepo.create(db.pool, { actorId: `${role}-bot@example.com`, role, createdBy: 'test', ...extra });

  it('authenticate per role, allowed on its routes and 403 above them', async () => {
    expect(await levels((await create('viewer')).key)).toEqual({ read: 200, report: 403, admin: 403 });
    expect(await levels((await create('field-staff')).key)).toEqual({ read: 200, report: 404, admin: 403 });
    expect(await levels((await create('admin')).key)).toEqual({ read: 200, report: 404, admin: 200 });
  });

  it('are stored as a hash only, with a prefix to tell them apart', async () => {
    const { key, apiKey } = await create('viewer', { name: 'kiosk' });
    expect(key).toMatch(/^dlk_[A-Za-z0-9_-]{43}$/);
    expect(apiKey.keyPrefix).toBe(key.slice(0, 12));
    const { rows } = await db.pool.query('SELECT * FROM api_keys WHERE id = $1', [apiKey.id]);
    expect(rows[0].key_hash).toBe(apiKeysRepo.hashApiKey(key));
    expect(JSON.stringify(rows[0])).not.toContain(key.slice(12));
  });

  it('refuses a revoked key and an expired key (401, with the reason)', async () => {
    const revoked = await create('admin');
    await apiKeysRepo.revoke(db.pool, revoked.apiKey.id, 'test');
    expectUnauthorized(await api.call(...READ, { token: revoked.key }), /^API key revoked$/, revoked.key);
    const expired = await create('admin', { expiresAt: new Date(Date.now() - 1000) });
    expectUnauthorized(await api.call(...READ, { token: expired.key }), /^API key expired$/, expired.key);
    const later = await create('viewer', { expiresAt: new Date(Date.now() + 3_600_000) });
    expect((await api.call(...READ, { token: later.key })).status).toBe(200);
  });

  it('refuses a well-formed key that does not exist', async () => {
    const token = `dlk_${'A'.repeat(43)}`;
    expectUnauthorized(await api.call(...READ, { token }), /^unknown or revoked token$/, token);
  });

  it('records the last use at most once a minute', async () => {
    const { key, apiKey } = await create('viewer');
    const lastUsed = async () =>
      (await db.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [apiKey.id])).rows[0]
        .last_used_at as Date | null;
    expect(await lastUsed()).toBeNull();
    await api.call(...READ, { token: key });
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    await api.call(...READ, { token: key });
    await api.call(...READ, { token: key });
    expect(await lastUsed()).toEqual(first);
    // An hour ago: the next use writes again.
    await db.pool.query("UPDATE api_keys SET last_used_at = now() - interval '1 hour' WHERE id = $1", [apiKey.id]);
    await api.call(...READ, { token: key });
    expect((await lastUsed())!.getTime()).toBeGreaterThan(first!.getTime());
  });

  it('can be managed over HTTP by admins: the key once (no-store), list without secrets, revoke', async () => {
    const created = await api.call('POST', '/api/v1/api-keys', {
      token: TOKENS.admin,
      body: { actorId: 'scanner@example.com', role: 'field-staff', name: 'scanner', expiresInDays: 30 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { key, apiKey } = created.body as { key: string; apiKey: apiKeysRepo.ApiKey };
    expect(apiKey).toMatchObject({
      actorId: 'scanner@example.com',
      role: 'field-staff',
      name: 'scanner',
      createdBy: 'admin@local',
      revokedAt: null,
    });
    expect(Date.parse(apiKey.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await api.call(...READ, { token: key })).status).toBe(200);

    const listed = await api.call('GET', '/api/v1/api-keys?limit=1000', { token: TOKENS.admin });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((k: apiKeysRepo.ApiKey) => k.id)).toContain(apiKey.id);
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const revoked = await api.call('DELETE', `/api/v1/api-keys/${apiKey.keyPrefix}`, { token: TOKENS.admin });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body).toMatchObject({ alreadyRevoked: false, apiKey: { id: apiKey.id, revokedBy: 'admin@local' } });
    expectUnauthorized(await api.call(...READ, { token: key }), /^API key revoked$/);
    const again = await api.call('DELETE', `/api/v1/api-keys/${apiKey.id}`, { token: TOKENS.admin });
    expect(again.body.alreadyRevoked).toBe(true);
    const active = await api.call('GET', '/api/v1/api-keys', { token: TOKENS.admin });
    expect(active.body.items.map((k: apiKeysRepo.ApiKey) => k.id)).not.toContain(apiKey.id);
  });

  it('checks admin route input: unknown fields, roles, ids, cursors', async () => {
    const bad = await api.call('POST', '/api/v1/api-keys', {
      token: TOKENS.admin,
      body: { actorId: 'x', role: 'root', key: 'mine' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/role/);
    expect(bad.body.error.message).toMatch(/key: unknown field/);
    expect((await api.call('DELETE', '/api/v1/api-keys/nope', { token: TOKENS.admin })).status).toBe(400);
    expect(
      (await api.call('DELETE', '/api/v1/api-keys/00000000-0000-4000-8000-000000000000', { token: TOKENS.admin }))
        .status,
    ).toBe(404);
    expect((await api.call('GET', '/api/v1/api-keys?cursor=zzz', { token: TOKENS.admin })).status).toBe(400);
    expectForbidden(
      await api.call('DELETE', '/api/v1/api-keys/00000000-0000-4000-8000-000000000000', { token: TOKENS.field }),
    );
  });

  it('pages the list in a stable order', async () => {
    const all = await apiKeysRepo.list(db.pool, { includeRevoked: true, limit: 1000 });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await apiKeysRepo.list(db.pool, { includeRevoked: true, limit: 2, cursor });
      seen.push(...page.items.map((k) => k.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.items.map((k) => k.id));
    expect(seen.length).toBeGreaterThan(4);
  });
});

describe('static tokens', () => {
  it('still work next to OIDC and API keys', async () => {
    expect(await levels(TOKENS.admin)).toEqual({ read: 200, report: 404, admin: 200 });
    expectUnauthorized(await api.call(...READ, { token: 'not-a-known-token' }), /^unknown or revoked token$/);
  });
});

describe('npm run api-key', () => {
  const exec = promisify(execFile);
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await exec(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/apiKeys.ts', ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: db.url },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('creates, lists and revokes a key against the database', async () => {
    const created = await cli(
      'create',
      '--actor',
      'carol@example.com',
      '--role',
      'admin',
      '--name',
      'laptop',
      '--expires-days',
      '90',
    );
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').at(-1)!;
    expect(key).toMatch(/^dlk_[A-Za-z0-9_-]{43}$/);
    expect(created.stdout).toMatch(/for carol@example\.com, role admin, expires 20\d\d-/);
    expect((await api.call(...ADMIN, { token: key })).status).toBe(200);

    const listed = await cli('list');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/carol@example\.com\s+admin\s+laptop\s+active/);
    expect(listed.stdout).toContain(key.slice(0, 12));
    expect(listed.stdout).not.toContain(key.slice(12));

    const revoked = await cli('revoke', key.slice(0, 12));
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^Revoked API key .* of carol@example\.com/);
    expectUnauthorized(await api.call(...ADMIN, { token: key }), /^API key revoked$/);

    const json = JSON.parse((await cli('list', '--all', '--json')).stdout) as apiKeysRepo.ApiKey[];
    const row = json.find((k) => k.keyPrefix === key.slice(0, 12))!;
    expect(row).toMatchObject({
      actorId: 'carol@example.com',
      name: 'laptop',
      revokedBy: expect.stringMatching(/^cli:/),
    });
    expect((await cli('list')).stdout).not.toContain(key.slice(0, 12));
    expect((await cli('revoke', row.id)).stdout).toMatch(/already revoked/);
  });

  it('explains bad command lines (exit 2) and unknown keys (exit 1)', async () => {
    const cases: [string[], number, RegExp][] = [
      [['create', '--role', 'admin'], 2, /create needs --actor/],
      [
        ['create', '--actor', 'a@example.com', '--role', 'root'],
        2,
        /unknown role "root" \(expected one of admin, field-staff, viewer\)/,
      ],
      [['create', '--actor', 'a@example.com'], 2, /create needs --role/],
      [
        ['create', '--actor', 'a@example.com', '--role', 'viewer', '--expires-days', 'soon'],
        2,
        /--expires-days must be a number/,
      ],
      [['rotate'], 2, /unknown command "rotate"/],
      [['revoke'], 2, /revoke needs exactly one key id or prefix/],
      [['revoke', 'dlk_NoSuchKy'], 1, /no API key with id or prefix dlk_NoSuchKy/],
      [['revoke', 'dlk_short'], 2, /neither a key id \(uuid\) nor a prefix/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(...args)));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0].join(' ')}: ${r.stderr}`).toBe(cases[i]![1]);
      expect(r.stderr).toMatch(cases[i]![2]);
    });
  });
});

describe('OIDC configuration', () => {
  it('needs issuer, audience and JWKS URL together', () => {
    expect(() => loadConfig({ OIDC_ISSUER: ISSUER })).toThrow(
      /OIDC_AUDIENCE, OIDC_JWKS_URL: must be set when OIDC_ISSUER is/,
    );
    expect(() => loadConfig({ OIDC_JWKS_URL: 'https://idp/jwks' })).toThrow(/OIDC_ISSUER, OIDC_AUDIENCE: must be set/);
    expect(loadConfig({}).OIDC_ISSUER).toBeUndefined();
  });

  it('parses the role map, algorithms and audiences, and refuses bad ones', () => {
    const c = loadConfig({
      OIDC_ISSUER: ISSUER,
      OIDC_AUDIENCE: 'a, b',
      OIDC_JWKS_URL: 'https://idp/jwks',
      OIDC_ROLE_MAP: 'it-admins=admin,field=field-staff',
    });
    expect(c.OIDC_AUDIENCE).toEqual(['a', 'b']);
    expect(c.OIDC_ROLE_MAP).toEqual({ 'it-admins': 'admin', field: 'field-staff' });
    expect(c.OIDC_ALGORITHMS).toEqual(['RS256', 'ES256']);
    expect([c.OIDC_ROLE_CLAIM, c.OIDC_ACTOR_CLAIM]).toEqual(['roles', 'sub']);
    expect(() => loadConfig({ OIDC_ROLE_MAP: 'it-admins=root' })).toThrow(/OIDC_ROLE_MAP.*claimValue=role/);
    expect(() => loadConfig({ OIDC_ALGORITHMS: 'HS256' })).toThrow(/OIDC_ALGORITHMS/);
  });

  it('wants an https JWKS in production, where API_TOKENS=none turns static tokens off', () => {
    const prod = {
      NODE_ENV: 'production',
      API_TOKENS: 'none',
      OIDC_ISSUER: ISSUER,
      OIDC_AUDIENCE: AUDIENCE,
      PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    };
    expect(() => loadConfig({ ...prod, OIDC_JWKS_URL: 'http://idp/jwks' })).toThrow(/must be https in production/);
    expect(loadConfig({ ...prod, OIDC_JWKS_URL: 'https://idp/jwks' }).API_TOKENS).toEqual([]);
  });
});
