/**
 * The task index on real parts (PostgreSQL, the Temporal dev server, a worker, the MDM emulator, the API):
 * after starts, reports, a cancel, needs-attention with a retry and with an abort, the `open_tasks` table
 * says exactly what each workflow's state says (its pendingTask, or the admin decision while it needs
 * attention, or nothing), and the inbox lists it; a worker stopped between a task opening and its row
 * being written leaves the row to the retried activity; `npm run tasks:rebuild` restores an emptied table
 * and removes stale rows, idempotently.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { OpenTask } from '../activities/contracts';
import { loadConfig } from '../config/env';
import * as tasksRepo from '../db/tasksRepo';
import { rebuildTaskIndex } from '../scripts/rebuildTasks';
import { DepartmentKey, LocationKey } from '../temporal/searchAttributes';
import {
  adminUpdates,
  reportUpdates,
  stateQuery,
  workflowIdFor,
  type HumanTask,
  type LifecycleState,
} from '../workflows/definitions';
import { startApiFor, TOKENS, type ApiHarness } from './support/apiHarness';
import {
  assetSeries,
  changeUserInput,
  command,
  dateInDays,
  FAST_TIMINGS,
  inactivationInput,
  PATIENCE_MS,
  report,
} from './support/fixtures';
import { startHarness, type Harness } from './support/lifecycleHarness';

/** openTask of this asset waits until the worker stops (a crash between the task opening and its row). */
let blockedAsset: string | undefined;
let blockedEntered: ((task: OpenTask) => void) | undefined;

let h: Harness;
let api: ApiHarness;
/** Where a returned device is filed: the default ADMIN_IN_CHARGE_DEPARTMENT. */
const STOCK_DEPARTMENT = loadConfig({}).ADMIN_IN_CHARGE_DEPARTMENT;
const handles: WorkflowHandle[] = [];
/** The escalation delay each workflow was started with: the API's configuration, or the test timings. */
const escalationOf = new Map<string, number>();

beforeAll(async () => {
  h = await startHarness({
    wrapActivities: (real) => ({
      ...real,
      async openTask(task) {
        if (task.assetNumber === blockedAsset) {
          blockedEntered?.(task);
          await Context.current().cancelled; // rejects when the worker shuts down: nothing was written
        }
        return real.openTask(task);
      },
    }),
  });
  api = await startApiFor(h);
});
afterAll(async () => {
  await Promise.allSettled(handles.map((handle) => handle.terminate('test cleanup')));
  await api?.close();
  await h?.stop();
});

const no = assetSeries();
const DEPT = `Index ${no.base}`;

type State = LifecycleState & { occurrence?: number };
type Task = HumanTask & { occurrence?: number };

function keyword(value: unknown): string | null {
  const one = Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
  return typeof one === 'string' ? one : null;
}

/** The row the index must hold for this workflow now, from its own state and search attributes. */
async function expectedRow(handle: WorkflowHandle, escalateAfterMs: number): Promise<OpenTask | null> {
  const s = (await handle.query(stateQuery)) as State;
  const d = await handle.describe();
  const base = {
    workflowId: handle.workflowId,
    runId: d.runId,
    taskQueue: h.taskQueue,
    process: s.process,
    assetNumber: s.assetNumber,
    department: keyword(d.typedSearchAttributes.get(DepartmentKey)),
    location: keyword(d.typedSearchAttributes.get(LocationKey)),
  };
  const t = s.pendingTask as Task | undefined;
  if (s.status === 'running' && t) {
    const contact = t.contact && Object.keys(t.contact).length > 0 ? t.contact : null;
    return {
      ...base,
      occurrence: t.occurrence ?? s.occurrence ?? s.steps.length,
      type: t.type,
      step: t.step,
      expects: t.expects,
      contact,
      dueAt: t.dueAt,
      // The state says when the task escalates (records-1); for older states the delay after its due time.
      escalateAt: t.escalateAt ?? new Date(Date.parse(t.dueAt) + escalateAfterMs).toISOString(),
      createdAt: t.createdAt,
      remindersSent: t.remindersSent,
      escalated: t.escalated,
    };
  }
  if (s.status === 'needs-attention') {
    const since = s.steps.at(-1)!.startedAt;
    return {
      ...base,
      occurrence: s.occurrence ?? s.steps.length,
      type: 'admin-decision',
      step: 'needs-attention',
      expects: [],
      contact: null,
      dueAt: since,
      escalateAt: null,
      createdAt: since,
      remindersSent: 0,
      escalated: false,
      failedStep: s.failedStep,
      lastError: s.lastError,
      ...(s.errorKind ? { errorKind: s.errorKind } : {}),
    };
  }
  return null;
}

