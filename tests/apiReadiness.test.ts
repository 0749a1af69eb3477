/**
 * GET /readyz says ready only while a worker polls the API's task queue: 503 naming `worker` (Temporal
 * and the database fine) before any worker, 200 once one polls, 503 again some time after it stopped
 * (Temporal lists a worker's last poll; an idle worker polls about once a minute, so readiness gives a
 * stopped one WORKER_POLLED_WITHIN_MS). Anonymous answers carry component names and ok, no reasons.
 */
import { randomUUID } from 'node:crypto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WORKER_POLLED_WITHIN_MS } from '../api/routes/health';
import { createLifecycleWorker } from '../worker/createWorker';
import { loadWorkflowBundle } from '../worker/workflowBundle';
import { memoryDb, startApi, type ApiHarness } from './support/apiHarness';
import { quietRuntime } from './support/lifecycleHarness';
import { PATIENCE_MS } from './support/patience';
import { createStubActivities } from './support/stubActivities';

const taskQueue = `readiness-${randomUUID()}`;
let api: ApiHarness;
let connection: NativeConnection;

beforeAll(async () => {
  quietRuntime();
  api = await startApi({ temporalAddress: inject('temporalAddress'), db: memoryDb(), taskQueue });
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
});

afterAll(async () => {
  await connection?.close();
  await api?.close();
});

async function readyz() {
  const res = await api.call('GET', '/readyz');
  const checks = (res.status === 200 ? res.body.checks : res.body.error?.details?.checks) as {
    name: string;
    ok: boolean;
  }[];
  return { status: res.status, body: res.body, checks, retryAfter: res.headers.get('retry-after') };
}

describe('readiness follows the workers polling the task queue', () => {
  it('is 503 (worker) while none polls, 200 while one does, 503 again after it stopped', async () => {
    const before = await readyz();
    expect(before.status, JSON.stringify(before.body)).toBe(503);
    expect(before.body.error).toMatchObject({ code: 'not-ready', message: 'not ready: worker' });
    expect(before.checks).toEqual([
      { name: 'temporal', ok: true },
      { name: 'database', ok: true },
      { name: 'worker', ok: false },
    ]);
    // Anonymous: component names and ok only, never why (no task queue names, addresses or errors).
    expect(JSON.stringify(before.body)).not.toContain(taskQueue);
    expect(before.retryAfter).not.toBeNull();

    const worker: Worker = await createLifecycleWorker({
      connection,
      taskQueue,
      activities: createStubActivities().activities,
      workflowBundle: (await loadWorkflowBundle()).bundle,
    });
    const running = worker.run();
    try {
      await expect.poll(async () => (await readyz()).status).toBe(200);
      const ready = await readyz();
      expect(ready.body).toEqual({
        status: 'ready',
        checks: [
          { name: 'temporal', ok: true },
          { name: 'database', ok: true },
          { name: 'worker', ok: true },
        ],
      });
      // Also under /api/v1.
      expect((await api.call('GET', '/api/v1/readyz')).status).toBe(200);
    } finally {
      worker.shutdown();
      await running;
    }

    // Its last poll ages past the window (about a minute): then no worker serves the queue.
    await expect
      .poll(async () => (await readyz()).status, { timeout: WORKER_POLLED_WITHIN_MS + PATIENCE_MS, interval: 1_000 })
      .toBe(503);
    const after = await readyz();
    expect(after.checks.find((c) => c.name === 'worker')).toEqual({ name: 'worker', ok: false });
    expect(after.checks.filter((c) => c.name !== 'worker').every((c) => c.ok)).toBe(true);
  });
});
