/**
 * What a client hears while a dependency is down or failing (DESIGN §4: a 5xx is a bug). A condition that a
 * retry can fix is 503 with `Retry-After`, and the answer says whether the request took effect; once the
 * dependency is back, the same request with the same Idempotency-Key is applied, once. All real: a
 * PostgreSQL of this file's own that the tests stop, shut down under a request and restart; a worker with a
 * broken deploy of the workflows, then the real one.
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { NativeConnection, Worker } from '@temporalio/worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../db/embeddedPostgres';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { freePort } from '../scripts/freePort';
import { workflowIdFor } from '../workflows/definitions';
import { startApi, startApiFor, TOKENS, type ApiHarness, type CallResult } from './support/apiHarness';
import { dateInDays, newAssetNumber } from './support/fixtures';
import { startHarness, type Harness } from './support/lifecycleHarness';
import { PATIENCE_MS } from './support/patience';

/** A 503 a client can act on: Retry-After in seconds, and whether the request took effect. */
function expectRetryable(res: CallResult, code: string, requestApplied: 'no' | 'unknown') {
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(res.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
  expect(res.body.error).toMatchObject({ code, details: { requestApplied } });
  expect(res.body.error.details.retryAfterSeconds).toBe(Number(res.headers.get('retry-after')));
}

const assetBody = (assetNumber: string, model: string) => ({
  assetNumber,
  serialNumber: `SN-${assetNumber}`,
  model,
  department: 'Sales',
  location: 'Tokyo HQ',
});

describe('PostgreSQL down, shutting down under a request, refusing sessions: 503, then healed', () => {
  const dataDir = path.join(os.tmpdir(), `device-lifecycle-outage-pg-${randomUUID()}`);
  let port: number;
  let server: RunningPostgres | undefined;
  let adminUrl: string;
  let pool: pg.Pool;
  let api: ApiHarness;
  const asset = newAssetNumber();

  const startServer = async () => {
    server = await startEmbeddedPostgres({ dataDir, port, persistent: true });
    adminUrl = server.adminUrl;
  };
  const stopServer = async () => {
    await server?.stop();
    server = undefined;
  };
  const getAsset = () => api.call('GET', `/api/v1/assets/${asset}`, { token: TOKENS.viewer });
  /** An update carries the version it was based on (none: a create). */
  const putAsset = (model: string, key: string, version?: number) =>
    api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: { ...assetBody(asset, model), version },
      headers: { 'Idempotency-Key': key },
    });
  /** The SQLSTATE a new session is refused with, or `connected`. */
  const newSessionRefusal = async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return 'connected';
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };
  /** A database client of the test's own, which a shutdown may cut off (its error is expected). */
  const sideClient = async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    port = await freePort();
    await startServer();
    pool = createPool(adminUrl, 4, { applicationName: 'api-outage-test', onError: () => undefined });
    await migrate(pool);
    // Temporal is up: an update asks it whether a running process owns the asset.
    api = await startApi({ db: pool, temporalAddress: inject('temporalAddress') });
    const created = await putAsset('iPhone 15', 'outage-create-1');
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await api?.close();
    await pool?.end().catch(() => undefined);
    await stopServer();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers an update 503 while Temporal is unreachable (whether a process owns the asset cannot be told), not applied', async () => {
    const noTemporal = await startApi({ db: pool }); // a client of a Temporal that is not there
    try {
      const write = await noTemporal.call('POST', '/api/v1/assets', {
        token: TOKENS.admin,
        body: { ...assetBody(asset, 'Moto G'), version: 1 },
      });
      expectRetryable(write, 'temporal-unavailable', 'no');
      expect(write.body.error.message).toMatch(/whether a running process owns the asset cannot be told/);
      expect((await getAsset()).body.asset).toMatchObject({ model: 'iPhone 15', version: 1 });
    } finally {
      await noTemporal.close();
    }
  });

  it('answers reads and writes 503 while the database is down (ECONNREFUSED), nothing applied; all well once it is back', async () => {
    await stopServer();

    const read = await getAsset();
    expectRetryable(read, 'database-unavailable', 'no');
    expect(read.body.error.message).toMatch(/not reachable.*nothing was changed/);

    const write = await putAsset('iPhone 16', 'outage-write-1', 1);
    expectRetryable(write, 'database-unavailable', 'no');
    expect(write.body.error.message).toMatch(/the request was not applied/);

    const ready = await api.call('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toMatch(/^[0-9]+$/);

    await startServer();
    const after = await getAsset();
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.asset.model).toBe('iPhone 15'); // the refused write did not happen
    const retried = await putAsset('iPhone 16', 'outage-write-1', 1);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toMatchObject({ applied: true, asset: { model: 'iPhone 16' } });
  });

  it('answers a write cut off by a shutdown mid-request 503 "may or may not have been applied"; the retry with the same key applies it once', async () => {
    // Another session holds the asset's row, so the API's update waits inside its transaction.
    const locker = await sideClient();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM assets WHERE asset_number = $1 FOR UPDATE', [asset]);
    const inFlight = putAsset('Pixel 9', 'outage-cut-1', 2);
    await expect
      .poll(async () => {
        const { rows } = await locker.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'api-outage-test' AND wait_event_type = 'Lock'`,
        );
        return rows[0]!.n;
      })
      .toBe(1);

    await stopServer(); // fast shutdown: every session, the API's included, is terminated (57P01)
    const cut = await inFlight;
    expectRetryable(cut, 'database-unavailable', 'unknown');
    expect(cut.body.error.message).toMatch(/may or may not have been applied: retry it with the same Idempotency-Key/);
    await locker.end().catch(() => undefined);

    await startServer();
    const retried = await putAsset('Pixel 9', 'outage-cut-1', 2);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toMatchObject({ applied: true, asset: { model: 'Pixel 9' } });
    const again = await putAsset('Pixel 9', 'outage-cut-1', 2);
    expect(again.body).toMatchObject({ applied: false });
    const history = (await getAsset()).body.events as { type: string }[];
    expect(history.filter((e) => e.type === 'asset-updated')).toHaveLength(2); // iPhone 16, then Pixel 9 once
  });

  it('answers a statement past its deadline (statement_timeout, 57014) 503: rolled back, not applied', async () => {
    const locker = await sideClient();
    // An API whose statements may take 300 ms, behind a session that holds the asset's row.
    const impatientPool = createPool(adminUrl, 1, { statementTimeoutMs: 300, onError: () => undefined });
    const impatient = await startApi({ db: impatientPool, temporalAddress: inject('temporalAddress') });
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM assets WHERE asset_number = $1 FOR UPDATE', [asset]);
      const write = await impatient.call('POST', '/api/v1/assets', {
        token: TOKENS.admin,
        body: { ...assetBody(asset, 'Xperia 1'), version: 3 },
        headers: { 'Idempotency-Key': 'outage-deadline-1' },
      });
      expectRetryable(write, 'database-unavailable', 'no');
      await locker.query('ROLLBACK');
      expect((await getAsset()).body.asset.model).toBe('Pixel 9');
    } finally {
      await impatient.close();
      await impatientPool.end();
      await locker.end();
    }
  });

  it('answers 503 while the database refuses new sessions (57P03: shutting down, starting up, in recovery)', async () => {
    // A smart shutdown waits for open sessions to end and refuses new ones meanwhile, with 57P03.
    const holder = await sideClient();
    const postmasterPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Its own pool: an idle connection of the other one would still be served.
    const freshPool = createPool(adminUrl, 1, { onError: () => undefined });
    const fresh = await startApi({ db: freshPool, temporalAddress: inject('temporalAddress') });
    try {
      process.kill(postmasterPid, 'SIGTERM');
      // The postmaster takes the signal in its own time: a new session is refused from then on.
      await expect.poll(newSessionRefusal).toBe('57P03');

      const read = await fresh.call('GET', `/api/v1/assets/${asset}`, { token: TOKENS.viewer });
      expectRetryable(read, 'database-unavailable', 'no');
      expect(read.body.error.message).toMatch(/starting up, shutting down or recovering/);
      const write = await fresh.call('POST', '/api/v1/assets', {
        token: TOKENS.admin,
        body: { ...assetBody(asset, 'Galaxy S24'), version: 3 },
        headers: { 'Idempotency-Key': 'outage-57p03-1' },
      });
      expectRetryable(write, 'database-unavailable', 'no');
    } finally {
      await fresh.close();
      await freshPool.end().catch(() => undefined);
      await holder.end().catch(() => undefined);
      await stopServer();
    }
    await startServer();
    expect((await getAsset()).body.asset.model).toBe('Pixel 9');
  });
});

describe('a workflow whose workflow task is failing (a broken deploy): 503, not applied; accepted once fixed', () => {
  let h: Harness;
  let api: ApiHarness;

  beforeAll(async () => {
    h = await startHarness();
    api = await startApiFor(h);
  });
  afterAll(async () => {
    await api?.close();
    await h?.stop();
  });

  it('refuses a report 503 with Retry-After while the task fails, and takes the same report (same key) once the real workflows are deployed', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber });
    const workflowId = workflowIdFor(assetNumber);
    const report = () =>
      api.call('POST', `/api/v1/workflows/${workflowId}/events/device-collected`, {
        token: TOKENS.field,
        body: { data: { collectedBy: 'Aki' } },
        headers: { 'Idempotency-Key': `collect-${assetNumber}` },
      });

    // The real worker goes; a broken deploy takes its task queue; then the real workflows come back.
    await h.restartWorker(async () => {
      const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
      const broken = await Worker.create({
        connection,
        taskQueue: h.taskQueue,
        workflowsPath: path.resolve('tests', 'support', 'brokenWorkflows.ts'),
      });
      const running = broken.run();
      try {
        const started = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
          token: TOKENS.admin,
          body: { reason: 'Leaver', plannedCollectionDate: dateInDays(7), storageLocation: 'Shelf 1' },
        });
        expect(started.status, JSON.stringify(started.body)).toBe(201);
        // From its third failed attempt on, Temporal refuses Updates at once (WorkflowNotReady).
        const handle = api.temporal.workflow.getHandle(workflowId);
        await expect
          .poll(async () => (await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0, { timeout: PATIENCE_MS })
          .toBeGreaterThanOrEqual(3);

        const refused = await report();
        expectRetryable(refused, 'workflow-task-failing', 'no');
        expect(refused.body.error.message).toMatch(/workflow task is failing.*the request was not applied/);
      } finally {
        broken.shutdown();
        await running;
        await connection.close();
      }
    });

    await h.waitForStep(api.temporal.workflow.getHandle(workflowId), 'awaiting-collection');
    const accepted = await report();
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body).toMatchObject({ accepted: true, step: expect.any(String) });
    expect((await report()).status).toBe(200); // the same key again: applied once, as the trail shows
    await expect
      .poll(async () => (await h.eventTypes(assetNumber)).filter((t) => t === 'device-collected'))
      .toEqual(['device-collected']);
  });
});
