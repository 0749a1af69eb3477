/**
 * Credentials in production (issue 12 item 5, DESIGN §6), on a real PostgreSQL and the real API:
 * - development and example tokens: refused at start-up outside development/test on loopback, and per
 *   request (401) by an app whose configuration skipped that check;
 * - static tokens in production: 32+ random characters, the token never printed;
 * - the per-address throttle answers 429 before any database query (queries counted on the pool), with
 *   back-off growing per block, and TRUSTED_PROXY_HOPS deciding which X-Forwarded-For entry is the client;
 * - an unknown `dlk_` key costs one query, not one per attempt;
 * - audit rows name the credential that acted (static, API key, OIDC);
 * - OIDC: the actor is `sub` by default; with OIDC_ACTOR_CLAIM=email, an unverified email is refused (403).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../api/app';
import { createAuthenticator } from '../api/auth';
import { workflowActor } from '../api/auth/workflowActor';
import { credentialProblems, DEVELOPMENT_TOKENS } from '../config/credentialRules';
import { DEV_API_TOKENS, loadConfig, type Config } from '../config/env';
import * as apiKeysRepo from '../db/apiKeysRepo';
import { actorSchema } from '../workflows/reportSchemas';
import { assetSeries } from './support/fixtures';
import { serveJwks, signToken, testSigningKey, type JwksServer, type TestSigningKey } from './support/jwks';
import { createTestDatabase, type TestDatabase } from './support/postgres';

const ISSUER = 'https://idp.test.example/realms/devices';
const AUDIENCE = 'device-lifecycle-api';
const ADMIN = 'dev-admin-token';
const STRONG = () => randomBytes(32).toString('base64url');
const guess = () => `dlk_${randomBytes(32).toString('base64url')}`;

let db: TestDatabase;
let jwks: JwksServer;
let rsa: TestSigningKey;
const servers: Server[] = [];
const no = assetSeries();

beforeAll(async () => {
  [db, rsa] = await Promise.all([createTestDatabase(), testSigningKey('RS256', 'rsa-1')]);
  jwks = await serveJwks([rsa]);
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  await jwks?.close();
  await db?.drop();
});

/** The pool as the API sees it, counting every query sent through it. */
function countingPool(pool: pg.Pool): { pool: pg.Pool; queries: () => number } {
  let n = 0;
  const counted = new Proxy(pool, {
    get(target, key) {
      if (key === 'query') {
        return (...args: unknown[]) => {
          n += 1;
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { pool: counted, queries: () => n };
}

interface TestApi {
  queries: () => number;
  /** Moves the API's clock (the throttle's time) forward. */
  advance: (ms: number) => void;
  call: (
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string>; contentType?: string },
  ) => Promise<{ status: number; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * The API on 127.0.0.1 with the production authenticator, a counting pool and a clock the test moves.
 * `config` overrides what loadConfig gave, as an app built without loadConfig's checks would have.
 */
async function serve(env: Record<string, string> = {}, config: Partial<Config> = {}): Promise<TestApi> {
  const loaded = { ...loadConfig({ NODE_ENV: 'test', ...env }), ...config } as Config;
  const { pool, queries } = countingPool(db.pool);
  let now = Date.now();
  const clock = () => new Date(now);
  // Never connected: these routes are decided before Temporal is asked anything.
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
  const app = createApiApp({
    temporal,
    taskQueue: 'credentials-test',
    db: pool,
    config: loaded,
    auth: createAuthenticator({ config: loaded, pool, clock, logger: quiet }),
    clock,
    logger: quiet,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    queries,
    advance: (ms) => {
      now += ms;
    },
    call: async (method, path, opts = {}) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.body !== undefined) {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        headers['content-type'] = opts.contentType ?? 'application/json';
      }
      const res = await fetch(`${base}${path}`, { method, headers, body });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
  };
}

const KEYS = '/api/v1/api-keys';

/** The configuration's complaints, or '' when it is accepted. */
function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

const parsedTokens = (token: string) => ({
  API_TOKENS: [{ token, actorId: 'ops@example.com', role: 'admin' as const }],
});

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`configuration accepted: ${JSON.stringify(Object.keys(env))}`);
}

describe('development and example tokens', () => {
  it('are refused at start-up unless NODE_ENV is development or test and API_HOST is loopback', () => {
    expect(configError({ NODE_ENV: 'production' })).toMatch(/API_TOKENS: must be set in production/);
    const message = configError({ NODE_ENV: 'production', API_TOKENS: 'dev-admin-token=admin@local:admin' });
    expect(message).toMatch(/API_TOKENS: entry #1 \(actor admin@local\) is a development or example token/);
    expect(message).toMatch(/NODE_ENV=production/);
    for (const token of DEVELOPMENT_TOKENS) expect(message).not.toContain(token);

    // Mixed into otherwise good production tokens: named by its entry.
    const mixed = `${STRONG()}=ops@example.com:admin,dev-field-token=field@local:field-staff`;
    expect(configError({ NODE_ENV: 'production', API_TOKENS: mixed })).toMatch(
      /entry #2 \(actor field@local\) is a development or example token/,
    );
    // The compose example's tokens (deploy/compose.example.env) are development tokens too.
    expect(
      configError({
        NODE_ENV: 'production',
        API_TOKENS: 'example-admin-token-change-me=it-admin@example.com:admin',
      }),
    ).toMatch(/entry #1 \(actor it-admin@example\.com\) is a development or example token/);
    // Development, but listening beyond loopback.
    expect(configError({ NODE_ENV: 'development', API_HOST: '0.0.0.0' })).toMatch(
      /development or example token; those work only with NODE_ENV=development or test and API_HOST on loopback/,
    );
    for (const host of ['127.0.0.1', '::1', 'localhost']) {
      expect(loadConfig({ NODE_ENV: 'development', API_HOST: host }).API_TOKENS).toHaveLength(3);
      expect(loadConfig({ NODE_ENV: 'test', API_HOST: host }).API_TOKENS).toHaveLength(3);
    }
  });

  it('DEV_API_TOKENS are all known as development tokens', () => {
    const tokens = DEV_API_TOKENS.split(',').map((e) => e.slice(0, e.indexOf('=')));
    for (const token of tokens) expect(DEVELOPMENT_TOKENS.has(token), token).toBe(true);
  });

  it('are refused per request (401) by an app whose configuration skipped the start-up check', async () => {
    const prod = await serve({}, { NODE_ENV: 'production' });
    const exposed = await serve({}, { API_HOST: '0.0.0.0' });
    for (const api of [prod, exposed]) {
      const res = await api.call('GET', KEYS, { token: ADMIN });
      expect(res.status, JSON.stringify(res.body)).toBe(401);
      expect(res.body.error.message).toMatch(/^development tokens are refused here/);
    }
    expect(prod.queries()).toBe(0);
    // The same token on a local test API is accepted: the refusal is the rule, not a broken token.
    expect((await (await serve()).call('GET', KEYS, { token: ADMIN })).status).toBe(200);
  });
});

describe('static tokens in production', () => {
  const prod = (token: string) => ({ NODE_ENV: 'production', API_TOKENS: `${token}=ops@example.com:admin` });

  it('need 32+ random characters; the message names the entry, never the token', () => {
    const cases: [string, RegExp][] = [
      ['short-but-valid-elsewhere', /\(25 characters, needs at least 32\)/],
      ['a'.repeat(40), /\(only 1 different characters, needs at least 10\)/],
      ['abcdefghij'.repeat(4), /\(a repeated pattern\)/],
      ['0101010101'.repeat(4), /\(only 2 different characters/],
    ];
    for (const [token, reason] of cases) {
      const message = configError(prod(token));
      expect(message).toMatch(/API_TOKENS: entry #1 \(actor ops@example\.com\) is too weak for production/);
      expect(message).toMatch(reason);
      expect(message).toMatch(/openssl rand -base64 32/);
      expect(message).not.toContain(token);
    }
  });

  it('accepts a generated token in production, and short ones in development', () => {
    // Production needs other settings too (payload keys, ...): what matters here is that API_TOKENS is not named.
    for (const token of [STRONG(), randomBytes(16).toString('hex')]) {
      expect(problemsOf(prod(token))).not.toMatch(/API_TOKENS/);
      expect(credentialProblems({ NODE_ENV: 'production', API_HOST: '0.0.0.0', ...parsedTokens(token) })).toEqual([]);
    }
    expect(loadConfig({ API_TOKENS: 'short-but-valid-elsewhere=ops@example.com:admin' }).API_TOKENS).toHaveLength(1);
  });
});

describe('the per-address throttle before authentication', () => {
  it('answers a brute force of dlk_ guesses 429 before any database query, backing off longer each time', async () => {
    const api = await serve({ API_AUTH_FAILURE_LIMIT: '5/10m' });
    const { key } = await apiKeysRepo.create(db.pool, { actorId: 'bot@example.com', role: 'admin', createdBy: 'test' });
    for (let i = 0; i < 5; i++) expect((await api.call('GET', KEYS, { token: guess() })).status).toBe(401);
    // Five distinct guesses: five lookups.
    expect(api.queries()).toBe(5);

    for (const token of [guess(), guess(), key]) {
      const res = await api.call('GET', KEYS, { token });
      expect(res.status, JSON.stringify(res.body)).toBe(429);
      expect(res.headers.get('retry-after')).toBe('60');
      expect(res.body.error.message).toMatch(/^too many failed authentications from this address; retry in 60 s$/);
    }
    // Refused before authentication: not even the real key was looked up.
    expect(api.queries()).toBe(5);
    // Without a credential there is nothing to guess: still told so (401), at no cost.
    expect((await api.call('GET', KEYS)).status).toBe(401);

    api.advance(61_000);
    expect((await api.call('GET', KEYS, { token: key })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await api.call('GET', KEYS, { token: guess() })).status).toBe(401);
    const second = await api.call('GET', KEYS, { token: guess() });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('120');
  });

  it('counts only credentials that were never valid: an expired key does not block the address', async () => {
    const api = await serve({ API_AUTH_FAILURE_LIMIT: '2/10m' });
    const { key } = await apiKeysRepo.create(db.pool, {
      actorId: 'old@example.com',
      role: 'viewer',
      createdBy: 'test',
      expiresAt: new Date(Date.now() - 1000),
    });
    for (let i = 0; i < 4; i++) {
      const res = await api.call('GET', KEYS, { token: key });
      expect(res.status).toBe(401);
      expect(res.body.error.message).toBe('API key expired');
    }
  });

  it('limits requests per address (API_ADDRESS_RATE_LIMIT) before any query', async () => {
    const api = await serve({ API_ADDRESS_RATE_LIMIT: '3/1m' });
    for (let i = 0; i < 3; i++) expect((await api.call('GET', KEYS, { token: ADMIN })).status).toBe(200);
    const before = api.queries();
    const res = await api.call('GET', KEYS, { token: ADMIN });
    expect(res.status).toBe(429);
    expect(res.body.error.message).toMatch(/^too many requests from this address; retry in 20 s$/);
    expect(res.headers.get('retry-after')).toBe('20');
    expect(api.queries()).toBe(before);
  });

  it('with TRUSTED_PROXY_HOPS=0 ignores X-Forwarded-For (a client cannot pick its own address)', async () => {
    const api = await serve({ API_ADDRESS_RATE_LIMIT: '3/1m' });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await api.call('GET', KEYS, { token: ADMIN, headers: { 'x-forwarded-for': `10.0.0.${i}` } })).status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('with TRUSTED_PROXY_HOPS=1 takes the entry the proxy appended (rightmost), not what the client wrote', async () => {
    const api = await serve({ API_ADDRESS_RATE_LIMIT: '3/1m', TRUSTED_PROXY_HOPS: '1' });
    const from = (xff: string) => api.call('GET', KEYS, { token: ADMIN, headers: { 'x-forwarded-for': xff } });
    // Client A, with whatever it wrote to the left of what the proxy appended.
    const a = [];
    for (const xff of ['203.0.113.7', '1.1.1.1, 203.0.113.7', '2.2.2.2, 203.0.113.7', '3.3.3.3, 203.0.113.7']) {
      a.push((await from(xff)).status);
    }
    expect(a).toEqual([200, 200, 200, 429]);
    // Client B behind the same proxy (same socket address) has its own allowance.
    expect((await from('198.51.100.9')).status).toBe(200);
  });

  it('with TRUSTED_PROXY_HOPS=2 takes the second entry from the right', async () => {
    const api = await serve({ API_AUTH_FAILURE_LIMIT: '2/10m', TRUSTED_PROXY_HOPS: '2' });
    const from = (xff: string, token: string) => api.call('GET', KEYS, { token, headers: { 'x-forwarded-for': xff } });
    expect((await from('9.9.9.9, 203.0.113.7, 10.0.0.1', guess())).status).toBe(401);
    expect((await from('8.8.8.8, 203.0.113.7, 10.0.0.2', guess())).status).toBe(401);
    expect((await from('203.0.113.7, 10.0.0.3', ADMIN)).status).toBe(429);
    expect((await from('198.51.100.9, 10.0.0.1', ADMIN)).status).toBe(200);
  });
});

describe('unknown API keys', () => {
  it('cost one query: a repeated unknown key is answered from the negative cache', async () => {
    const api = await serve();
    const token = guess();
    expect((await api.call('GET', KEYS, { token })).status).toBe(401);
    expect(api.queries()).toBe(1);
    for (let i = 0; i < 3; i++) expect((await api.call('GET', KEYS, { token })).status).toBe(401);
    expect(api.queries()).toBe(1);
    // Another unknown key is still looked up.
    expect((await api.call('GET', KEYS, { token: guess() })).status).toBe(401);
    expect(api.queries()).toBe(2);
  });
});

describe('audit rows name the credential that acted', () => {
  const oidcEnv = () => ({ OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE, OIDC_JWKS_URL: jwks.url });
  const asset = (n: number) => ({
    assetNumber: no(n),
    serialNumber: `SN-CRED-${no.base + n}`,
    model: 'iPhone 15',
    department: 'Sales',
    location: 'Tokyo HQ',
    status: 'in_use',
  });
  const credentialsOf = async (assetNumber: string) =>
    (
      await db.pool.query<{ actor: string; actor_role: string; credential: string | null }>(
        'SELECT actor, actor_role, credential FROM asset_events WHERE asset_number = $1 ORDER BY id',
        [assetNumber],
      )
    ).rows;

  it('static:<actor>, key:<id>, oidc:<iss>|<sub>, for single writes and the CSV import', async () => {
    const api = await serve(oidcEnv());
    const { key, apiKey } = await apiKeysRepo.create(db.pool, {
      actorId: 'importer@example.com',
      role: 'admin',
      createdBy: 'test',
    });
    const jwt = await signToken(
      rsa,
      { sub: 'u-42', email: 'alice@example.com', email_verified: true, roles: ['admin'] },
      { issuer: ISSUER, audience: AUDIENCE },
    );
    const cases: [string, number, { actor: string; credential: string }][] = [
      [ADMIN, 1, { actor: 'admin@local', credential: 'static:admin@local' }],
      [key, 2, { actor: 'importer@example.com', credential: `key:${apiKey.id}` }],
      [jwt, 3, { actor: 'u-42', credential: `oidc:${ISSUER}|u-42` }],
    ];
    for (const [token, n, expected] of cases) {
      const res = await api.call('POST', '/api/v1/assets', { token, body: asset(n) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(await credentialsOf(no(n))).toEqual([{ ...expected, actor_role: 'admin' }]);
    }

    const csv = `Asset #,Serial Number,Model,Department,Location\r\n${no(4)},SN-CRED-${no.base + 4},iPad,Sales,Osaka\r\n`;
    const imported = await api.call('POST', '/api/v1/assets/import', {
      token: key,
      body: csv,
      contentType: 'text/csv',
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    expect(await credentialsOf(no(4))).toEqual([
      { actor: 'importer@example.com', actor_role: 'admin', credential: `key:${apiKey.id}` },
    ]);
  });

  it('the database refuses a credential that is not kind:reference', async () => {
    await expect(
      db.pool.query(
        `INSERT INTO asset_events (asset_number, event_type, actor, idempotency_key, credential)
         VALUES ($1, 'x', 'a', $2, 'no kind')`,
        [no(1), `cred-check-${no.base}`],
      ),
    ).rejects.toMatchObject({ code: '23514' });
  });

  it('goes to workflows only once their actor schema takes it (it is strict)', () => {
    const actor = { id: 'u-42', role: 'admin' as const, credential: `oidc:${ISSUER}|u-42` };
    const sent = workflowActor(actor);
    expect(actorSchema.safeParse(sent).success).toBe(true);
    if ('credential' in actorSchema.shape) expect(sent.credential).toBe(actor.credential);
    else expect(sent).toEqual({ id: 'u-42', role: 'admin' });
  });
});

describe('OIDC actor', () => {
  const env = (extra: Record<string, string> = {}) => ({
    OIDC_ISSUER: ISSUER,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_JWKS_URL: jwks.url,
    ...extra,
  });
  const token = (claims: Record<string, unknown>) =>
    signToken(rsa, { roles: ['admin'], ...claims }, { issuer: ISSUER, audience: AUDIENCE });
  const createdBy = async (api: TestApi, t: string) => {
    const res = await api.call('POST', KEYS, { token: t, body: { actorId: 'robot@example.com', role: 'viewer' } });
    return { status: res.status, createdBy: res.body?.apiKey?.createdBy, message: res.body?.error?.message };
  };

  it('is sub by default, even when the token carries an email', async () => {
    const api = await serve(env());
    expect(loadConfig(env()).OIDC_ACTOR_CLAIM).toBe('sub');
    expect(await createdBy(api, await token({ sub: 'u-7', email: 'mallory@example.com' }))).toMatchObject({
      status: 201,
      createdBy: 'u-7',
    });
  });

  it('with OIDC_ACTOR_CLAIM=email: a verified email is the actor, an unverified one is refused (403)', async () => {
    const api = await serve(env({ OIDC_ACTOR_CLAIM: 'email' }));
    expect(
      await createdBy(api, await token({ sub: 'u-8', email: 'alice@example.com', email_verified: true })),
    ).toMatchObject({ status: 201, createdBy: 'alice@example.com' });
    for (const claims of [
      { sub: 'u-9', email: 'it-admin@example.com' },
      { sub: 'u-9', email: 'it-admin@example.com', email_verified: false },
      { sub: 'u-9', email: 'it-admin@example.com', email_verified: 'false' },
    ]) {
      const refused = await createdBy(api, await token(claims));
      expect(refused.status).toBe(403);
      expect(refused.message).toMatch(/^token email is not verified \(email_verified is not true\)/);
    }
    // No email at all: the actor is sub.
    expect(await createdBy(api, await token({ sub: 'u-10' }))).toMatchObject({ status: 201, createdBy: 'u-10' });
  });
});