/**
 * Waits until the index row of the workflow is what its state says (the row is written by an activity
 * just after the task opens or closes, so it may trail the state by a moment).
 */
async function indexMatches(handle: WorkflowHandle): Promise<OpenTask | null> {
  const escalateAfterMs = escalationOf.get(handle.workflowId) ?? FAST_TIMINGS.escalateAfterMs;
  let row: OpenTask | null = null;
  await vi.waitFor(
    async () => {
      const expected = await expectedRow(handle, escalateAfterMs);
      row = await tasksRepo.get(h.db.pool, handle.workflowId);
      // An admin decision's failure kind is in the state too (mdm-weather-1), so a rebuilt row has it.
      expect(row).toEqual(expected);
    },
    { timeout: PATIENCE_MS, interval: 200 },
  );
  return row;
}

const inbox = async (query: string, token: string = TOKENS.field) => {
  const res = await api.call('GET', `/api/v1/tasks?${query}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { items: { workflowId: string; [k: string]: unknown }[]; nextCursor: string | null };
};

/** Through the API, as an admin would; waits until the workflow waits at `step`. */
async function startThroughApi(kind: 'change-user' | 'inactivation', n: number, step: string) {
  await h.seedDevice({
    assetNumber: no(n),
    department: DEPT,
    location: n % 2 ? 'Kobe' : 'Nara',
    userName: `User ${n}`,
    userEmail: `user${n}@example.com`,
    userPhone: '+81 3 0000 0000',
  });
  const body =
    kind === 'change-user'
      ? { reason: 'Team change', plannedCollectionDate: dateInDays(3), storageLocation: 'Shelf 1' }
      : { reason: 'Retire' };
  const res = await api.call('POST', `/api/v1/devices/${no(n)}/${kind}`, { token: TOKENS.admin, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const handle = api.temporal.workflow.getHandle(workflowIdFor(no(n)));
  handles.push(handle);
  escalationOf.set(handle.workflowId, api.config.ESCALATE_AFTER_MS);
  await h.waitForStep(handle, step as LifecycleState['step']);
  return handle;
}

/** Through the client on the harness's worker, with a wipe the MDM refuses: it parks in needs-attention. */
async function parkedAtWipe(n: number) {
  const { mdmDeviceId } = await h.seedDevice({ assetNumber: no(n), department: DEPT, location: 'Osaka' });
  const handle = await h.startChangeUser(changeUserInput(no(n)));
  handles.push(handle);
  await h.waitForStep(handle, 'awaiting-collection');
  await h.emulator.addFault({
    kind: 'error',
    status: 403,
    count: 1,
    method: 'POST',
    pathPrefix: `/devices/${mdmDeviceId}/commands`,
  });
  await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] });
  await h.waitForStep(handle, 'needs-attention');
  return handle;
}

let changeUser: WorkflowHandle;
let inactivation: WorkflowHandle;

describe('the table follows the workflows', () => {
  it('holds the first task of each started process, whole, and the inbox lists it', async () => {
    [changeUser, inactivation] = await Promise.all([
      startThroughApi('change-user', 1, 'awaiting-collection'),
      startThroughApi('inactivation', 2, 'awaiting-removal-profile'),
    ]);
    const collect = await indexMatches(changeUser);
    expect(collect).toMatchObject({
      type: 'collect-device',
      dueAt: `${dateInDays(3)}T00:00:00.000Z`,
      department: DEPT,
      location: 'Kobe',
      contact: { name: 'User 1', email: 'user1@example.com', phone: '+81 3 0000 0000' },
    });
    await indexMatches(inactivation);

    const listed = await inbox(`department=${encodeURIComponent(DEPT)}`);
    // The inactivation task is due now; the collection on its planned date.
    expect(listed.items.map((t) => t.workflowId)).toEqual([inactivation.workflowId, changeUser.workflowId]);
    expect(listed.items[1]).toEqual({
      workflowId: changeUser.workflowId,
      runId: collect!.runId,
      process: 'change-user',
      type: 'collect-device',
      step: 'awaiting-collection',
      expects: ['device-collected'],
      assetNumber: no(1),
      department: DEPT,
      location: 'Kobe',
      contact: { name: 'User 1', email: 'user1@example.com', phone: '+81 3 0000 0000' },
      dueAt: `${dateInDays(3)}T00:00:00.000Z`,
      escalateAt: collect!.escalateAt,
      createdAt: collect!.createdAt,
      overdue: false,
      remindersSent: 0,
      escalated: false,
      stateAvailable: true,
      workflowUrl: `/api/v1/workflows/${changeUser.workflowId}`,
      reportUrls: {
        'device-collected': `/api/v1/workflows/${changeUser.workflowId}/events/device-collected`,
      },
    });
    expect(listed.items[0]).toMatchObject({
      process: 'inactivation',
      type: 'install-removal-profile',
      expects: ['removal-profile-installed', 'profile-removal-failed'],
    });
  });

  it('closes a task with its report and holds the next one', async () => {
    const ack = await api.call(
      'POST',
      `/api/v1/workflows/${inactivation.workflowId}/events/removal-profile-installed`,
      {
        token: TOKENS.field,
        body: { data: {} },
      },
    );
    expect(ack.status, JSON.stringify(ack.body)).toBe(200);
    await h.waitForStep(inactivation, 'awaiting-profile-removal');
    expect(await indexMatches(inactivation)).toMatchObject({
      type: 'remove-profiles',
      expects: ['profiles-removed', 'profile-removal-failed'],
    });

    const collected = await api.call('POST', `/api/v1/workflows/${changeUser.workflowId}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Bob' } },
    });
    expect(collected.status, JSON.stringify(collected.body)).toBe(200);
    // The collection leaves the inbox, even while the workflow is busy wiping.
    await expect
      .poll(async () => (await inbox(`type=collect-device&department=${encodeURIComponent(DEPT)}`)).items)
      .toEqual([]);
    await h.waitForStep(changeUser, 'awaiting-reenrollment');
    // Back in stock, the device belongs to the admin in charge's department (ADMIN_IN_CHARGE_DEPARTMENT,
    // default IT Operations) at the storage location.
    expect(await indexMatches(changeUser)).toMatchObject({
      type: 'reenroll-device',
      department: STOCK_DEPARTMENT,
      location: 'Shelf 1',
    });
    expect((await inbox('type=reenroll-device')).items).toEqual([
      expect.objectContaining({ workflowId: changeUser.workflowId, department: STOCK_DEPARTMENT, location: 'Shelf 1' }),
    ]);
  });

  it('lists a process that needs attention as an admin decision; a retry closes it and the next task opens', async () => {
    const parked = await parkedAtWipe(3);
    const decision = await indexMatches(parked);
    // Returned to stock before the wipe: the device is the IT department's now (this process names its
    // admin in charge itself, from the test fixtures).
    expect(decision).toMatchObject({ type: 'admin-decision', failedStep: 'wiping', department: 'IT' });
    expect(decision?.lastError).toMatch(/requestWipe/);
    expect((await inbox('type=admin-decision', TOKENS.admin)).items).toEqual([
      expect.objectContaining({
        workflowId: parked.workflowId,
        failedStep: 'wiping',
        overdue: true,
        reportUrls: {
          retry: `/api/v1/workflows/${parked.workflowId}/retry`,
          abort: `/api/v1/workflows/${parked.workflowId}/abort`,
          cancel: `/api/v1/workflows/${parked.workflowId}/cancel`,
        },
      }),
    ]);

    await parked.executeUpdate(adminUpdates.retry, { args: [command('MDM fixed')] });
    await h.waitForStep(parked, 'awaiting-reenrollment');
    expect(await indexMatches(parked)).toMatchObject({ type: 'reenroll-device', step: 'awaiting-reenrollment' });
  });

  it('leaves no row behind a cancel or an abort', async () => {
    const cancelled = await api.call('POST', `/api/v1/workflows/${changeUser.workflowId}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'user stays' },
    });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(await indexMatches(changeUser)).toBeNull();

    const parked = await parkedAtWipe(4);
    await indexMatches(parked);
    await parked.executeUpdate(adminUpdates.abort, { args: [command('device lost')] });
    await h.waitForState(parked, (s) => s.status === 'aborted');
    expect(await indexMatches(parked)).toBeNull();
  });

  it('gets the row from the retried activity when the worker stops between the task opening and its row', async () => {
    const entered = new Promise<OpenTask>((resolve) => (blockedEntered = resolve));
    blockedAsset = no(5);
    await h.seedDevice({ assetNumber: no(5), department: DEPT, location: 'Kobe' });
    const handle = await h.startInactivation(inactivationInput(no(5)));
    handles.push(handle);
    const opening = await entered;
    // The task is open in the workflow; its row is not written.
    expect((await handle.query(stateQuery)).pendingTask).toMatchObject({ type: 'install-removal-profile' });
    expect(await tasksRepo.get(h.db.pool, handle.workflowId)).toBeNull();

    await h.restartWorker(async () => {
      blockedAsset = undefined;
    });
    // The activity's next attempt runs on the fresh worker (after its retry interval, or its 20 s timeout).
    const row = await indexMatches(handle);
    expect(row).toMatchObject({ type: 'install-removal-profile', occurrence: opening.occurrence });
  });
});

describe('npm run tasks:rebuild', () => {
  const snapshot = async () =>
    (await tasksRepo.list(h.db.pool, { taskQueue: h.taskQueue, limit: 1000 })).items.sort((a, b) =>
      a.workflowId.localeCompare(b.workflowId),
    );

  it('restores an emptied table from the running workflows, removes stale rows, and is idempotent', async () => {
    const parked = await parkedAtWipe(6);
    for (const handle of handles) await indexMatches(handle);
    const before = await snapshot();
    expect(before.map((t) => t.type).sort()).toEqual(
      ['admin-decision', 'install-removal-profile', 'reenroll-device', 'remove-profiles'].sort(),
    );
    expect(before.find((t) => t.workflowId === parked.workflowId)).toMatchObject({ type: 'admin-decision' });

    // The incident: the table is lost, and stale rows of workflows that no longer run come back with it.
    await h.db.pool.query('DELETE FROM open_tasks');
    const stale = (workflowId: string, runId: string) =>
      tasksRepo.open(h.db.pool, { ...before[0]!, workflowId, runId, taskQueue: h.taskQueue });
    await stale(changeUser.workflowId, (await changeUser.describe()).runId); // cancelled above
    await stale(workflowIdFor('A-000000'), 'never-ran');

    const summary = await rebuildTaskIndex({
      pool: h.db.pool,
      client: h.client,
      namespace: 'default',
      taskQueue: h.taskQueue,
    });
    expect(summary).toMatchObject({ written: before.length, removed: 2, openTasks: before.length, unanswered: [] });
    expect(await snapshot()).toEqual(before);

    const again = await rebuildTaskIndex({
      pool: h.db.pool,
      client: h.client,
      namespace: 'default',
      taskQueue: h.taskQueue,
    });
    expect(again).toMatchObject({ written: 0, removed: 0, openTasks: before.length, unanswered: [] });
    expect(await snapshot()).toEqual(before);
  });

  it('runs as a command configured from the environment and prints its summary', async () => {
    const before = await snapshot();
    await tasksRepo.closeThrough(h.db.pool, before[0]!, before[0]!.occurrence);
    const root = path.join(import.meta.dirname, '..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/rebuildTasks.ts', '--json'],
      {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: h.db.url,
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          TEMPORAL_TASK_QUEUE: h.taskQueue,
        },
        timeout: PATIENCE_MS,
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ taskQueue: h.taskQueue, written: 1, removed: 0, unanswered: [] });
    expect(await snapshot()).toEqual(before);
  });
});
