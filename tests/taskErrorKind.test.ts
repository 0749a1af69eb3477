/**
 * The failure kind of an admin decision in the task index (migration 0007, db/tasksRepo.ts): written when
 * the workflow gives one and read back, absent otherwise; the bulk-recovery query (listAdminDecisions)
 * filters on each field, returns rows without a kind along with the wanted kind, and pages in workflow id
 * order. And the fallback that reads a kind from the error text of rows parked by older code
 * (api/errorKindFallback.ts), on the wordings the activities and workflows really write.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenTask } from '../activities/contracts';
import { asActivityFailure } from '../activities/failures';
import { errorKindFromText, errorKindOf } from '../api/errorKindFallback';
import * as tasksRepo from '../db/tasksRepo';
import { MdmRejectedError, MdmUnavailableError } from '../mdm/errors';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const QUEUE = `kinds-${randomUUID().slice(0, 8)}`;
const wf = (n: number) => `device-A-${String(700_000 + n)}`;

function decision(n: number, extra: Partial<OpenTask> = {}): OpenTask {
  const at = new Date(Date.UTC(2030, 0, 1, 0, n)).toISOString();
  return {
    workflowId: wf(n),
    runId: `run-${n}`,
    taskQueue: QUEUE,
    occurrence: 4,
    process: 'change-user',
    type: 'admin-decision',
    step: 'needs-attention',
    expects: [],
    assetNumber: `A-${String(700_000 + n)}`,
    department: 'Sales',
    location: 'Osaka',
    contact: null,
    dueAt: at,
    escalateAt: null,
    createdAt: at,
    remindersSent: 0,
    escalated: false,
    failedStep: 'wiping',
    lastError: 'requestWipe: MDM refused: MDM rejected the request (HTTP 403): not allowed',
    ...extra,
  };
}

/** The message a failed activity leaves in lastError (workflows/lifecycle.ts describeFailure). */
const activityText = (activity: string, err: unknown) => `${activity}: ${(asActivityFailure(err) as Error).message}`;

describe('errorKindFromText: the fallback for rows without a recorded kind', () => {
  it('reads the wordings the activities and workflows write', () => {
    const cases: [string, string][] = [
      [activityText('requestWipe', new MdmRejectedError(403, 'forbidden', 'not allowed')), 'mdm-refused'],
      [activityText('requestInactivation', new MdmRejectedError(409, 'command_pending', 'job open')), 'mdm-refused'],
      [activityText('requestWipe', new MdmUnavailableError('MDM unavailable (HTTP 503): down')), 'mdm-outage'],
      ['getMdmJobState: MDM unreachable: connect ECONNREFUSED 127.0.0.1:4010', 'mdm-outage'],
      ['MDM wipe failed: device offline', 'mdm-job-failed'],
      ['the MDM inactivation job failed: profile locked; retry requests the inactivation again', 'mdm-job-failed'],
      ['the inactivation job did not finish within 30 minutes; retry requests it again', 'mdm-job-timeout'],
      ['the inactivation job succeeded but the device status is active, not inactive', 'device-mismatch'],
      ['profile removal failed 3 times (limit 3); retry allows one more attempt', 'attempt-limit'],
      ['the task opened again 5 times (limit 5); last: not enrolled. Retry opens it once more', 'attempt-limit'],
      ['sendNotice: 550 mailbox unavailable', 'mail'],
      ['recordEvent: connect ECONNREFUSED 127.0.0.1:5433', 'database'],
      ['loadAsset: asset A-000123 not found', 'database'],
      ['assignUser: terminating connection due to administrator command', 'database'],
      ['returnToStock: duplicate key value violates unique constraint "assets_pkey"', 'database'],
      ['something nobody foresaw', 'other'],
      ['', 'other'],
    ];
    for (const [text, kind] of cases) expect(errorKindFromText(text), text).toBe(kind);
    expect(errorKindFromText(undefined)).toBe('other');
  });

  it('is a fallback only: a recorded kind wins, even one newer than this code', () => {
    const refused = 'requestWipe: MDM refused: MDM rejected the request (HTTP 403): no';
    expect(errorKindOf({ lastError: refused })).toBe('mdm-refused');
    expect(errorKindOf({ lastError: refused, errorKind: 'device-mismatch' })).toBe('device-mismatch');
    expect(errorKindOf({ lastError: refused, errorKind: 'kind-of-tomorrow' })).toBe('kind-of-tomorrow');
  });
});

