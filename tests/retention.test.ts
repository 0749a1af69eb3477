/**
 * Retention (issue 12 item 8) on real PostgreSQL and the real Temporal dev server: the erasure activity run
 * with an explicit retention clock (`now`), then the daily Schedule created as the API creates it, triggered,
 * and its workflow run by the lifecycle worker (the real activities).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetentionActivities } from '../activities/retention';
import { ensureRetentionSchedule, retentionScheduleId } from '../temporal/retentionSchedule';
import { PATIENCE_MS } from './support/patience';
import { useHarness } from './support/suite';

const h = useHarness();
const DAY = 86_400_000;

/** A delivered change-user process: assignment, receipt with signature, notice, and its stored signature. */
async function seedClosedProcess(db: pg.Pool, assetNumber: string, workflowId: string, at: Date): Promise<void> {
  await db.query(
    `INSERT INTO assets (asset_number, serial_number, model, department, location, user_name, user_email)
     VALUES ($1, $2, 'iPhone', 'Sales', 'HQ', 'Jane Current', 'jane.current@example.com') ON CONFLICT DO NOTHING`,
    [assetNumber, `SN-${assetNumber}`],
  );
  const event = (type: string, details: unknown, changes: unknown = null, actor = 'field@example.com') =>
    db.query(
      `INSERT INTO asset_events (asset_number, event_type, actor, actor_role, workflow_id, run_id, step,
                                 occurred_at, details, changes, idempotency_key)
       VALUES ($1, $2, $3, 'field-staff', $4, 'run-1', 'delivering', $5, $6, $7, $8)`,
      [assetNumber, type, actor, workflowId, at, details, changes, `${workflowId}:${type}`],
    );
  await event(
    'user-assigned',
    { user: { name: 'Pat Past', email: 'pat.past@example.com', phone: '+81 90 1234 5678', department: 'Sales' } },
    { userName: { from: 'Old', to: 'Pat Past' }, status: { from: 'in_stock', to: 'in_use' } },
    'it-admin@example.com',
  );
  await event('delivery-receipt', {
    receipt: {
      receivedBy: 'Pat Past',
      signature: 'receipt:abc:sha256:00ff',
      deliveredAt: at.toISOString(),
      note: 'at desk 4',
    },
  });
  await event('notice-sent', {
    kind: 'delivery-notice',
    to: ['pat.past@example.com'],
    subject: 'For Pat',
    messageId: '<m1>',
  });
  await db.query(
    `INSERT INTO signatures (id, workflow_id, asset_number, request_key, kind, content, sha256, stored_by, stored_by_role, created_at)
     VALUES ($1, $2, $3, 'k1', 'text', 'Pat Past', repeat('0', 64), 'field@example.com', 'field-staff', $4)`,
    [randomUUID(), workflowId, assetNumber, at],
  );
}

