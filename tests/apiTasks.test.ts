/**
 * The task inbox (GET /tasks) over the task index on a real PostgreSQL: roles; every open task of this
 * deployment, oldest due first, each whole (what it expects, whom to contact, when it is due and
 * escalated, where to report it; an admin decision with its failed step and commands); filters; bad
 * input named; an opaque cursor bound to its filters; paging through the API stays exact while tasks
 * open and close between pages. The rows are written with the repository the activities use; that the
 * workflows write them is tests/taskIndex.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenTask } from '../activities/contracts';
import * as tasksRepo from '../db/tasksRepo';
import { memoryDb, startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { createTestDatabase, type TestDatabase } from './support/postgres';

const QUEUE = 'inbox-deployment';
/** The API's clock: tasks due before it are overdue. */
const NOW = new Date(Date.UTC(2030, 5, 1, 9));
const day = (d: number) => new Date(NOW.getTime() + d * 86_400_000).toISOString();

let db: TestDatabase;
let api: ApiHarness;

const wf = (n: number) => `device-A-${String(500_000 + n)}`;
const asset = (n: number) => `A-${String(500_000 + n)}`;

function task(n: number, dueInDays: number, extra: Partial<OpenTask> = {}): OpenTask {
  return {
    workflowId: wf(n),
    runId: `run-${n}`,
    taskQueue: QUEUE,
    occurrence: 2,
    process: 'change-user',
    type: 'collect-device',
    step: 'awaiting-collection',
    expects: ['device-collected'],
    assetNumber: asset(n),
    department: 'Sales',
    location: 'Kobe',
    contact: { name: `User ${n}`, email: `user${n}@example.com`, phone: '+81 3 0000 0000' },
    dueAt: day(dueInDays),
    escalateAt: day(dueInDays + 2),
    createdAt: day(-10),
    remindersSent: 0,
    escalated: false,
    ...extra,
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ db: db.pool, taskQueue: QUEUE, clock: () => NOW });
  for (const t of [
    task(1, 9),
    task(2, 3, { location: 'Nara', remindersSent: 1 }),
    task(3, 6),
    task(4, -1, {
      process: 'inactivation',
      type: 'install-removal-profile',
      step: 'awaiting-removal-profile',
      expects: ['removal-profile-installed', 'profile-removal-failed'],
      location: 'Nara',
      escalated: true,
    }),
    task(5, -2, {
      type: 'admin-decision',
      step: 'needs-attention',
      expects: [],
      department: 'IT',
      location: 'Shelf 1',
      contact: null,
      escalateAt: null,
      failedStep: 'wiping',
      lastError: 'requestWipe: MDM refused the wipe',
      occurrence: 5,
    }),
    task(9, 0, { taskQueue: 'another-deployment' }),
  ]) {
    await tasksRepo.open(db.pool, t);
  }
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

const tasks = (query = '', token: string = TOKENS.field) => api.call('GET', `/api/v1/tasks?${query}`, { token });
const ids = (body: { items: { workflowId: string }[] }) => body.items.map((t) => t.workflowId);

