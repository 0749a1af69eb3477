/**
 * The task index on a real PostgreSQL (db/tasksRepo.ts, and the activities that write it): opens and
 * closes are idempotent and only move a row forward (an older occurrence never replaces a newer one, a
 * close of an old occurrence leaves a newer row); notice counts only grow; the inbox order, filters and
 * keyset paging, exact while rows open and close between pages (a seeded, deterministic interleaving);
 * the queries use the indexes; the hand-off order; the rebuild's conditional writes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities';
import type { OpenTask, StepContext } from '../activities/contracts';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import * as tasksRepo from '../db/tasksRepo';
import { InvalidInputError } from '../db/types';
import type { Mailer } from '../mail/mailer';
import type { MdmPort } from '../mdm/port';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const T0 = Date.UTC(2030, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function task(overrides: Partial<OpenTask> = {}): OpenTask {
  return {
    workflowId: `device-A-${randomUUID().slice(0, 8)}`,
    runId: 'run-1',
    taskQueue: 'queue-a',
    occurrence: 2,
    process: 'change-user',
    type: 'collect-device',
    step: 'awaiting-collection',
    expects: ['device-collected'],
    assetNumber: 'A-000001',
    department: 'Sales',
    location: 'Tokyo HQ',
    contact: { name: 'Hanako Sato', email: 'hanako@example.com', phone: '+81 3 0000 0000' },
    dueAt: at(0),
    escalateAt: at(60 * 48),
    createdAt: at(-60),
    remindersSent: 0,
    escalated: false,
    ...overrides,
  };
}

const ref = (t: OpenTask) => ({ workflowId: t.workflowId, runId: t.runId });

async function rowsOf(taskQueue: string): Promise<OpenTask[]> {
  return (await tasksRepo.list(db.pool, { taskQueue, limit: 1000 })).items;
}

describe('open and close', () => {
  it('opens a row with its full data; a retry changes nothing', async () => {
    const t = task({ taskQueue: 'q-open' });
    expect(await tasksRepo.open(db.pool, t)).toBe('inserted');
    expect(await tasksRepo.open(db.pool, t)).toBe('kept');
    expect(await tasksRepo.get(db.pool, t.workflowId)).toEqual(t);
    expect(await rowsOf('q-open')).toEqual([t]);
  });

  it('keeps times to the millisecond, and reads absent details back as absent', async () => {
    const t = task({
      taskQueue: 'q-times',
      dueAt: '2030-01-01T09:00:00.123456+09:00',
      contact: null,
      department: null,
      location: null,
      escalateAt: null,
    });
    await tasksRepo.open(db.pool, t);
    expect(await tasksRepo.get(db.pool, t.workflowId)).toEqual({
      ...t,
      dueAt: '2030-01-01T00:00:00.123Z',
    });
    const partial = task({ taskQueue: 'q-times', contact: { email: 'only@example.com' } });
    await tasksRepo.open(db.pool, partial);
    expect((await tasksRepo.get(db.pool, partial.workflowId))?.contact).toEqual({ email: 'only@example.com' });
  });

  it('never replaces a newer occurrence of the same run with an older one; a newer one or another run replaces', async () => {
    const newer = task({ occurrence: 5, type: 'reenroll-device', step: 'awaiting-reenrollment' });
    await tasksRepo.open(db.pool, newer);
    const older = { ...newer, occurrence: 3, type: 'collect-device', step: 'awaiting-collection' };
    expect(await tasksRepo.open(db.pool, older)).toBe('kept');
    expect(await tasksRepo.get(db.pool, newer.workflowId)).toMatchObject({ occurrence: 5, type: 'reenroll-device' });

    const next = { ...newer, occurrence: 7, type: 'assign-user', step: 'awaiting-assignment', remindersSent: 0 };
    expect(await tasksRepo.open(db.pool, next)).toBe('replaced');
    expect(await tasksRepo.get(db.pool, newer.workflowId)).toEqual(next);

    // The device's next process: another run of the same workflow id, whatever its occurrence.
    const nextRun = { ...newer, runId: 'run-2', occurrence: 2 };
    expect(await tasksRepo.open(db.pool, nextRun)).toBe('replaced');
    expect(await tasksRepo.get(db.pool, newer.workflowId)).toEqual(nextRun);
  });

  it('closes only its run, and only through the occurrence it names; a repeat closes nothing', async () => {
    const t = task({ occurrence: 5 });
    await tasksRepo.open(db.pool, t);
    expect(await tasksRepo.closeThrough(db.pool, ref(t), 4)).toBe(0); // a late close of an older task
    expect(await tasksRepo.closeThrough(db.pool, { ...ref(t), runId: 'another-run' }, 99)).toBe(0);
    expect(await tasksRepo.get(db.pool, t.workflowId)).toEqual(t);
    expect(await tasksRepo.closeThrough(db.pool, ref(t), 5)).toBe(1);
    expect(await tasksRepo.get(db.pool, t.workflowId)).toBeNull();
    expect(await tasksRepo.closeThrough(db.pool, ref(t), 5)).toBe(0);
  });

  it('counts reminders and the escalation of the open occurrence only; the count never goes back', async () => {
    const t = task({ occurrence: 3 });
    await tasksRepo.open(db.pool, t);
    const count = (remindersSent: number, escalated: boolean, occurrence = 3) => ({
      occurrence,
      remindersSent,
      escalated,
    });
    expect(await tasksRepo.noteNotice(db.pool, ref(t), count(1, false))).toBe(true);
    expect(await tasksRepo.noteNotice(db.pool, ref(t), count(2, true))).toBe(true);
    expect(await tasksRepo.noteNotice(db.pool, ref(t), count(1, false))).toBe(true); // late retry of the first
    expect(await tasksRepo.get(db.pool, t.workflowId)).toMatchObject({ remindersSent: 2, escalated: true });
    expect(await tasksRepo.noteNotice(db.pool, ref(t), count(9, true, 2))).toBe(false); // an older occurrence
    expect(await tasksRepo.noteNotice(db.pool, { ...ref(t), runId: 'x' }, count(9, true))).toBe(false);
    expect(await tasksRepo.get(db.pool, t.workflowId)).toMatchObject({ remindersSent: 2, escalated: true });
    // A retried open of the same occurrence does not reset the count.
    expect(await tasksRepo.open(db.pool, t)).toBe('kept');
    expect(await tasksRepo.get(db.pool, t.workflowId)).toMatchObject({ remindersSent: 2, escalated: true });
    await tasksRepo.closeThrough(db.pool, ref(t), 3);
    expect(await tasksRepo.noteNotice(db.pool, ref(t), count(3, true))).toBe(false);
  });

  it('refuses a malformed task naming the field, and writes nothing', async () => {
    const bad = task({ dueAt: 'next tuesday' });
    const err = await tasksRepo.open(db.pool, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).issues.map((i) => i.path)).toEqual(['dueAt']);
    await expect(tasksRepo.open(db.pool, task({ occurrence: -1 }))).rejects.toThrow(/occurrence/);
    await expect(tasksRepo.open(db.pool, task({ process: 'retirement' as OpenTask['process'] }))).rejects.toThrow(
      /process/,
    );
    expect(await tasksRepo.get(db.pool, bad.workflowId)).toBeNull();
  });

  it('cuts a very long error instead of refusing the admin decision', async () => {
    const t = task({ type: 'admin-decision', failedStep: 'wiping', lastError: 'x'.repeat(10_000) });
    await tasksRepo.open(db.pool, t);
    const stored = await tasksRepo.get(db.pool, t.workflowId);
    expect(stored?.lastError).toHaveLength(tasksRepo.LAST_ERROR_MAX);
    expect(stored?.failedStep).toBe('wiping');
  });
});

describe('the inbox order, filters and paging', () => {
  const Q = 'q-inbox';
  const made: OpenTask[] = [];

  beforeAll(async () => {
    const spec: [string, number, Partial<OpenTask>][] = [
      ['device-A-000105', 30, { department: 'Sales', location: 'Kobe' }],
      ['device-A-000101', 10, { department: 'Sales', location: 'Nara' }],
      ['device-A-000103', 10, { department: 'IT', location: 'Kobe', type: 'reenroll-device' }],
      ['device-A-000102', 10, { department: 'Sales', location: 'Kobe', process: 'inactivation', type: 'remove-app' }],
      ['device-A-000104', -5, { department: 'IT', location: 'Nara', type: 'admin-decision', expects: [] }],
    ];
    for (const [workflowId, due, extra] of spec) {
      const t = task({ workflowId, taskQueue: Q, dueAt: at(due), ...extra });
      made.push(t);
      await tasksRepo.open(db.pool, t);
    }
    await tasksRepo.open(db.pool, task({ workflowId: 'device-A-000199', taskQueue: 'another-deployment' }));
  });

  const ids = (page: tasksRepo.TaskPage) => page.items.map((t) => t.workflowId.slice(-3));
  const page = (filters: tasksRepo.TaskFilters = {}, limit = 50, after?: tasksRepo.TaskKey) =>
    tasksRepo.list(db.pool, { taskQueue: Q, filters, limit, after });

  it('lists this deployment only, oldest due first, the workflow id breaking ties', async () => {
    expect(ids(await page())).toEqual(['104', '101', '102', '103', '105']);
  });

  it('filters by type, process, department and location, together too', async () => {
    expect(ids(await page({ type: 'collect-device' }))).toEqual(['101', '105']);
    expect(ids(await page({ process: 'inactivation' }))).toEqual(['102']);
    expect(ids(await page({ department: 'IT' }))).toEqual(['104', '103']);
    expect(ids(await page({ location: 'Kobe' }))).toEqual(['102', '103', '105']);
    expect(ids(await page({ department: 'Sales', location: 'Kobe', process: 'change-user' }))).toEqual(['105']);
    expect(ids(await page({ department: 'Nobody' }))).toEqual([]);
  });

  it('pages after a key, saying whether more follow', async () => {
    const first = await page({}, 2);
    expect(ids(first)).toEqual(['104', '101']);
    expect(first.more).toBe(true);
    const last = first.items.at(-1)!;
    const second = await page({}, 2, { dueAt: last.dueAt, workflowId: last.workflowId });
    expect(ids(second)).toEqual(['102', '103']);
    const third = await page({}, 2, { dueAt: second.items[1]!.dueAt, workflowId: second.items[1]!.workflowId });
    expect(ids(third)).toEqual(['105']);
    expect(third.more).toBe(false);
  });

  it('reads a page through an index, in index order (no sort), with and without a filter or a cursor', async () => {
    const plan = async (options: tasksRepo.ListOptions) => {
      const { text, values } = tasksRepo.listQuery(options);
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        // The table is tiny here: make a sequential scan unattractive so the usable index shows.
        await client.query('SET LOCAL enable_seqscan = off');
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    };
    const after = { dueAt: at(10), workflowId: 'device-A-000101' };
    for (const [options, index] of [
      [{ taskQueue: Q, limit: 50 }, 'open_tasks_inbox_idx'],
      [{ taskQueue: Q, limit: 50, after }, 'open_tasks_inbox_idx'],
      [{ taskQueue: Q, limit: 50, after, filters: { department: 'IT' } }, 'open_tasks_by_department_idx'],
      [{ taskQueue: Q, limit: 50, filters: { location: 'Kobe' } }, 'open_tasks_by_location_idx'],
      [{ taskQueue: Q, limit: 50, filters: { type: 'collect-device' } }, 'open_tasks_by_type_idx'],
      [{ taskQueue: Q, limit: 50, filters: { process: 'inactivation' } }, 'open_tasks_by_process_idx'],
      [{ taskQueue: Q, limit: 50, filters: { assetNumber: 'A-000101' } }, 'open_tasks_by_asset_idx'],
    ] as const) {
      const text = await plan(options);
      expect(text, text).toContain(index);
      expect(text, text).not.toMatch(/Sort|Seq Scan/);
    }
  });
});

/** A small seeded generator: the interleaving is the same on every run. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s % n;
  };
}

describe('paging while tasks open and close', () => {
  it('returns every task open throughout exactly once, none twice, none that was closed before its page', async () => {
    const Q = 'q-churn';
    const random = seeded(20_300_101);
    const open = new Map<string, OpenTask>();
    // Many due times repeat, so the workflow-id tiebreaker is exercised across page boundaries.
    let next = 0;
    const fresh = (due: number) => {
      next += 1;
      return task({ workflowId: `device-A-${String(300_000 + next)}`, taskQueue: Q, dueAt: at(due) });
    };
    for (let i = 0; i < 240; i++) {
      const t = fresh(random(40));
      open.set(t.workflowId, t);
      await tasksRepo.open(db.pool, t);
    }
    const initial = new Map(open);
    /** Tasks (workflow id + occurrence) that were closed or replaced at some point during the paging. */
    const disturbed = new Set<string>();
    const keyOf = (t: OpenTask) => `${t.workflowId}#${t.occurrence}`;

    const seen: OpenTask[] = [];
    let after: tasksRepo.TaskKey | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(200);
      const page = await tasksRepo.list(db.pool, { taskQueue: Q, limit: 11, after });
      // Everything on the page is open right now (one statement, one snapshot).
      for (const t of page.items) expect(open.get(t.workflowId)).toEqual(t);
      seen.push(...page.items);
      const last = page.items.at(-1);
      if (!page.more || !last) break;
      after = { dueAt: last.dueAt, workflowId: last.workflowId };

      // Between pages, as workflows would: close some, open some, move some on to their next task,
      // count reminders; before and after the cursor alike.
      for (let op = 0; op < 6; op++) {
        const all = [...open.values()];
        const victim = all[random(all.length)]!;
        switch (random(4)) {
          case 0:
            disturbed.add(keyOf(victim));
            await tasksRepo.closeThrough(db.pool, ref(victim), victim.occurrence);
            open.delete(victim.workflowId);
            break;
          case 1: {
            const t = fresh(random(40));
            open.set(t.workflowId, t);
            await tasksRepo.open(db.pool, t);
            break;
          }
          case 2: {
            disturbed.add(keyOf(victim));
            const moved = { ...victim, occurrence: victim.occurrence + 1, dueAt: at(random(40)), type: 'next-task' };
            open.set(moved.workflowId, moved);
            await tasksRepo.open(db.pool, moved);
            break;
          }
          default: {
            const counted = { ...victim, remindersSent: victim.remindersSent + 1 };
            open.set(counted.workflowId, counted);
            await tasksRepo.noteNotice(db.pool, ref(victim), { ...counted, occurrence: victim.occurrence });
          }
        }
      }
    }

    const seenKeys = seen.map(keyOf);
    expect(new Set(seenKeys).size, 'a task was returned twice').toBe(seenKeys.length);
    const throughout = [...initial.values()].filter((t) => !disturbed.has(keyOf(t))).map(keyOf);
    expect(throughout.length).toBeGreaterThan(100);
    const missing = throughout.filter((k) => !seenKeys.includes(k));
    expect(missing, 'tasks open throughout the paging but never returned').toEqual([]);
    // And the pages came in order: each key after the one before.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.workflowId < b.workflowId)).toBe(true);
    }
    // What is left is exactly what the test believes is open.
    expect(new Map((await rowsOf(Q)).map((t) => [t.workflowId, t]))).toEqual(open);
  });
});

