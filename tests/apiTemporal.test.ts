/**
 * The API against the real Temporal dev server from the test globalSetup, with no worker on its task
 * queue: starts, the one-process-per-device rule, listing with filters and cursors, detail with the
 * describe() fallback, and how reports are answered when no worker is there or the workflow is gone.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHANGE_USER_WORKFLOW, type ChangeUserInput } from '../workflows/definitions';
import { asset, memoryDb, startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { assetSeries, PATIENCE_MS } from './support/fixtures';

// Asset numbers unique to this run and file: other test files share the dev server and its workflow ids.
const assetNo = assetSeries();
const DEPARTMENT = `Dept O'Neil ${assetNo.base}`;

const changeUser = { reason: 'Leaver', plannedCollectionDate: '2099-01-01', storageLocation: 'Locker 3' };

let api: ApiHarness;
const started: string[] = [];

beforeAll(async () => {
  const assets = Array.from({ length: 12 }, (_, i) => asset(assetNo(i), i < 6 ? DEPARTMENT : 'Other', 'Osaka'));
  api = await startApi({
    temporalAddress: inject('temporalAddress'),
    db: memoryDb(assets),
    clock: () => new Date('2098-12-01T00:00:00Z'),
    updateTimeoutMs: 2_000,
    queryTimeoutMs: 1_000,
  });
});

afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
  await api?.close();
});

async function startChangeUser(n: number, body: Record<string, unknown> = changeUser) {
  const res = await api.call('POST', `/api/v1/devices/${assetNo(n)}/change-user`, { token: TOKENS.admin, body });
  if (res.status === 201) started.push(res.body.workflowId);
  return res;
}

/** Visibility is eventually consistent: poll until `check` holds. */
async function eventually<T>(read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = PATIENCE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('starting a process', () => {
  it('starts change-user with the actor, config and search attributes (201)', async () => {
    const res = await startChangeUser(0, {
      ...changeUser,
      newUser: { department: 'HR', location: 'Kobe', name: 'Aiko', email: 'aiko@example.com' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({ workflowId: `device-${assetNo(0)}`, runId: expect.any(String) });

    const handle = api.temporal.workflow.getHandle(res.body.workflowId);
    const desc = await handle.describe();
    expect(desc.type).toBe(CHANGE_USER_WORKFLOW);
    expect(desc.taskQueue).toMatch(/^api-test-/);
    expect(await desc.staticSummary()).toBe(`Change user of ${assetNo(0)}: Leaver`);
    expect(await desc.staticDetails()).toContain('| planned collection date | 2099-01-01 |');
    expect(desc.searchAttributes).toMatchObject({
      AssetNumber: [assetNo(0)],
      LifecycleProcess: ['change-user'],
      LifecycleStep: ['scheduled'],
      Department: [DEPARTMENT],
      Location: ['Osaka'],
      NeedsAttention: [false],
    });

    const history = await handle.fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const input = JSON.parse(Buffer.from(payload!.data!).toString()) as ChangeUserInput;
    expect(input).toMatchObject({
      assetNumber: assetNo(0),
      keepRecordAfterWipe: true,
      requestedBy: { id: 'admin@local', role: 'admin' },
      adminInCharge: {
        name: api.config.ADMIN_IN_CHARGE_NAME,
        email: api.config.ADMIN_EMAILS[0],
        department: api.config.ADMIN_IN_CHARGE_DEPARTMENT,
      },
      newUser: { name: 'Aiko' },
      timings: { reminderBeforeMs: 86_400_000 },
    });
  });

  it('refuses a second process on a busy device with 409 naming the running workflow, type and step', async () => {
    const res = await api.call('POST', `/api/v1/devices/${assetNo(0)}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Broken' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.code).toBe('device-busy');
    expect(res.body.error.message).toContain(`device-${assetNo(0)}`);
    expect(res.body.error.message).toContain('scheduled');
    expect(res.body.error.details.running).toMatchObject({
      workflowId: `device-${assetNo(0)}`,
      workflowType: CHANGE_USER_WORKFLOW,
      process: 'change-user',
      status: 'running',
      step: 'scheduled',
    });
  });

  it('allows a new process once the previous one has closed', async () => {
    const first = await startChangeUser(1);
    expect(first.status).toBe(201);
    await api.temporal.workflow.getHandle(first.body.workflowId).terminate('test: close it');
    const res = await api.call('POST', `/api/v1/devices/${assetNo(1)}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Lost', forced: true, acknowledgeProfileStays: true, finalStatus: 'in_stock' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.runId).not.toBe(first.body.runId);
    expect(await (await api.temporal.workflow.getHandle(res.body.workflowId).describe()).staticSummary()).toBe(
      `Forced inactivation ${assetNo(1)}: Lost`,
    );
  });

  it('starts a campaign with one row per asset in input order', async () => {
    const res = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: { ...changeUser, assetNumbers: [assetNo(2), assetNo(0), 'A-1', assetNo(3), assetNo(2), 'A-999999'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const r of res.body.results) if (r.result === 'started') started.push(r.workflowId);
    expect(res.body.results.map((r: { result: string }) => r.result)).toEqual([
      'started',
      'busy',
      'invalid',
      'started',
      'invalid',
      'unknown-asset',
    ]);
    expect(res.body.results[1]).toMatchObject({ workflowId: `device-${assetNo(0)}`, error: { code: 'device-busy' } });
    expect(res.body.results[0]).toMatchObject({
      assetNumber: assetNo(2),
      workflowId: `device-${assetNo(2)}`,
      runId: expect.any(String),
    });
  });
});

describe('reading workflows', () => {
  it('shows a workflow from describe() and search attributes when no worker answers the state query', async () => {
    const res = await api.call('GET', `/api/v1/workflows/device-${assetNo(0)}`, { token: TOKENS.viewer });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      workflowId: `device-${assetNo(0)}`,
      type: 'change-user',
      assetNumber: assetNo(0),
      executionStatus: 'running',
      status: 'running',
      step: 'scheduled',
      department: DEPARTMENT,
      stateAvailable: false,
      summary: `Change user of ${assetNo(0)}: Leaver`,
    });
  });

  it('answers 404 for a workflow that does not exist', async () => {
    const res = await api.call('GET', '/api/v1/workflows/device-A-000000', { token: TOKENS.field });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not-found');
  });

  it('filters by department (with a quote in it), type, status and asset', async () => {
    const dept = encodeURIComponent(DEPARTMENT);
    const list = await eventually(
      () => api.call('GET', `/api/v1/workflows?department=${dept}&status=running`, { token: TOKENS.viewer }),
      (r) => r.status !== 200 || r.body.items.length >= 4,
    );
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    const ids = list.body.items.map((i: { workflowId: string }) => i.workflowId).sort();
    // 0 (single start), 1 (the inactivation after the terminated run), 2 and 3 (campaign).
    expect(ids).toEqual([0, 1, 2, 3].map((n) => `device-${assetNo(n)}`));
    expect(list.body.items.find((i: { workflowId: string }) => i.workflowId === `device-${assetNo(1)}`)).toMatchObject({
      type: 'inactivation',
      assetNumber: assetNo(1),
      executionStatus: 'running',
      step: 'requesting-inactivation',
      department: DEPARTMENT,
      location: 'Osaka',
      needsAttention: false,
    });

    const inactivations = await api.call('GET', `/api/v1/workflows?department=${dept}&type=inactivation`, {
      token: TOKENS.viewer,
    });
    expect(inactivations.body.items.map((i: { workflowId: string }) => i.workflowId)).toEqual([`device-${assetNo(1)}`]);

    const terminated = await eventually(
      () => api.call('GET', `/api/v1/workflows?asset=${assetNo(1)}&status=terminated`, { token: TOKENS.viewer }),
      (r) => r.status !== 200 || r.body.items.length === 1,
    );
    expect(terminated.body.items).toHaveLength(1);
    expect(terminated.body.items[0]).toMatchObject({
      type: 'change-user',
      executionStatus: 'terminated',
      closedAt: expect.any(String),
    });
  });

  it('pages with an opaque cursor, without repeats, bound to its filters', async () => {
    const dept = encodeURIComponent(DEPARTMENT);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = `department=${dept}&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api.call('GET', `/api/v1/workflows?${qs}`, { token: TOKENS.viewer });
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((i: { runId: string }) => i.runId));
      cursor = page.body.nextCursor;
      pages++;
      if (cursor && pages === 1) {
        const other = await api.call('GET', `/api/v1/workflows?department=Other&limit=3&cursor=${cursor}`, {
          token: TOKENS.viewer,
        });
        expect(other.status).toBe(400);
        expect(other.body.error.details.problems[0].field).toBe('cursor');
      }
    } while (cursor && pages < 10);
    // Four running workflows and the terminated run of asset 1.
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect(pages).toBeGreaterThanOrEqual(2);
  });
});

describe('reports and commands without a worker', () => {
  it('answers 503 worker-unavailable with Retry-After when the workflow does not answer in time', async () => {
    const res = await api.call('POST', `/api/v1/workflows/device-${assetNo(0)}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Field Tech' } },
      headers: { 'idempotency-key': 'collect-test-0001' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error.code).toBe('worker-unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers 404 for a report to a workflow that never existed', async () => {
    const res = await api.call('POST', '/api/v1/workflows/device-A-000000/events/device-collected', {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Field Tech' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(404);
  });

  it('answers 409 workflow-closed for a report or command to a closed workflow', async () => {
    const first = await startChangeUser(4);
    expect(first.status).toBe(201);
    await api.temporal.workflow.getHandle(first.body.workflowId).terminate('test: close it');
    const report = await api.call('POST', `/api/v1/workflows/${first.body.workflowId}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Field Tech' } },
    });
    expect(report.status, JSON.stringify(report.body)).toBe(409);
    expect(report.body.error).toMatchObject({ code: 'workflow-closed', details: { executionStatus: 'terminated' } });
    const cancel = await api.call('POST', `/api/v1/workflows/${first.body.workflowId}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'x' },
    });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(409);
  });
});

describe('readiness', () => {
  it('is not ready while no worker polls its task queue, though Temporal and the database answer', async () => {
    // Readiness with a worker: tests/apiReadiness.test.ts.
    const res = await api.call('GET', '/readyz');
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error.details.checks).toEqual([
      { name: 'temporal', ok: true },
      { name: 'database', ok: true },
      { name: 'worker', ok: false },
    ]);
  });

  it('names the database when it does not answer', async () => {
    const broken = await startApi({
      temporalAddress: inject('temporalAddress'),
      db: memoryDb([], { pingFails: true }),
    });
    try {
      const res = await broken.call('GET', '/api/v1/readyz');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toContain('database');
      expect(res.body.error.message).not.toContain('temporal');
      // Names only: why it failed stays in the API's log.
      expect(JSON.stringify(res.body)).not.toContain('database down');
    } finally {
      await broken.close();
    }
  });
});