describe('GET /tasks', () => {
  it('is for field staff and admins', async () => {
    expect((await tasks('', TOKENS.admin)).status).toBe(200);
    expect((await tasks('', TOKENS.field)).status).toBe(200);
    const viewer = await tasks('', TOKENS.viewer);
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.details.allowed).toEqual(['admin', 'field-staff']);
    expect((await api.call('GET', '/api/v1/tasks')).status).toBe(401);
  });

  it("lists this deployment's open tasks, oldest due first, each whole with its contact and report URLs", async () => {
    const res = await tasks();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(ids(res.body)).toEqual([wf(5), wf(4), wf(2), wf(3), wf(1)]);
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items[2]).toEqual({
      workflowId: wf(2),
      runId: 'run-2',
      process: 'change-user',
      type: 'collect-device',
      step: 'awaiting-collection',
      expects: ['device-collected'],
      assetNumber: asset(2),
      department: 'Sales',
      location: 'Nara',
      contact: { name: 'User 2', email: 'user2@example.com', phone: '+81 3 0000 0000' },
      dueAt: day(3),
      escalateAt: day(5),
      createdAt: day(-10),
      overdue: false,
      remindersSent: 1,
      escalated: false,
      stateAvailable: true,
      workflowUrl: `/api/v1/workflows/${wf(2)}`,
      reportUrls: { 'device-collected': `/api/v1/workflows/${wf(2)}/events/device-collected` },
    });
    expect(res.body.items[1]).toMatchObject({
      process: 'inactivation',
      type: 'install-removal-profile',
      overdue: true,
      escalated: true,
      expects: ['removal-profile-installed', 'profile-removal-failed'],
      reportUrls: {
        'removal-profile-installed': `/api/v1/workflows/${wf(4)}/events/removal-profile-installed`,
        'profile-removal-failed': `/api/v1/workflows/${wf(4)}/events/profile-removal-failed`,
      },
    });
  });

  it("lists an admin decision with the failed step, the error and the admins' commands", async () => {
    const res = await tasks('type=admin-decision', TOKENS.admin);
    expect(res.body.items).toEqual([
      {
        workflowId: wf(5),
        runId: 'run-5',
        process: 'change-user',
        type: 'admin-decision',
        step: 'needs-attention',
        expects: [],
        assetNumber: asset(5),
        department: 'IT',
        location: 'Shelf 1',
        dueAt: day(-2),
        createdAt: day(-10),
        overdue: true,
        remindersSent: 0,
        escalated: false,
        failedStep: 'wiping',
        lastError: 'requestWipe: MDM refused the wipe',
        stateAvailable: true,
        workflowUrl: `/api/v1/workflows/${wf(5)}`,
        reportUrls: {
          retry: `/api/v1/workflows/${wf(5)}/retry`,
          abort: `/api/v1/workflows/${wf(5)}/abort`,
          cancel: `/api/v1/workflows/${wf(5)}/cancel`,
        },
      },
    ]);
  });

  it('filters by location, task type, process, department and asset', async () => {
    expect(ids((await tasks('location=Kobe')).body)).toEqual([wf(3), wf(1)]);
    expect(ids((await tasks('type=install-removal-profile')).body)).toEqual([wf(4)]);
    expect(ids((await tasks('process=inactivation')).body)).toEqual([wf(4)]);
    expect(ids((await tasks('department=IT')).body)).toEqual([wf(5)]);
    expect(ids((await tasks('type=reenroll-device')).body)).toEqual([]);
    expect(ids((await tasks('type=collect-device&location=Nara')).body)).toEqual([wf(2)]);
    // One device's tasks (its barcode scanned), from this deployment only.
    expect(ids((await tasks(`asset=${asset(4)}`)).body)).toEqual([wf(4)]);
    expect(ids((await tasks(`asset=${asset(9)}`)).body)).toEqual([]);
    expect(ids((await tasks(`asset=${asset(2)}&location=Kobe`)).body)).toEqual([]);
    expect(ids((await tasks(`department=${encodeURIComponent(' Sales ')}&location=Nara`)).body)).toEqual([
      wf(4),
      wf(2),
    ]);
  });

  it('refuses bad filters with a 400 naming the field', async () => {
    const field = async (query: string) => {
      const res = await tasks(query);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      return res.body.error.details.problems.map((p: { field: string }) => p.field);
    };
    expect(await field('type=Not%20A%20Type')).toEqual(['type']);
    expect(await field('colour=red')).toEqual(['colour']);
    expect(await field('limit=0')).toEqual(['limit']);
    expect(await field('limit=201')).toEqual(['limit']);
    expect(await field('process=retirement')).toEqual(['process']);
    expect(await field('department=a&department=b')).toEqual(['department']);
    expect(await field('location=%07')).toEqual(['location']);
    expect(await field('asset=B-1')).toEqual(['asset']);
    expect(await field('cursor=not-a-cursor')).toEqual(['cursor']);
    const forged = Buffer.from(JSON.stringify(['x', 'yesterday', wf(1)])).toString('base64url');
    expect(await field(`cursor=${forged}`)).toEqual(['cursor']);
  });

  it('pages with an opaque cursor that belongs to its filters', async () => {
    const first = await tasks('limit=3');
    expect(ids(first.body)).toEqual([wf(5), wf(4), wf(2)]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await tasks(`limit=3&cursor=${first.body.nextCursor}`);
    expect(ids(second.body)).toEqual([wf(3), wf(1)]);
    expect(second.body.nextCursor).toBeNull();
    const elsewhere = await tasks(`location=Kobe&cursor=${first.body.nextCursor}`);
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.details.problems[0].field).toBe('cursor');
  });

  it('pages exactly while tasks open and close between pages', async () => {
    const dept = 'Paging';
    const n = (i: number) => 600 + i;
    const open = new Set<string>();
    for (let i = 0; i < 30; i++) {
      // Three tasks share each due time: the workflow id breaks the tie.
      await tasksRepo.open(db.pool, task(n(i), 10 + Math.floor(i / 3), { department: dept }));
      open.add(wf(n(i)));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let step = 0;
    do {
      const res = await tasks(`department=${dept}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      seen.push(...ids(res.body));
      cursor = res.body.nextCursor;
      // Between pages: one task ahead closes, one already listed closes, one opens ahead of the cursor
      // and one behind it (which this paging must not show).
      step += 1;
      const ahead = n(29 - step);
      const behind = n(step - 1);
      await tasksRepo.closeThrough(db.pool, { workflowId: wf(ahead), runId: `run-${ahead}` }, 2);
      await tasksRepo.closeThrough(db.pool, { workflowId: wf(behind), runId: `run-${behind}` }, 2);
      open.delete(wf(ahead));
      await tasksRepo.open(db.pool, task(n(100 + step), 30, { department: dept }));
      await tasksRepo.open(db.pool, task(n(200 + step), 0, { department: dept }));
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    // Every task that stayed open from the first page to the last was listed.
    for (let i = 0; i < 30; i++) {
      const id = wf(n(i));
      const closedAhead = !open.has(id);
      if (!closedAhead) expect(seen, id).toContain(id);
    }
    expect(seen.filter((id) => id >= wf(n(200)))).toEqual([]);
  });

  it('answers 503 when this API instance has no database', async () => {
    const bare = await startApi({ db: memoryDb() });
    try {
      const res = await bare.call('GET', '/api/v1/tasks', { token: TOKENS.field });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('database-unavailable');
    } finally {
      await bare.close();
    }
  });
});