describe('the hand-off order', () => {
  it('lists the workflows waiting for a new user on this deployment, the longest waiting first', async () => {
    const Q = 'q-assign';
    const waiting = (workflowId: string, created: number, extra: Partial<OpenTask> = {}) =>
      task({
        workflowId,
        taskQueue: Q,
        type: 'assign-user',
        step: 'awaiting-assignment',
        expects: ['user-assigned'],
        createdAt: at(created),
        dueAt: at(1000 - created), // due order is not the hand-off order
        ...extra,
      });
    for (const t of [
      waiting('device-A-000403', 5),
      waiting('device-A-000401', 1),
      waiting('device-A-000402', 5),
      waiting('device-A-000404', 0, { type: 'deliver-device' }),
      waiting('device-A-000405', 0, { taskQueue: 'elsewhere' }),
    ]) {
      await tasksRepo.open(db.pool, t);
    }
    const first = await tasksRepo.oldestWaitingForAssignment(db.pool, Q, 2);
    expect(first.map((t) => t.workflowId)).toEqual(['device-A-000401', 'device-A-000402']);
    const rest = await tasksRepo.oldestWaitingForAssignment(db.pool, Q, 2, {
      createdAt: first[1]!.createdAt,
      workflowId: first[1]!.workflowId,
    });
    expect(rest.map((t) => t.workflowId)).toEqual(['device-A-000403']);
  });
});

