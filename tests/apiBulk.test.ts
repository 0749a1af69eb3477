/**
 * A campaign through the API on real parts (Temporal dev server, PostgreSQL, a worker): hundreds of
 * devices in one request, so the starts really run side by side, with unknown, busy, malformed and
 * repeated asset numbers among them. Every asset number gets exactly one row, in input order, and every
 * device started reaches its first human step. Then GET /workflows/{id} of a started device: answered
 * from describe(), the audit trail and the task index, even while no worker is running.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { mapBounded } from '../api/concurrency';
import * as assetsRepo from '../db/assetsRepo';
import { workflowIdFor } from '../workflows/definitions';
import { startApi, TOKENS } from './support/apiHarness';
import { dateInDays, newAssetNumber, PATIENCE_MS } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi({ BULK_START_CONCURRENCY: '32' });

/** Only this file's devices carry it, so visibility lists filtered on it see nothing of other files. */
const DEPARTMENT = `Campaign ${randomUUID().slice(0, 8)}`;
const CAMPAIGN = 300;
const body = { reason: 'Office move', plannedCollectionDate: dateInDays(14), storageLocation: 'Shelf 9' };

const known = Array.from({ length: CAMPAIGN }, () => newAssetNumber());
const [unknownA, unknownB] = [newAssetNumber(), newAssetNumber()];
const busy = known[7]!;

interface Row {
  assetNumber: string;
  result: string;
  workflowId?: string;
  runId?: string;
  error?: { code: string; message: string; details?: { running?: Record<string, unknown> } };
}

/**
 * The final rows of a bulk request: its answer when every row was decided in time (200), else read back
 * at GET /bulk/{bulkId} until none is pending (202; how long the starts take depends on the machine).
 */
async function finalRows(res: { status: number; body: { bulkId?: string; results: Row[] } }): Promise<Row[]> {
  expect([200, 202], JSON.stringify(res.body).slice(0, 2000)).toContain(res.status);
  if (res.status === 200) return res.body.results;
  let rows: Row[] = [];
  await expect
    .poll(async () => {
      const read = await api.call('GET', `/api/v1/bulk/${res.body.bulkId}`, { token: TOKENS.viewer });
      rows = read.body.results;
      return read.body.status;
    })
    .toBe('done');
  return rows;
}

/** Workflow ids of this campaign listed at `step` (every page of the visibility list). */
async function listedAt(step: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const qs = new URLSearchParams({ department: DEPARTMENT, step, limit: '200', ...(cursor ? { cursor } : {}) });
    const page = await api.call('GET', `/api/v1/workflows?${qs}`, { token: TOKENS.viewer });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    for (const item of page.body.items as { workflowId: string }[]) ids.add(item.workflowId);
    cursor = page.body.nextCursor;
  } while (cursor);
  return ids;
}