describe('the error kind in the task index', () => {
  it('is written when the workflow gives one, read back, and absent when it gives none', async () => {
    await tasksRepo.open(db.pool, decision(1, { errorKind: 'mdm-refused' }));
    await tasksRepo.open(db.pool, decision(2));
    expect(await tasksRepo.get(db.pool, wf(1))).toMatchObject({ errorKind: 'mdm-refused', failedStep: 'wiping' });
    const old = await tasksRepo.get(db.pool, wf(2));
    expect(old).not.toHaveProperty('errorKind');
    expect(old).toEqual(decision(2));
    // A newer occurrence replaces the kind with its own, or with none.
    await tasksRepo.open(db.pool, decision(1, { occurrence: 6, errorKind: 'database', lastError: 'x' }));
    expect((await tasksRepo.get(db.pool, wf(1)))?.errorKind).toBe('database');
    await tasksRepo.open(db.pool, decision(1, { occurrence: 8 }));
    expect(await tasksRepo.get(db.pool, wf(1))).not.toHaveProperty('errorKind');
  });

  it('listAdminDecisions: every field narrows, rows without a kind come with the wanted kind, in id order', async () => {
    const queue = `${QUEUE}-list`;
    const rows = [
      decision(11, { taskQueue: queue, errorKind: 'mdm-refused' }),
      decision(12, { taskQueue: queue, errorKind: 'database', department: 'IT' }),
      decision(13, { taskQueue: queue, failedStep: 'requesting-inactivation', process: 'inactivation' }),
      decision(14, { taskQueue: queue, location: 'Kobe', errorKind: 'mdm-job-failed' }),
      // Not an admin decision, and another deployment's: never listed.
      decision(15, { taskQueue: queue, type: 'collect-device', step: 'awaiting-collection', expects: ['x'] }),
      decision(16, { taskQueue: `${queue}-other` }),
    ];
    // Written out of order: the answer is in workflow id order all the same.
    for (const t of [...rows].reverse()) await tasksRepo.open(db.pool, t);
    const ids = async (filter: tasksRepo.AdminDecisionFilter, after?: string, limit = 100) =>
      (await tasksRepo.listAdminDecisions(db.pool, { taskQueue: queue, filter, after, limit })).items.map(
        (t) => t.workflowId,
      );
    expect(await ids({})).toEqual([wf(11), wf(12), wf(13), wf(14)]);
    expect(await ids({ failedStep: 'wiping' })).toEqual([wf(11), wf(12), wf(14)]);
    expect(await ids({ errorKindOrUnknown: 'mdm-refused' })).toEqual([wf(11), wf(13)]);
    expect(await ids({ errorKindOrUnknown: 'database' })).toEqual([wf(12), wf(13)]);
    expect(await ids({ process: 'inactivation' })).toEqual([wf(13)]);
    expect(await ids({ department: 'IT' })).toEqual([wf(12)]);
    expect(await ids({ location: 'Kobe' })).toEqual([wf(14)]);
    expect(await ids({ assetNumbers: ['A-700011', 'A-700014', 'A-700015'] })).toEqual([wf(11), wf(14)]);
    expect(await ids({ failedStep: 'wiping', department: 'Sales' })).toEqual([wf(11), wf(14)]);
    // Paging: after an id, and `more` when rows follow.
    expect(await ids({}, wf(12))).toEqual([wf(13), wf(14)]);
    const first = await tasksRepo.listAdminDecisions(db.pool, { taskQueue: queue, filter: {}, limit: 3 });
    expect(first.items.map((t) => t.workflowId)).toEqual([wf(11), wf(12), wf(13)]);
    expect(first.more).toBe(true);
    const rest = await tasksRepo.listAdminDecisions(db.pool, { taskQueue: queue, filter: {}, after: wf(13), limit: 3 });
    expect(rest.more).toBe(false);
  });

  it('the query uses the partial index of admin decisions', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const plan = await client.query(
        `EXPLAIN SELECT * FROM open_tasks WHERE task_queue = $1 AND task_type = 'admin-decision'
          ORDER BY workflow_id LIMIT 10`,
        [QUEUE],
      );
      expect(plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toContain(
        'open_tasks_admin_decisions_idx',
      );
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
