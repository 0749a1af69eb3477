/**
 * Applications through the HTTP API on real parts (PostgreSQL, Temporal dev server, a worker, the MDM
 * emulator): roles and validation; an application with nobody waiting stays pending and the next
 * change-user workflow to reach `awaiting-assignment` takes it; an application goes to the oldest
 * workflow already waiting; two applications at once go to two different workflows; retries are
 * idempotent.
 */
import {
  ApplicationFailure,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { handOff } from '../api/applicationHandoff';
import * as applicationsRepo from '../db/applicationsRepo';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import * as tasksRepo from '../db/tasksRepo';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { assetSeries, dateInDays } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();
const started: string[] = [];

const no = assetSeries();
const wf = (n: number) => workflowIdFor(no(n));
const inAWeek = dateInDays(7);

afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
});

const application = (name: string, extra: Record<string, unknown> = {}) => ({
  department: '開発部',
  deliveryLocation: 'Osaka 5F',
  userName: name,
  userEmail: `${name.toLowerCase().replace(/\s+/g, '.')}@example.com`,
  userPhone: '+81 6 1111 2222',
  ...extra,
});

const apply = (body: unknown, key?: string, token: string = TOKENS.admin) =>
  api.call('POST', '/api/v1/applications', { token, body, headers: key ? { 'idempotency-key': key } : {} });

const report = (n: number, event: string, data: Record<string, unknown>) =>
  api.call('POST', `/api/v1/workflows/${wf(n)}/events/${event}`, { token: TOKENS.field, body: { data } });

/** The workflows the task inbox shows waiting for a new user: where an application can go. */
const waitingForAUser = async (): Promise<string[]> =>
  (await api.call('GET', '/api/v1/tasks?type=assign-user', { token: TOKENS.admin })).body.items.map(
    (t: { workflowId: string }) => t.workflowId,
  );

/**
 * Drives a change-user workflow (no new user given) through collection, wipe and re-enrolment, up to
 * the point where it needs a new user; returns once it waits for one (and the task inbox, which reads
 * the task index the workflow writes just after the task opens, shows it waiting) or has taken an
 * application.
 */