describe("the rebuild's conditional writes", () => {
  it('restores an older or missing task, brings a count up to date, and keeps what live bookkeeping wrote since', async () => {
    const startedAt = await tasksRepo.clockNow(db.pool);
    const missing = task();
    expect(await tasksRepo.restore(db.pool, missing, startedAt)).toBe('inserted');
    expect(await tasksRepo.restore(db.pool, missing, startedAt)).toBe('kept');
    expect(await tasksRepo.restore(db.pool, { ...missing, remindersSent: 2 }, startedAt)).toBe('replaced');
    expect(await tasksRepo.restore(db.pool, { ...missing, remindersSent: 1 }, startedAt)).toBe('kept');
    expect(await tasksRepo.restore(db.pool, { ...missing, occurrence: 1 }, startedAt)).toBe('kept');
    expect(await tasksRepo.get(db.pool, missing.workflowId)).toMatchObject({ occurrence: 2, remindersSent: 2 });

    // A row of another run written after the rebuild began is the live bookkeeping's: kept.
    const live = task({ runId: 'run-new' });
    await tasksRepo.open(db.pool, live);
    expect(await tasksRepo.restore(db.pool, { ...live, runId: 'run-old', occurrence: 9 }, startedAt)).toBe('kept');
    // One written before it began belongs to a run that no longer runs: replaced.
    const later = await clockAfterWrites(db.pool);
    expect(await tasksRepo.restore(db.pool, { ...live, runId: 'run-current' }, later)).toBe('replaced');
  });

  it('settles a workflow without a task, and removes a stale row only in the version it read', async () => {
    const t = task({ occurrence: 4 });
    await tasksRepo.open(db.pool, t);
    const startedAt = await tasksRepo.clockNow(db.pool);
    expect(await tasksRepo.settleWithoutTask(db.pool, ref(t), 3, startedAt)).toBe(0);
    expect(await tasksRepo.settleWithoutTask(db.pool, ref(t), 4, startedAt)).toBe(1);

    const other = task({ runId: 'run-old', occurrence: 8 });
    await tasksRepo.open(db.pool, other);
    const after = await clockAfterWrites(db.pool);
    expect(await tasksRepo.settleWithoutTask(db.pool, { ...ref(other), runId: 'run-now' }, 1, startedAt)).toBe(0);
    expect(await tasksRepo.settleWithoutTask(db.pool, { ...ref(other), runId: 'run-now' }, 1, after)).toBe(1);

    const stale = task({ occurrence: 6 });
    await tasksRepo.open(db.pool, stale);
    const read = { workflowId: stale.workflowId, runId: stale.runId, occurrence: 6 };
    expect(await tasksRepo.removeStale(db.pool, read, startedAt)).toBe(0); // written after that start
    const now = await tasksRepo.clockNow(db.pool);
    expect(await tasksRepo.removeStale(db.pool, { ...read, occurrence: 5 }, now)).toBe(0);
    expect(await tasksRepo.removeStale(db.pool, read, now)).toBe(1);
    expect(await tasksRepo.versionsOf(db.pool, 'queue-a')).not.toContainEqual(read);
  });
});

