/**
 * The task inbox (GET /tasks) on real parts: workflows of both processes started through the API wait
 * for people; the inbox lists their tasks oldest due first with what each expects, who to contact and
 * where to report it; filters and cursors; a step change replaces the old task with the next one; a
 * workflow whose worker does not answer is still listed, flagged.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  AssetNumberKey,
  AwaitingTaskKey,
  DepartmentKey,
  LifecycleStepKey,
  LocationKey,
} from '../temporal/searchAttributes';
import { CHANGE_USER_WORKFLOW, workflowIdFor } from '../workflows/definitions';
import { startApi, TOKENS } from './support/apiHarness';
import { assetSeries, dateInDays, PATIENCE_MS } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();
const started: string[] = [];

const no = assetSeries();
const wf = (n: number) => workflowIdFor(no(n));
const DEPT = `Tasks ${no.base}`;

async function startChangeUser(n: number, location: string, plannedInDays: number) {
  await h.seedDevice({
    assetNumber: no(n),
    department: DEPT,
    location,
    userName: `User ${n}`,
    userEmail: `user${n}@example.com`,
    userPhone: '+81 3 0000 0000',
  });
  const res = await api.call('POST', `/api/v1/devices/${no(n)}/change-user`, {
    token: TOKENS.admin,
    body: { reason: 'Team change', plannedCollectionDate: dateInDays(plannedInDays), storageLocation: 'Shelf 1' },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  started.push(wf(n));
  await h.waitForStep(api.temporal.workflow.getHandle(wf(n)), 'awaiting-collection');
}

async function startInactivation(n: number, location: string) {
  await h.seedDevice({ assetNumber: no(n), department: DEPT, location });
  const res = await api.call('POST', `/api/v1/devices/${no(n)}/inactivation`, {
    token: TOKENS.admin,
    body: { reason: 'Retire' },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  started.push(wf(n));
  await h.waitForStep(api.temporal.workflow.getHandle(wf(n)), 'awaiting-removal-profile');
}

const tasks = (query = '', token: string = TOKENS.field) =>
  api.call('GET', `/api/v1/tasks?department=${encodeURIComponent(DEPT)}${query}`, { token });
const ids = (body: { items: { workflowId: string }[] }) => body.items.map((t) => t.workflowId);

beforeAll(async () => {
  await Promise.all([
    startChangeUser(1, 'Kobe', 9),
    startChangeUser(2, 'Nara', 3),
    startChangeUser(3, 'Kobe', 6),
    startInactivation(4, 'Nara'),
  ]);
  // The inbox finds tasks through visibility, which hears of a step a moment after the workflow enters it.
  await vi.waitFor(async () => expect(ids((await tasks()).body).sort()).toEqual([wf(1), wf(2), wf(3), wf(4)].sort()), {
    timeout: PATIENCE_MS,
    interval: 100,
  });
});
afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
});

describe('GET /tasks', () => {
  it('is for field staff and admins', async () => {
    expect((await tasks('', TOKENS.admin)).status).toBe(200);
    expect((await tasks('', TOKENS.field)).status).toBe(200);
    const viewer = await tasks('', TOKENS.viewer);
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.details.allowed).toEqual(['admin', 'field-staff']);
    expect((await api.call('GET', '/api/v1/tasks')).status).toBe(401);
  });

  it('lists every pending human step of both processes, oldest due first, with contact and report URLs', async () => {
    const res = await tasks();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The inactivation task is due now; the collections are due on their planned dates.
    expect(ids(res.body)).toEqual([wf(4), wf(2), wf(3), wf(1)]);
    expect(res.body).toMatchObject({ nextCursor: null, truncated: false, stateUnavailable: [] });
    const collect = res.body.items[1];
    expect(collect).toEqual({
      workflowId: wf(2),
      runId: expect.any(String),
      process: 'change-user',
      type: 'collect-device',
      step: 'awaiting-collection',
      expects: ['device-collected'],
      assetNumber: no(2),
      department: DEPT,
      location: 'Nara',
      contact: { name: 'User 2', email: 'user2@example.com', phone: '+81 3 0000 0000' },
      dueAt: `${dateInDays(3)}T00:00:00.000Z`,
      createdAt: expect.any(String),
      overdue: false,
      remindersSent: 0,
      escalated: false,
      stateAvailable: true,
      workflowUrl: `/api/v1/workflows/${wf(2)}`,
      reportUrls: { 'device-collected': `/api/v1/workflows/${wf(2)}/events/device-collected` },
    });
    expect(res.body.items[0]).toMatchObject({
      process: 'inactivation',
      type: 'install-removal-profile',
      expects: ['removal-profile-installed', 'profile-removal-failed'],
      reportUrls: {
        'removal-profile-installed': `/api/v1/workflows/${wf(4)}/events/removal-profile-installed`,
        'profile-removal-failed': `/api/v1/workflows/${wf(4)}/events/profile-removal-failed`,
      },
    });
  });

  it('filters by location, task type and process', async () => {
    expect(ids((await tasks('&location=Kobe')).body)).toEqual([wf(3), wf(1)]);
    expect(ids((await tasks('&type=install-removal-profile')).body)).toEqual([wf(4)]);
    expect(ids((await tasks('&process=inactivation')).body)).toEqual([wf(4)]);
    expect(ids((await tasks('&type=reenroll-device')).body)).toEqual([]);
    expect(ids((await tasks('&type=collect-device&location=Nara')).body)).toEqual([wf(2)]);
  });

  it('refuses bad filters with a 400 naming the field', async () => {
    const badType = await tasks('&type=Not%20A%20Type');
    expect(badType.status).toBe(400);
    expect(badType.body.error.details.problems[0].field).toBe('type');
    const unknown = await tasks('&colour=red');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.problems[0].field).toBe('colour');
    expect((await tasks('&limit=0')).status).toBe(400);
  });

  it('pages with an opaque cursor that belongs to its filters', async () => {
    const first = await tasks('&limit=3');
    expect(ids(first.body)).toEqual([wf(4), wf(2), wf(3)]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await tasks(`&limit=3&cursor=${first.body.nextCursor}`);
    expect(ids(second.body)).toEqual([wf(1)]);
    expect(second.body.nextCursor).toBeNull();
    const elsewhere = await tasks(`&location=Kobe&cursor=${first.body.nextCursor}`);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.details.problems[0].field).toBe('cursor');
  });

  it('shows a step change: the old task is gone and the next one is listed', async () => {
    const ack = await api.call('POST', `/api/v1/workflows/${wf(4)}/events/removal-profile-installed`, {
      token: TOKENS.field,
      body: { data: {} },
    });
    expect(ack.status, JSON.stringify(ack.body)).toBe(200);
    expect(ack.body.step).toBe('awaiting-profile-removal');
    await expect
      .poll(async () => (await tasks('&process=inactivation')).body.items)
      .toEqual([
        expect.objectContaining({
          workflowId: wf(4),
          type: 'remove-profiles',
          step: 'awaiting-profile-removal',
          expects: ['profiles-removed', 'profile-removal-failed'],
        }),
      ]);

    // A collection reported: its task leaves the inbox, even while the workflow is busy wiping.
    const collected = await api.call('POST', `/api/v1/workflows/${wf(2)}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Bob' } },
    });
    expect(collected.status, JSON.stringify(collected.body)).toBe(200);
    await expect.poll(async () => ids((await tasks('&type=collect-device')).body)).toEqual([wf(3), wf(1)]);
    await h.waitForStep(api.temporal.workflow.getHandle(wf(2)), 'awaiting-reenrollment');
    // Back in stock, the device belongs to the IT department at the storage location.
    await expect
      .poll(
        async () => (await api.call('GET', '/api/v1/tasks?type=reenroll-device', { token: TOKENS.field })).body.items,
      )
      .toEqual([
        expect.objectContaining({
          workflowId: wf(2),
          type: 'reenroll-device',
          department: 'IT',
          location: 'Shelf 1',
          contact: expect.objectContaining({ email: expect.any(String) }),
        }),
      ]);
  });

  it('still lists a workflow whose worker does not answer, flagged', async () => {
    const queue = `no-worker-${randomUUID()}`;
    const dept = `Unanswered ${no.base}`;
    const id = wf(9);
    await api.temporal.workflow.start(CHANGE_USER_WORKFLOW, {
      taskQueue: queue,
      workflowId: id,
      args: [{}],
      typedSearchAttributes: [
        { key: AssetNumberKey, value: no(9) },
        { key: LifecycleStepKey, value: 'awaiting-collection' },
        { key: AwaitingTaskKey, value: 'collect-device' },
        { key: DepartmentKey, value: dept },
        { key: LocationKey, value: 'Nowhere' },
      ],
    });
    started.push(id);
    const lonely = await startApi({
      temporalAddress: inject('temporalAddress'),
      db: h.db.pool,
      taskQueue: queue,
      queryTimeoutMs: 500,
    });
    try {
      const inbox = () =>
        lonely.call('GET', `/api/v1/tasks?department=${encodeURIComponent(dept)}`, { token: TOKENS.field });
      // Listed from visibility, which hears of the new workflow a moment after its start.
      await expect.poll(async () => (await inbox()).body.items?.length).toBe(1);
      const res = await inbox();
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.items).toEqual([
        expect.objectContaining({
          workflowId: id,
          type: 'collect-device',
          step: 'awaiting-collection',
          assetNumber: no(9),
          location: 'Nowhere',
          stateAvailable: false,
        }),
      ]);
      expect(res.body.stateUnavailable).toEqual([id]);
    } finally {
      await lonely.close();
    }
  });
});