async function toAssignment(n: number, expected: 'awaiting-assignment' | 'awaiting-delivery') {
  const { mdmDeviceId } = await h.seedDevice({ assetNumber: no(n) });
  const res = await api.call('POST', `/api/v1/devices/${no(n)}/change-user`, {
    token: TOKENS.admin,
    body: { reason: 'Redistribution', plannedCollectionDate: inAWeek, storageLocation: 'IT store' },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  started.push(wf(n));
  const handle = api.temporal.workflow.getHandle(wf(n));
  await h.waitForStep(handle, 'awaiting-collection');
  expect((await report(n, 'device-collected', { collectedBy: 'Bob Field' })).status).toBe(200);
  await h.waitForStep(handle, 'awaiting-reenrollment');
  await h.emulator.reEnroll(mdmDeviceId);
  expect((await report(n, 'device-reenrolled', {})).status).toBe(200);
  const state = await h.waitForStep(handle, expected);
  if (expected === 'awaiting-assignment') await expect.poll(waitingForAUser).toContain(wf(n));
  return state;
}

describe('roles and validation', () => {
  it('lets only admins record applications; field staff and admins read them', async () => {
    for (const token of [TOKENS.field, TOKENS.viewer]) {
      const res = await apply(application('Nobody'), undefined, token);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await apply(application('Nobody'), undefined, '')).status).toBe(401);
    expect((await api.call('GET', '/api/v1/applications', { token: TOKENS.field })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/applications', { token: TOKENS.admin })).status).toBe(200);
    expect((await api.call('GET', '/api/v1/applications', { token: TOKENS.viewer })).status).toBe(403);
    expect(
      (await api.call('GET', '/api/v1/applications/00000000-0000-4000-8000-000000000000', { token: TOKENS.viewer }))
        .status,
    ).toBe(403);
  });

  it('refuses unknown fields, a bad e-mail and fields the server sets (400 naming them)', async () => {
    const unknown = await apply({ ...application('X'), colour: 'red' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.problems[0].field).toBe('colour');
    const email = await apply(application('X', { userEmail: 'not-an-email' }));
    expect(email.body.error.details.problems[0].field).toBe('userEmail');
    const forged = await apply({ ...application('X'), createdBy: 'someone-else' });
    expect(forged.status).toBe(400);
    expect(forged.body.error.details.problems[0].field).toBe('createdBy');
    const missing = await apply({});
    expect(missing.body.error.details.problems.map((p: { field: string }) => p.field).sort()).toEqual([
      'deliveryLocation',
      'department',
      'userEmail',
      'userName',
    ]);
    expect((await api.call('GET', '/api/v1/applications/nope', { token: TOKENS.field })).status).toBe(400);
    expect(
      (await api.call('GET', '/api/v1/applications/00000000-0000-4000-8000-000000000000', { token: TOKENS.field }))
        .status,
    ).toBe(404);
    expect((await api.call('GET', '/api/v1/applications', { token: TOKENS.field })).body.items).toEqual([]);
  });
});

describe('pending, then taken by the next workflow that needs a user', () => {
  it('stays pending when nobody waits, is idempotent, and is claimed by a workflow reaching awaiting-assignment', async () => {
    const key = `app-${no.base}-pending`;
    const res = await apply(application('Hanako Pending'), key);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.get('location')).toBe(`/api/v1/applications/${res.body.application.id}`);
    expect(res.body).toMatchObject({
      assignedTo: null,
      handoff: 'pending',
      replayed: false,
      application: {
        state: 'pending',
        userName: 'Hanako Pending',
        department: '開発部',
        createdBy: 'admin@local',
        idempotencyKey: key,
      },
    });
    const id = res.body.application.id as string;

    const again = await apply(application('Hanako Pending'), key);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ replayed: true, handoff: 'pending', application: { id } });
    const listed = await api.call('GET', '/api/v1/applications', { token: TOKENS.field });
    expect(listed.body.items.map((a: { id: string }) => a.id)).toEqual([id]);

    await toAssignment(1, 'awaiting-delivery');
    const taken = await api.call('GET', `/api/v1/applications/${id}`, { token: TOKENS.field });
    expect(taken.body).toMatchObject({ state: 'assigned', workflowId: wf(1), assignedAssetNumber: no(1) });
    expect(await assetsRepo.get(h.db.pool, no(1))).toMatchObject({
      status: 'in_use',
      userName: 'Hanako Pending',
      department: '開発部',
      location: 'Osaka 5F',
    });
    expect((await api.call('GET', '/api/v1/applications', { token: TOKENS.field })).body.items).toEqual([]);
  });
});

describe('handoff to a workflow already waiting', () => {
  it('goes to the workflow that has waited longest, through the user-assigned report, attributed to the admin', async () => {
    await toAssignment(2, 'awaiting-assignment');
    await toAssignment(3, 'awaiting-assignment');
    expect(await waitingForAUser()).toEqual([wf(2), wf(3)]);

    const key = `app-${no.base}-first`;
    const res = await apply(application('Jiro First'), key);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      assignedTo: wf(2),
      handoff: 'accepted',
      tried: [],
      application: { state: 'assigned', workflowId: wf(2), assignedAssetNumber: no(2) },
    });
    const state = await h.waitForStep(api.temporal.workflow.getHandle(wf(2)), 'awaiting-delivery');
    expect(state.reports.filter((r) => r.event === 'user-assigned')).toEqual([
      expect.objectContaining({
        outcome: 'accepted',
        actor: { id: 'admin@local', role: 'admin', credential: 'static:admin@local' }, // which credential acted
      }),
    ]);
    expect(await assetsRepo.get(h.db.pool, no(2))).toMatchObject({ userName: 'Jiro First', status: 'in_use' });
    const history = await eventsRepo.listForAsset(h.db.pool, no(2));
    expect(history.find((e) => e.eventType === 'user-assigned' && e.step === 'awaiting-assignment')).toMatchObject({
      actor: 'admin@local',
      details: { applicationId: res.body.application.id },
    });
    expect(history.find((e) => e.eventType === 'application-claimed')).toMatchObject({ actor: 'admin@local' });

    // A retry of the same request is answered the same way and changes nothing.
    const again = await apply(application('Jiro First'), key);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ replayed: true, assignedTo: wf(2), handoff: 'accepted' });
    const reports = (await h.waitForStep(api.temporal.workflow.getHandle(wf(2)), 'awaiting-delivery')).reports;
    expect(reports.filter((r) => r.event === 'user-assigned')).toHaveLength(1);

    const second = await apply(application('Saburo Second'));
    expect(second.body).toMatchObject({ assignedTo: wf(3), handoff: 'accepted' });
    await h.waitForStep(api.temporal.workflow.getHandle(wf(3)), 'awaiting-delivery');
    expect(await assetsRepo.get(h.db.pool, no(3))).toMatchObject({ userName: 'Saburo Second' });
  });

  it('gives two applications sent at once to two different waiting workflows', async () => {
    await toAssignment(4, 'awaiting-assignment');
    await toAssignment(5, 'awaiting-assignment');
    const [a, b] = await Promise.all([apply(application('Shiro Race')), apply(application('Goro Race'))]);
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(b.status, JSON.stringify(b.body)).toBe(201);
    expect([a.body.handoff, b.body.handoff]).toEqual(['accepted', 'accepted']);
    expect([a.body.assignedTo, b.body.assignedTo].sort()).toEqual([wf(4), wf(5)]);
    for (const n of [4, 5]) await h.waitForStep(api.temporal.workflow.getHandle(wf(n)), 'awaiting-delivery');
    const users = [
      (await assetsRepo.get(h.db.pool, no(4)))?.userName,
      (await assetsRepo.get(h.db.pool, no(5)))?.userName,
    ];
    expect(users.sort()).toEqual(['Goro Race', 'Shiro Race']);
  });
});

/**
 * The moment between "this workflow waits" and "it got the report" cannot be hit on purpose with a real
 * worker, so here the Temporal side is scripted (the database, with its task index, is real): the oldest
 * waiting workflow refuses the report as if it had just moved on, or does not answer at all.
 */