describe('the activities that keep the index', () => {
  const sent: string[] = [];
  const mail: Mailer = {
    send: (msg) => {
      sent.push(msg.idempotencyKey ?? '');
      return Promise.resolve({ messageId: `<${msg.idempotencyKey}@test>` });
    },
  };
  const acts = () =>
    createActivities({ db: db.pool, mdm: {} as MdmPort, mail, adminEmails: ['it-admins@example.com'] });
  const assetNumber = 'A-000777';
  const ctx = (t: OpenTask, purpose: string): StepContext => ({
    assetNumber: t.assetNumber,
    workflowId: t.workflowId,
    runId: t.runId,
    step: t.step,
    actor: { id: 'field@example.com', role: 'field-staff' },
    idempotencyKey: `${t.workflowId}:${t.runId}:${t.occurrence}:${t.step}:${purpose}`,
  });

  beforeAll(async () => {
    await assetsRepo.upsert(db.pool, {
      assetNumber,
      serialNumber: 'SN-TASKS-777',
      model: 'iPhone 15',
      department: 'Sales',
      location: 'Tokyo HQ',
    });
  });

  it('write each row once however often they are retried, the audit event in the same transaction', async () => {
    const a = acts();
    const collect = task({ assetNumber, occurrence: 2 });
    await a.openTask(collect);
    await a.openTask(collect); // retried
    expect(await tasksRepo.get(db.pool, collect.workflowId)).toEqual(collect);

    // A reminder: one mail, the count on the row, however often retried.
    const count = { occurrence: 2, remindersSent: 1, escalated: false };
    const notice = { to: ['hanako@example.com'], subject: 'Reminder', text: 'Please collect.' };
    await a.sendNotice(ctx(collect, 'reminder-1'), 'reminder', notice, count);
    await a.sendNotice(ctx(collect, 'reminder-1'), 'reminder', notice, count);
    expect(sent.filter((k) => k.endsWith('reminder-1'))).toHaveLength(1);
    expect(await tasksRepo.get(db.pool, collect.workflowId)).toMatchObject({ remindersSent: 1 });

    // The report taken: event and close together; a retry writes neither again.
    const taken = ctx(collect, 'report');
    await a.recordEvent(taken, 'device-collected', { collectedBy: 'Bob' }, { closeThrough: 2 });
    await a.recordEvent(taken, 'device-collected', { collectedBy: 'Bob' }, { closeThrough: 2 });
    expect(await tasksRepo.get(db.pool, collect.workflowId)).toBeNull();

    // Needs attention: the event and the admin's decision task together, then a retry closes it.
    const decision = task({
      ...collect,
      occurrence: 4,
      type: 'admin-decision',
      step: 'needs-attention',
      expects: [],
      contact: null,
      escalateAt: null,
      failedStep: 'wiping',
      lastError: 'requestWipe: MDM refused',
    });
    const parked = ctx(decision, 'step');
    await a.recordEvent(parked, 'needs-attention', { failedStep: 'wiping' }, { open: decision });
    await a.recordEvent(parked, 'needs-attention', { failedStep: 'wiping' }, { open: decision });
    expect(await tasksRepo.get(db.pool, collect.workflowId)).toEqual(decision);
    // A late retry of the collection's close does not close the newer decision.
    await a.recordEvent(taken, 'device-collected', { collectedBy: 'Bob' }, { closeThrough: 2 });
    expect(await tasksRepo.get(db.pool, collect.workflowId)).toEqual(decision);
    await a.recordEvent(ctx(decision, 'retry'), 'retry', { failedStep: 'wiping' }, { closeThrough: 4 });
    expect(await tasksRepo.get(db.pool, collect.workflowId)).toBeNull();

    const events = await eventsRepo.listForWorkflow(db.pool, collect.workflowId);
    expect(events.map((e) => e.eventType)).toEqual(['notice-sent', 'device-collected', 'needs-attention', 'retry']);
  });

  it('leave the index alone when an audit event cannot be written (one transaction)', async () => {
    const a = acts();
    const t = task({ assetNumber: 'A-999999', occurrence: 3 }); // no such asset: the event is refused
    await expect(a.recordEvent(ctx(t, 'step'), 'needs-attention', {}, { open: t })).rejects.toThrow(/A-999999/);
    expect(await tasksRepo.get(db.pool, t.workflowId)).toBeNull();
  });
});

/**
 * A database time strictly later than every write made so far: times are kept to the millisecond, so a
 * reading taken in the same millisecond as a write would not count as "after" it (seen once in CI).
 */
async function clockAfterWrites(pool: Parameters<typeof tasksRepo.clockNow>[0]): Promise<Date> {
  const last = await tasksRepo.clockNow(pool);
  for (;;) {
    const now = await tasksRepo.clockNow(pool);
    if (now.getTime() > last.getTime()) return now;
    await new Promise((r) => setTimeout(r, 2));
  }
}