describe('erasePersonalData with the retention clock', () => {
  it('erases closed processes older than RETENTION_DAYS, keeps their facts, and leaves open and recent ones', async () => {
    const db = h.db.pool;
    const now = new Date('2025-06-01T00:00:00Z');
    const old = new Date(now.getTime() - 400 * DAY);
    await seedClosedProcess(db, 'A-100001', 'wf-closed', old);
    // A process that started as long ago but wrote an event last week is not closed: nothing of it goes.
    await seedClosedProcess(db, 'A-100002', 'wf-open', old);
    await db.query(
      `INSERT INTO asset_events (asset_number, event_type, actor, workflow_id, occurred_at, details, idempotency_key)
       VALUES ('A-100002', 'reminder-sent', 'system', 'wf-open', $1, '{}', 'wf-open:recent')`,
      [new Date(now.getTime() - 7 * DAY)],
    );
    // A recent closed process (within the period) stays too.
    await seedClosedProcess(db, 'A-100003', 'wf-recent', new Date(now.getTime() - 30 * DAY));
    const app = (state: string, updatedAt: Date) =>
      db.query<{ id: string }>(
        `INSERT INTO applications (department, delivery_location, user_name, user_email, user_phone, note, state, created_by, updated_at)
         VALUES ('Sales', 'HQ', 'Ann Applicant', 'ann@example.com', '+81 3 0000', 'needs a case', $1, 'admin@example.com', $2)
         RETURNING id`,
        [state, updatedAt],
      );
    const cancelledOld = (await app('cancelled', old)).rows[0]!.id;
    const pendingOld = (await app('pending', old)).rows[0]!.id;
    const before = await db.query('SELECT * FROM asset_events ORDER BY id');

    const retention = createRetentionActivities({ db, retentionDays: 365, batchSize: 2 });
    const result = await retention.erasePersonalData({ now: now.toISOString() });
    expect(result).toEqual({
      cutoff: new Date(now.getTime() - 365 * DAY).toISOString(),
      auditEvents: 3,
      signatures: 1,
      applications: 1,
    });

    const after = await db.query('SELECT * FROM asset_events ORDER BY id');
    const facts = (r: Record<string, unknown>) => ({
      ...r,
      details: undefined,
      changes: undefined,
      erased_at: undefined,
    });
    expect(after.rows.map(facts)).toEqual(before.rows.map(facts));
    const closed = after.rows.filter((r) => r.workflow_id === 'wf-closed');
    expect(closed.map((r) => [r.event_type, r.actor, r.actor_role, r.details, r.changes])).toEqual([
      [
        'user-assigned',
        'it-admin@example.com',
        'field-staff',
        { user: '[erased]' },
        { userName: '[erased]', status: { from: 'in_stock', to: 'in_use' } },
      ],
      [
        'delivery-receipt',
        'field@example.com',
        'field-staff',
        {
          receipt: { receivedBy: '[erased]', signature: '[erased]', deliveredAt: old.toISOString(), note: '[erased]' },
        },
        null,
      ],
      [
        'notice-sent',
        'field@example.com',
        'field-staff',
        { kind: 'delivery-notice', to: '[erased]', subject: '[erased]', messageId: '<m1>' },
        null,
      ],
    ]);
    expect(closed.every((r) => r.erased_at instanceof Date)).toBe(true);
    expect(JSON.stringify(closed)).not.toMatch(/Pat|pat\.past|1234|desk/);
    for (const kept of after.rows.filter((r) => r.workflow_id !== 'wf-closed')) {
      expect(kept.erased_at, `${kept.workflow_id} ${kept.event_type}`).toBeNull();
    }
    const signatures = await db.query('SELECT workflow_id FROM signatures ORDER BY workflow_id');
    expect(signatures.rows.map((r) => r.workflow_id)).toEqual(['wf-open', 'wf-recent']);
    const apps = await db.query('SELECT id, user_name, user_email, user_phone, note, erased_at FROM applications');
    const byId = new Map(apps.rows.map((r) => [r.id, r]));
    expect(byId.get(cancelledOld)).toMatchObject({
      user_name: '[erased]',
      user_email: 'erased@erased.invalid',
      user_phone: null,
      note: null,
    });
    expect(byId.get(pendingOld)).toMatchObject({ user_name: 'Ann Applicant', erased_at: null });
    // The asset's current user is not a closed process: untouched.
    const asset = await db.query("SELECT user_name FROM assets WHERE asset_number = 'A-100001'");
    expect(asset.rows[0].user_name).toBe('Jane Current');

    // Idempotent: a second run (a retried activity, tomorrow's run) finds nothing left to erase.
    expect(await retention.erasePersonalData({ now: now.toISOString() })).toMatchObject({
      auditEvents: 0,
      signatures: 0,
      applications: 0,
    });
  });

  it('refuses a malformed clock, naming the field', async () => {
    const retention = createRetentionActivities({ db: h.db.pool, retentionDays: 365 });
    await expect(retention.erasePersonalData({ now: 'yesterday' })).rejects.toThrow(/now: "yesterday"/);
  });
});

describe('the retention Schedule on the Temporal dev server', () => {
  afterAll(async () => {
    await h.client.schedule
      .getHandle(retentionScheduleId(h.taskQueue))
      .delete()
      .catch(() => undefined);
  });

  it('is created once (idempotent), daily, and its run erases with the worker real activities', async () => {
    expect(await ensureRetentionSchedule(h.client, { taskQueue: h.taskQueue })).toBe('created');
    expect(await ensureRetentionSchedule(h.client, { taskQueue: h.taskQueue })).toBe('exists');
    const handle = h.client.schedule.getHandle(retentionScheduleId(h.taskQueue));
    const description = await handle.describe();
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'retentionErasure' });
    expect(description.action.taskQueue).toBe(h.taskQueue);
    expect(description.spec.calendars).toEqual([
      expect.objectContaining({ hour: [{ start: 3, end: 3, step: 1 }], minute: [{ start: 17, end: 17, step: 1 }] }),
    ]);

    // Personal data of a process closed two years before the real clock: the scheduled run erases it.
    const twoYearsAgo = new Date(Date.now() - 730 * DAY);
    await seedClosedProcess(h.db.pool, 'A-200001', `wf-sched-${h.taskQueue}`, twoYearsAgo);
    await handle.trigger();
    let workflowId: string | undefined;
    await expect
      .poll(
        async () => {
          const action = (await handle.describe()).info.recentActions[0];
          workflowId = action?.action.workflow.workflowId;
          return workflowId;
        },
        { timeout: PATIENCE_MS },
      )
      .toBeTruthy();
    const result = await h.client.workflow.getHandle(workflowId!).result();
    // (the first test's rows are older than a year by the real clock too, so they may be counted as well)
    expect((result as { signatures: number }).signatures).toBeGreaterThanOrEqual(1);
    expect((result as { auditEvents: number }).auditEvents).toBeGreaterThanOrEqual(3);
    const signatures = await h.db.pool.query("SELECT 1 FROM signatures WHERE asset_number = 'A-200001'");
    expect(signatures.rowCount).toBe(0);
    const { rows } = await h.db.pool.query(
      "SELECT count(*)::int AS n FROM asset_events WHERE asset_number = 'A-200001' AND erased_at IS NOT NULL",
    );
    expect(rows[0].n).toBe(3);
  });
});