describe('races the real worker cannot be made to lose on cue', () => {
  const SCRIPTED_QUEUE = `scripted-${no.base}`;

  /**
   * Exactly these workflows wait for a user (oldest first), as their bookkeeping would have written them
   * to the task index; the earlier tests' workflows have moved on (their tasks closed).
   */
  async function waitingInTheIndex(waiting: string[]) {
    for (const row of await tasksRepo.versionsOf(h.db.pool, SCRIPTED_QUEUE)) {
      await tasksRepo.closeThrough(h.db.pool, row, row.occurrence);
    }
    for (const [i, id] of [...waiting.entries()].reverse()) {
      const assetNumber = id.replace('device-', '');
      // Opened in reverse order: the hand-off must take the longest waiting, not the last written.
      await tasksRepo.open(h.db.pool, {
        workflowId: id,
        runId: `run-${id}`,
        taskQueue: SCRIPTED_QUEUE,
        occurrence: 7,
        process: 'change-user',
        type: 'assign-user',
        step: 'awaiting-assignment',
        expects: ['user-assigned'],
        assetNumber,
        department: 'IT',
        location: 'IT store',
        contact: null,
        dueAt: new Date(Date.UTC(2030, 0, 1 + i)).toISOString(),
        escalateAt: null,
        createdAt: new Date(Date.UTC(2030, 0, 1 + i)).toISOString(),
        remindersSent: 0,
        escalated: false,
      });
    }
  }

  function scriptedTemporal(answer: (workflowId: string) => Promise<unknown>, sent: string[]): Client {
    const fake = {
      withDeadline: <R>(_deadline: number, fn: () => Promise<R>) => fn(),
      workflow: {
        getHandle: (id: string) => ({
          executeUpdate: () => {
            sent.push(id);
            return answer(id);
          },
        }),
      },
    };
    return fake as unknown as Client;
  }

  async function freshApplication(name: string, assets: number[]) {
    for (const n of assets) {
      await assetsRepo.upsert(h.db.pool, {
        assetNumber: no(n),
        serialNumber: `SN-race-${no.base + n}`,
        model: 'X',
        department: 'IT',
        location: 'IT store',
        status: 'in_stock',
      });
    }
    return (await applicationsRepo.create(h.db.pool, { ...application(name), createdBy: 'admin@local' })).application;
  }

  const deps = (temporal: Client) => ({
    pool: h.db.pool,
    temporal,
    taskQueue: SCRIPTED_QUEUE,
    updateTimeoutMs: 1000,
  });
  const admin = { id: 'admin@local', role: 'admin' as const };

  it('releases the reservation when the oldest waiting workflow moved on, and hands the application to the next', async () => {
    const app = await freshApplication('Moved On', [7, 8]);
    await waitingInTheIndex([wf(7), wf(8)]);
    const sent: string[] = [];
    const movedOn = new WorkflowUpdateFailedError(
      'refused',
      ApplicationFailure.create({
        type: 'EventNotExpected',
        message: 'user-assigned is not expected at step assigning',
        details: [{ step: 'assigning', expects: [], status: 'running' }],
      }),
    );
    const temporal = scriptedTemporal(
      (id) => (id === wf(7) ? Promise.reject(movedOn) : Promise.resolve({ accepted: true })),
      sent,
    );
    const result = await handOff(deps(temporal), app, admin);
    expect(result).toEqual({
      assignedTo: wf(8),
      handoff: 'accepted',
      tried: [{ workflowId: wf(7), outcome: 'no longer waiting' }],
    });
    expect(sent).toEqual([wf(7), wf(8)]);
    expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({
      state: 'assigned',
      workflowId: wf(8),
      assignedAssetNumber: no(8),
    });
  });

  it('keeps the reservation when the workflow does not answer in time (unconfirmed), and stays pending when nobody takes it', async () => {
    const app = await freshApplication('No Answer', [9]);
    await waitingInTheIndex([wf(9)]);
    const silent = scriptedTemporal(() => Promise.reject(new WorkflowUpdateRPCTimeoutOrCancelledError('deadline')), []);
    expect(await handOff(deps(silent), app, admin)).toMatchObject({ assignedTo: wf(9), handoff: 'unconfirmed' });
    expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({ state: 'assigned', workflowId: wf(9) });

    const other = await freshApplication('Nobody Takes It', [10]);
    await waitingInTheIndex([wf(10)]);
    const refusing = scriptedTemporal(
      () =>
        Promise.reject(
          new WorkflowUpdateFailedError(
            'refused',
            ApplicationFailure.create({ type: 'EventNotExpected', message: 'closed' }),
          ),
        ),
      [],
    );
    expect(await handOff(deps(refusing), other, admin)).toEqual({
      assignedTo: null,
      handoff: 'pending',
      tried: [{ workflowId: wf(10), outcome: 'no longer waiting' }],
    });
    expect(await applicationsRepo.get(h.db.pool, other.id)).toMatchObject({
      state: 'pending',
      workflowId: null,
      assignedAssetNumber: null,
    });
    await applicationsRepo.cancel(h.db.pool, other.id);
  });
});