describe('a campaign of hundreds of devices in one request', () => {
  let started: string[] = [];

  it('answers one row per asset number, in input order: started, busy, unknown, invalid, duplicate', async () => {
    await mapBounded(known, 8, (assetNumber, i) =>
      assetsRepo.upsert(h.db.pool, {
        assetNumber,
        serialNumber: `SN-${assetNumber}-${randomUUID().slice(0, 6)}`,
        model: 'iPhone 15',
        status: 'in_use',
        department: DEPARTMENT,
        location: `Floor ${i % 5}`,
        userName: `User ${i}`,
        userEmail: `user${i}@example.com`,
      }),
    );
    const first = await api.call('POST', `/api/v1/devices/${busy}/change-user`, { token: TOKENS.admin, body });
    expect(first.status, JSON.stringify(first.body)).toBe(201);

    // Odd entries spread through the list, so they are decided among starts in flight.
    const assetNumbers = [
      ...known.slice(0, 100),
      unknownA,
      'B-12',
      known[3]!,
      ...known.slice(100, 200),
      '',
      unknownB,
      unknownB,
      'A-1234567',
      ...known.slice(200),
      known[250]!,
    ];
    const res = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: { ...body, assetNumbers },
    });
    expect(res.body.bulkId).toEqual(expect.any(String));
    const rows = await finalRows(res);
    expect(rows.map((r) => r.assetNumber)).toEqual(assetNumbers);

    const seen = new Set<string>();
    const expected = assetNumbers.map((n) => {
      if (!/^A-[0-9]{6}$/.test(n)) return 'invalid-asset-number';
      if (seen.has(n)) return 'duplicate';
      seen.add(n);
      if (n === unknownA || n === unknownB) return 'unknown-asset';
      if (n === busy) return 'busy';
      return 'started';
    });
    expect(rows.map((r) => (r.result === 'invalid' ? r.error?.code : r.result))).toEqual(expected);
    expect(res.body.total).toBe(assetNumbers.length);
    const read = await api.call('GET', `/api/v1/bulk/${res.body.bulkId}`, { token: TOKENS.viewer });
    expect(read.body).toMatchObject({
      bulkId: res.body.bulkId,
      kind: 'collections',
      requestedBy: 'admin@local',
      status: 'done',
      finishedAt: expect.any(String),
      total: assetNumbers.length,
      counts: { started: CAMPAIGN - 1, busy: 1, 'unknown-asset': 2, invalid: 6 },
    });
    expect(read.body.results).toEqual(rows);

    for (const row of rows.filter((r) => r.result === 'started')) {
      expect(row).toMatchObject({ workflowId: workflowIdFor(row.assetNumber), runId: expect.any(String) });
    }
    expect(rows.find((r) => r.assetNumber === busy)).toMatchObject({
      result: 'busy',
      workflowId: workflowIdFor(busy),
      error: {
        code: 'device-busy',
        details: { running: { workflowId: workflowIdFor(busy), runId: first.body.runId, process: 'change-user' } },
      },
    });
    expect(rows.find((r) => r.assetNumber === unknownA)).toMatchObject({ error: { code: 'not-found' } });
    expect(rows[assetNumbers.indexOf(known[3]!, 100)]!.error!.message).toBe('repeats assetNumbers[3]');
    started = rows.filter((r) => r.result === 'started').map((r) => r.workflowId!);
  });

  it('brings every device started (and the busy one) to its first human step', async () => {
    expect(started).toHaveLength(CAMPAIGN - 1);
    const all = [...started, workflowIdFor(busy)];
    // One worker takes the whole campaign through two activities and three workflow tasks per device:
    // how long that takes depends on the machine, so the deadline is generous and says nothing of speed.
    await expect
      .poll(
        async () => {
          const listed = await listedAt('awaiting-collection');
          return all.filter((id) => !listed.has(id));
        },
        { timeout: 2.5 * PATIENCE_MS, interval: 1_000 },
      )
      .toEqual([]);
  });

  it('answers 202 with a bulk id when the starts outlast the wait, and the rows can be read back as they finish', async () => {
    // On a task queue no worker polls: only the starts are under test here.
    const impatient = await startApi({
      temporalAddress: inject('temporalAddress'),
      db: h.db.pool,
      taskQueue: `no-worker-${randomUUID()}`,
      env: { BULK_SYNC_WAIT_MS: '0' },
    });
    try {
      const more = Array.from({ length: 40 }, () => newAssetNumber());
      for (const assetNumber of more) {
        await assetsRepo.upsert(h.db.pool, {
          assetNumber,
          serialNumber: `SN-${assetNumber}`,
          model: 'iPhone 15',
          department: DEPARTMENT,
          location: 'Annex',
        });
      }
      const assetNumbers = ['nope', ...more, unknownA, more[0]!];
      const res = await impatient.call('POST', '/api/v1/inactivations', {
        token: TOKENS.admin,
        body: { reason: 'Lease ends', assetNumbers },
      });
      expect(res.status, JSON.stringify(res.body).slice(0, 2000)).toBe(202);
      expect(res.headers.get('location')).toBe(`/api/v1/bulk/${res.body.bulkId}`);
      expect(res.body.status).toBe('running');
      // What needs no start is decided in the answer; the rest is pending, in place.
      expect(res.body.results.map((r: Row) => r.assetNumber)).toEqual(assetNumbers);
      expect(res.body.results[0]).toMatchObject({ result: 'invalid', error: { code: 'invalid-asset-number' } });
      expect(res.body.results.at(-2)).toMatchObject({ result: 'unknown-asset' });
      expect(res.body.results.at(-1)).toMatchObject({ result: 'invalid', error: { code: 'duplicate' } });
      expect(res.body.results.filter((r: Row) => r.result === 'pending').length).toBeGreaterThan(0);

      const rows = await finalRows(res);
      expect(rows.map((r) => r.assetNumber)).toEqual(assetNumbers);
      expect(rows.slice(1, -2).map((r) => r.result)).toEqual(more.map(() => 'started'));
      expect(rows.slice(1, -2).map((r) => r.workflowId)).toEqual(more.map(workflowIdFor));
      for (const id of rows.slice(1, -2).map((r) => r.workflowId!)) {
        await api.temporal.workflow.getHandle(id).terminate('test: only the start was under test');
      }
    } finally {
      await impatient.close();
    }
  });

  it('shows a started device from describe(), its audit trail and the task index, with no worker running', async () => {
    const workflowId = started[42]!;
    const view = async () => (await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.viewer })).body;
    // The task opens its index row right after the step starts: wait for it before the worker goes.
    await expect.poll(async () => (await view()).sources).toContain('task-index');

    await h.restartWorker(async () => {
      const body = await view();
      expect(body).toMatchObject({
        workflowId,
        type: 'change-user',
        executionStatus: 'running',
        status: 'running',
        step: 'awaiting-collection',
        awaitingTask: 'collect-device',
        department: DEPARTMENT,
        stateAvailable: true,
        pendingTask: {
          type: 'collect-device',
          step: 'awaiting-collection',
          expects: ['device-collected'],
          contact: { email: expect.stringMatching(/^user\d+@example\.com$/) },
          dueAt: expect.any(String),
          remindersSent: 0,
        },
      });
      // Nothing asked the workflow: with no worker, a state query could not have been answered.
      expect(body.sources).toEqual(['temporal-describe', 'audit-trail', 'task-index']);
      expect(body.stepsDone).toEqual([
        { step: 'scheduled', startedAt: expect.any(String), finishedAt: expect.any(String), attempts: 1 },
      ]);
      expect(body.steps.at(-1)).toEqual({ step: 'awaiting-collection', startedAt: expect.any(String), attempts: 1 });
    });
  });
});
