/**
 * The API on 127.0.0.1, port 0, for tests that talk HTTP to it with fetch. Without a Temporal address the
 * client is lazy and never connects: enough for validation, auth and error-shape tests, which must all be
 * decided before Temporal is asked anything.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../config/env';
import { createApiApp } from '../../api/app';
import { StaticTokenAuthenticator, type Authenticator } from '../../api/auth';
import { dataConverterFor } from '../../temporal/codecDataConverter';
import type { AssetSummary, DbPorts } from '../../api/ports';
import { PATIENCE_MS } from './patience';

export const TOKENS = {
  admin: 'dev-admin-token',
  field: 'dev-field-token',
  viewer: 'dev-viewer-token',
} as const;

/** Whom each token speaks for (config/env.ts, API_TOKENS default): the actor audit records name. */
export const TOKEN_ACTORS = {
  admin: 'admin@local',
  field: 'field@local',
  viewer: 'viewer@local',
} as const;

export interface CallOptions {
  token?: string;
  /** An object is sent as JSON; a string is sent as is (with `contentType`, default application/json). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the route answered
  body: any;
  headers: Headers;
}

export interface ApiHarness {
  baseUrl: string;
  temporal: Client;
  config: Config;
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

/** Assets held in memory: what a start needs to know about a device, without a database. */
export function memoryDb(assets: AssetSummary[] = [], options: { pingFails?: boolean } = {}): DbPorts {
  const byNumber = new Map(assets.map((a) => [a.assetNumber, a]));
  return {
    assets: {
      get: (n) => Promise.resolve(byNumber.get(n) ?? null),
      getMany: (numbers) =>
        Promise.resolve(new Map(numbers.flatMap((n) => (byNumber.has(n) ? [[n, byNumber.get(n)!] as const] : [])))),
    },
    ping: () => (options.pingFails ? Promise.reject(new Error('database down')) : Promise.resolve()),
  };
}

export const asset = (assetNumber: string, department = 'Sales', location = 'Tokyo HQ'): AssetSummary => ({
  assetNumber,
  department,
  location,
  status: 'in_use',
});

export interface HarnessOptions {
  /** host:port of a Temporal server; without it the client is lazy and unconnected. */
  temporalAddress?: string;
  namespace?: string;
  taskQueue?: string;
  db?: pg.Pool | DbPorts;
  env?: Record<string, string>;
  auth?: Authenticator;
  clock?: () => Date;
  updateTimeoutMs?: number;
  queryTimeoutMs?: number;
}

export async function startApi(options: HarnessOptions = {}): Promise<ApiHarness> {
  const config = loadConfig({ NODE_ENV: 'test', ...options.env });
  const address = options.temporalAddress ?? '127.0.0.1:1';
  const connection = options.temporalAddress ? await Connection.connect({ address }) : Connection.lazy({ address });
  // Payloads encrypted when the test's env sets PAYLOAD_ENCRYPTION_KEYS, as the API does.
  const temporal = new Client({
    connection,
    namespace: options.namespace ?? 'default',
    dataConverter: dataConverterFor(config),
  });
  const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
  const app = createApiApp({
    temporal,
    taskQueue: options.taskQueue ?? `api-test-${process.pid}`,
    namespace: options.namespace,
    db: options.db ?? memoryDb(),
    config,
    auth: options.auth ?? new StaticTokenAuthenticator(config.API_TOKENS),
    clock: options.clock,
    logger: process.env.API_TEST_LOGS ? console : quiet,
    updateTimeoutMs: options.updateTimeoutMs,
    queryTimeoutMs: options.queryTimeoutMs,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: the test sees the raw text (and fails on it if it expected JSON).
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  return {
    baseUrl,
    temporal,
    config,
    call,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // A lazy client may still have an SDK retry timer pending (readiness probes against nothing); closing
      // its channel under that timer throws from the timer, so only a real connection is closed.
      if (options.temporalAddress) await connection.close();
    },
  };
}

/**
 * The API in front of a test's worker (tests/support/lifecycleHarness): same database, same task queue,
 * the shared Temporal dev server, fast MDM polling. It waits for the worker's answers (Updates, state
 * queries) as long as a test waits for anything: a busy machine slows the worker, not the verdict.
 */
export function startApiFor(
  h: { db: { pool: pg.Pool }; taskQueue: string },
  env: Record<string, string> = {},
): Promise<ApiHarness> {
  return startApi({
    temporalAddress: inject('temporalAddress'),
    db: h.db.pool,
    taskQueue: h.taskQueue,
    env: { MDM_POLL_INITIAL_MS: '100', MDM_POLL_MAX_MS: '400', ...env },
    updateTimeoutMs: PATIENCE_MS,
    queryTimeoutMs: PATIENCE_MS,
  });
}
